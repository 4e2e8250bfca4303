/** Put Blob and block uploads: Content-MD5 on the wire, bounded memory, failures, conditions, races. */
import { createHash, randomBytes } from "node:crypto";
import { expectFerryError, listEntries, md5Hex, streamed } from "@ferry/conformance";
import { FerryError } from "@ferry/plugin-kit";
import { type AzuriteBackend, printLogsOnFailure } from "@ferry/test-harness";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { containerStorage, startAzurite } from "../fixture.ts";
import { comp, recordingService } from "../traffic.ts";

let server: AzuriteBackend;
beforeAll(async () => {
  server = await startAzurite();
});
afterAll(() => server?.stop());
afterEach((context) => printLogsOnFailure(context, server));

describe("uploads", () => {
  it("stores a small body in one Put Blob with Content-MD5 and a content type from the name", async () => {
    const { service, traffic } = recordingService(server);
    const storage = await containerStorage(server, { serviceClient: service });
    const entry = await storage.write("docs/readme.md", "# hello");
    expect(entry.md5).toBe(md5Hex(Buffer.from("# hello")));
    expect(await storage.stat("docs/readme.md")).toMatchObject({
      size: 7,
      md5: entry.md5,
      contentType: "text/markdown",
    });
    expect(await storage.checksum("docs/readme.md", "md5")).toBe(entry.md5);
    const put = traffic.find((exchange) => exchange.method === "PUT" && comp(exchange) === "");
    expect(put?.headers["content-md5"]).toBe(createHash("md5").update("# hello").digest("base64"));
  });

  it("stages blocks of the given size, each with Content-MD5, and commits the whole MD5", async () => {
    const { service, traffic } = recordingService(server);
    const storage = await containerStorage(server, {
      serviceClient: service,
      blockSize: 8 * 1024,
      concurrency: 3,
    });
    const body = randomBytes(50 * 1024 + 5);
    const entry = await storage.write("big/blocks.bin", streamed(body, 3000));
    expect(entry).toMatchObject({ size: body.byteLength, md5: md5Hex(body) });
    const blocks = traffic.filter((exchange) => comp(exchange) === "block");
    expect(blocks).toHaveLength(7);
    expect(
      blocks.every(
        (block) => block.bodyBytes <= 8 * 1024 && typeof block.headers["content-md5"] === "string",
      ),
    ).toBe(true);
    expect(traffic.filter((exchange) => comp(exchange) === "blocklist")).toHaveLength(1);
    expect((await storage.stat("big/blocks.bin")).md5).toBe(md5Hex(body));
    expect(Buffer.from(await storage.readBytes("big/blocks.bin"))).toEqual(body);
  });

  it("keeps a declared MD5 as the blob's, in one Put Blob or in blocks, and rejects a wrong one", async () => {
    const { service, traffic } = recordingService(server);
    const storage = await containerStorage(server, { serviceClient: service, blockSize: 8 * 1024 });
    const body = randomBytes(20_000);
    const entry = await storage.write("declared/blocks.bin", streamed(body, 1000), { md5: md5Hex(body) });
    expect(entry.md5).toBe(md5Hex(body));
    expect((await storage.stat("declared/blocks.bin")).md5).toBe(md5Hex(body));
    const small = randomBytes(1000);
    const put = await storage.write("declared/small.bin", small, { md5: md5Hex(small).toUpperCase() });
    expect(put.md5).toBe(md5Hex(small));
    const sent = traffic.filter((exchange) => exchange.method === "PUT" && comp(exchange) === "").at(-1);
    expect(sent?.headers["content-md5"]).toBe(createHash("md5").update(small).digest("base64"));
    await expectFerryError(storage.write("declared/wrong.bin", small, { md5: "0".repeat(32) }), "Integrity");
    await expectFerryError(
      storage.write("declared/wrong-blocks.bin", streamed(body, 1000), { md5: "0".repeat(32) }),
      "Integrity",
    );
    expect(await storage.exists("declared/wrong.bin")).toBe(false);
    expect(await storage.exists("declared/wrong-blocks.bin")).toBe(false);
  });

  it("holds at most (concurrency + 1) blocks of the source in memory", async () => {
    const { service, traffic } = recordingService(server);
    const blockSize = 4096;
    const concurrency = 2;
    const storage = await containerStorage(server, { serviceClient: service, blockSize, concurrency });
    let pulled = 0;
    let peakAhead = 0;
    const staged = () =>
      traffic.filter((exchange) => comp(exchange) === "block" && exchange.status === 201).length * blockSize;
    const source = (async function* () {
      for (let index = 0; index < 64; index++) {
        peakAhead = Math.max(peakAhead, pulled - staged());
        pulled += 1024;
        yield randomBytes(1024);
      }
    })();
    await storage.write("bounded.bin", source);
    expect(traffic.filter((exchange) => comp(exchange) === "block")).toHaveLength(16);
    expect(peakAhead).toBeLessThanOrEqual((concurrency + 1) * blockSize);
    expect(peakAhead).toBeGreaterThanOrEqual(concurrency * blockSize - 1024);
  });

  it("streams a body of unknown size: one Put Blob when it fits, blocks when it does not", async () => {
    const { service, traffic } = recordingService(server);
    const storage = await containerStorage(server, { serviceClient: service, blockSize: 4096 });
    await storage.write("stream/small.bin", streamed(randomBytes(4000), 1000));
    expect(traffic.filter((exchange) => exchange.method === "PUT").map(comp)).toEqual([""]);
    const large = randomBytes(4096 * 3 + 1);
    await storage.write("stream/large.bin", streamed(large, 1000));
    expect(traffic.filter((exchange) => comp(exchange) === "block")).toHaveLength(4);
    expect(Buffer.from(await storage.readBytes("stream/large.bin"))).toEqual(large);
  });

  it("the service rejects a body corrupted after its MD5 was computed, and nothing is stored", async () => {
    const flip = (request: {
      method: string;
      body?: unknown;
      headers: { get(name: string): string | undefined };
    }) => {
      if (
        request.method === "PUT" &&
        request.headers.get("content-md5") &&
        request.body instanceof Uint8Array &&
        request.body.byteLength > 0
      ) {
        const corrupted = Uint8Array.from(request.body);
        corrupted[0] = (corrupted[0]! + 1) % 256;
        request.body = corrupted;
      }
    };
    const { service } = recordingService(server, { tamper: flip, maxTries: 1 });
    const storage = await containerStorage(server, { serviceClient: service, blockSize: 4096 });
    await expectFerryError(storage.write("corrupt/single.bin", randomBytes(1000)), "Integrity");
    await expectFerryError(
      storage.write("corrupt/blocks.bin", streamed(randomBytes(10_000), 1000)),
      "Integrity",
    );
    const clean = await containerStorage(server, {}, storage.root.slice(5));
    expect(await listEntries(clean, "corrupt", { recursive: true })).toEqual([]);
  });

  it("a failed upload commits nothing (its staged blocks wait for the service to discard them)", async () => {
    const { service, traffic } = recordingService(server);
    const storage = await containerStorage(server, {
      serviceClient: service,
      blockSize: 4096,
      concurrency: 2,
    });
    await expect(storage.write("broken.bin", streamed(randomBytes(40_000), 1000, 20_000))).rejects.toThrow(
      /source broke/,
    );
    expect(await storage.exists("broken.bin")).toBe(false);
    expect(traffic.some((exchange) => comp(exchange) === "blocklist")).toBe(false);
    expect(traffic.filter((exchange) => comp(exchange) === "block").length).toBeGreaterThan(0);
    const controller = new AbortController();
    const source = (async function* () {
      yield* streamed(randomBytes(10_000), 1000);
      controller.abort();
      yield* streamed(randomBytes(10_000), 1000);
    })();
    await expectFerryError(storage.write("aborted.bin", source, { signal: controller.signal }), "Aborted");
    expect(await storage.exists("aborted.bin")).toBe(false);
  });

  it("concurrent writes to one name: each succeeds or fails as Transient, and one whole version remains", async () => {
    const storage = await containerStorage(server, { blockSize: 4096 });
    for (let round = 0; round < 3; round++) {
      const versions = Array.from({ length: 4 }, (_, index) =>
        new Uint8Array(4096 * (index + 1) + 7).fill(0x41 + index),
      );
      const outcomes = await Promise.allSettled(
        versions.map((data) => storage.write("contested.bin", streamed(data, 1000))),
      );
      for (const outcome of outcomes) {
        if (outcome.status === "rejected") {
          expect(FerryError.isInstance(outcome.reason, "Transient"), String(outcome.reason)).toBe(true);
          expect((outcome.reason as FerryError).message).toMatch(/committed first/);
        }
      }
      const final = await storage.readBytes("contested.bin");
      const winner = versions.findIndex((data) => data[0] === final[0]);
      expect(outcomes[winner]?.status).toBe("fulfilled");
      expect(md5Hex(final)).toBe(md5Hex(versions[winner]!));
    }
  });

  it("creates only when nothing exists with ifNoneMatch, for single and block uploads", async () => {
    const storage = await containerStorage(server, { blockSize: 4096 });
    await storage.write("once.txt", "first", { ifNoneMatch: "*" });
    await expectFerryError(storage.write("once.txt", "second", { ifNoneMatch: "*" }), "ConditionNotMet");
    await expectFerryError(
      storage.write("once.txt", streamed(randomBytes(10_000), 1000), { ifNoneMatch: "*" }),
      "ConditionNotMet",
    );
    expect(new TextDecoder().decode(await storage.readBytes("once.txt"))).toBe("first");
  });
});
