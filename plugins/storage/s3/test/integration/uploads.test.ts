/** Single-part and multipart uploads, and server-side copies, with the client's traffic recorded. */
import { createHash, randomBytes } from "node:crypto";
import { appendFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expectFerryError, listEntries, md5Hex, streamed } from "@ferry/conformance";
import { copy, local, PluginRegistry } from "@ferry/core";
import { FerryError } from "@ferry/plugin-kit";
import { printLogsOnFailure, type S3Backend } from "@ferry/test-harness";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createClient, loadSdk } from "../../src/client.ts";
import { s3 } from "../../src/index.ts";
import { clientConfig } from "../../src/options.ts";
import { bucketStorage, S3RVER_GAPS, s3rverOptions, startS3rver } from "../fixture.ts";
import { recordingClient, recordTraffic } from "../traffic.ts";

let server: S3Backend;
beforeAll(async () => {
  server = await startS3rver();
});
afterAll(() => server?.stop());
afterEach((context) => printLogsOnFailure(context, server));

describe("multipart uploads", () => {
  it("uploads in parts of the given size, each with Content-MD5, and records the whole MD5", async () => {
    const { client, traffic } = recordingClient(server);
    const storage = await bucketStorage(server, { client, partSize: 8 * 1024, concurrency: 3 });
    const body = randomBytes(50 * 1024 + 17);
    const entry = await storage.write("big/multipart.bin", streamed(body, 3000));
    expect(entry).toMatchObject({ size: body.byteLength, md5: md5Hex(body) });
    const parts = traffic.filter((exchange) => exchange.command === "UploadPart");
    expect(parts).toHaveLength(7);
    expect(
      parts.every((part) => part.requestBytes <= 8 * 1024 && typeof part.headers["content-md5"] === "string"),
    ).toBe(true);
    expect(traffic.some((exchange) => exchange.command === "PutObject")).toBe(false);
    // The MD5 is recorded in metadata (rclone's x-amz-meta-md5chksum) by a server-side self-copy.
    expect(traffic.filter((exchange) => exchange.command === "CopyObject")).toHaveLength(1);
    const head = await client.send(
      new (await import("@aws-sdk/client-s3")).HeadObjectCommand({
        Bucket: storage.root.slice(5),
        Key: "big/multipart.bin",
      }),
    );
    expect(Buffer.from(head.Metadata?.md5chksum ?? "", "base64").toString("hex")).toBe(md5Hex(body));
    expect((await storage.stat("big/multipart.bin")).md5).toBe(md5Hex(body));
    expect(Buffer.from(await storage.readBytes("big/multipart.bin"))).toEqual(body);
  });

  it("holds at most (concurrency + 1) parts of the source in memory", async () => {
    const { client, traffic } = recordingClient(server);
    const partSize = 4096;
    const concurrency = 2;
    const storage = await bucketStorage(server, { client, partSize, concurrency });
    let pulled = 0;
    let peakAhead = 0;
    const uploaded = () =>
      traffic.filter((exchange) => exchange.command === "UploadPart" && exchange.status === 200).length *
      partSize;
    const source = (async function* () {
      for (let index = 0; index < 64; index++) {
        peakAhead = Math.max(peakAhead, pulled - uploaded());
        pulled += 1024;
        yield randomBytes(1024);
      }
    })();
    await storage.write("bounded.bin", source);
    expect(traffic.filter((exchange) => exchange.command === "UploadPart")).toHaveLength(16);
    // One part being filled plus `concurrency` parts in flight; the source is never read further ahead.
    expect(peakAhead).toBeLessThanOrEqual((concurrency + 1) * partSize);
    expect(peakAhead).toBeGreaterThanOrEqual(concurrency * partSize - 1024);
  });

  it("sends Content-MD5 with single-part bodies", async () => {
    const { client, traffic } = recordingClient(server);
    const storage = await bucketStorage(server, { client });
    await storage.write("single.txt", "abc");
    const put = traffic.find((exchange) => exchange.command === "PutObject");
    expect(put?.headers["content-md5"]).toBe(createHash("md5").update("abc").digest("base64"));
  });

  it("streams a body of unknown size: one part when it fits, multipart when it does not", async () => {
    const { client, traffic } = recordingClient(server);
    const storage = await bucketStorage(server, { client, partSize: 4096 });
    const small = randomBytes(4000);
    await storage.write("stream/small.bin", streamed(small, 1000));
    expect(traffic.map((exchange) => exchange.command)).toEqual(["PutObject"]);
    const large = randomBytes(4096 * 3 + 1);
    await storage.write("stream/large.bin", streamed(large, 1000));
    expect(traffic.filter((exchange) => exchange.command === "UploadPart")).toHaveLength(4);
    expect(Buffer.from(await storage.readBytes("stream/large.bin"))).toEqual(large);
    const empty = await storage.write("stream/empty.bin", streamed(new Uint8Array(0), 1));
    expect(empty.size).toBe(0);
    expect((await storage.readBytes("stream/empty.bin")).byteLength).toBe(0);
  });

  it("aborts a failed upload: no object appears (s3rver refuses AbortMultipartUpload, a declared gap)", async () => {
    const { client, traffic } = recordingClient(server);
    const storage = await bucketStorage(server, { client, partSize: 4096, concurrency: 2 });
    await expect(storage.write("broken.bin", streamed(randomBytes(40_000), 1000, 20_000))).rejects.toThrow(
      /source broke/,
    );
    expect(await storage.exists("broken.bin")).toBe(false);
    expect(await listEntries(storage, "", { recursive: true })).toEqual([]);
    const abort = traffic.find((exchange) => exchange.command === "AbortMultipartUpload");
    expect(abort, "the driver must try to abort").toBeDefined();
    // s3rver 3.7.1 answers 405 MethodNotAllowed, so its parts stay in its upload directory.
    expect(abort?.status).toBe(405);
    expect(traffic.some((exchange) => exchange.command === "CompleteMultipartUpload")).toBe(false);
  });

  it("keeps a declared MD5 as the object's, in one PutObject or in parts, and rejects a wrong one", async () => {
    const { client, traffic } = recordingClient(server);
    const storage = await bucketStorage(server, { client, partSize: 4096 });
    const body = randomBytes(20_000);
    const entry = await storage.write("declared/multipart.bin", streamed(body, 1000), { md5: md5Hex(body) });
    expect(entry.md5).toBe(md5Hex(body));
    // Recorded when the upload is created, so no self-copy afterwards.
    expect(traffic.some((exchange) => exchange.command === "CopyObject")).toBe(false);
    expect((await storage.stat("declared/multipart.bin")).md5).toBe(md5Hex(body));
    const small = randomBytes(1000);
    const put = await storage.write("declared/small.bin", small, { md5: md5Hex(small).toUpperCase() });
    expect(put.md5).toBe(md5Hex(small));
    expect(traffic.at(-1)?.headers["content-md5"]).toBe(createHash("md5").update(small).digest("base64"));
    await expectFerryError(storage.write("declared/wrong.bin", small, { md5: "0".repeat(32) }), "Integrity");
    expect(await storage.exists("declared/wrong.bin")).toBe(false);
  });

  it("leaves nothing when the declared MD5 does not match, or the caller aborts", async () => {
    const storage = await bucketStorage(server, { partSize: 4096 });
    const body = randomBytes(20_000);
    await expectFerryError(
      storage.write("wrong-md5.bin", streamed(body, 1000), { md5: "0".repeat(32) }),
      "Integrity",
    );
    expect(await storage.exists("wrong-md5.bin")).toBe(false);
    const controller = new AbortController();
    const source = (async function* () {
      yield* streamed(body.subarray(0, 10_000), 1000);
      controller.abort();
      yield* streamed(body.subarray(10_000), 1000);
    })();
    await expectFerryError(storage.write("aborted.bin", source, { signal: controller.signal }), "Aborted");
    expect(await storage.exists("aborted.bin")).toBe(false);
  });
});

describe("what ferry's own client signs", () => {
  it("uploads with UNSIGNED-PAYLOAD beside a signed Content-MD5, and other requests stay fully signed", async () => {
    const client = await createClient(await loadSdk(), clientConfig(s3rverOptions(server)));
    const traffic = recordTraffic(client);
    const storage = await bucketStorage(server, { client, partSize: 8 * 1024 });
    const small = randomBytes(1000);
    const large = randomBytes(20 * 1024);
    await storage.write("signed/small.bin", small);
    await storage.write("signed/large.bin", streamed(large, 4096));
    expect(await storage.stat("signed/small.bin")).toMatchObject({ md5: md5Hex(small) });
    expect(Buffer.from(await storage.readBytes("signed/large.bin"))).toEqual(large);
    const bodies = traffic.filter((exchange) => ["PutObject", "UploadPart"].includes(exchange.command));
    expect(bodies.length).toBeGreaterThanOrEqual(4);
    for (const exchange of bodies) {
      expect(exchange.status).toBe(200);
      expect(exchange.headers["x-amz-content-sha256"]).toBe("UNSIGNED-PAYLOAD");
      expect(exchange.headers["content-md5"]).toMatch(/^[A-Za-z0-9+/]{22}==$/);
      // Content-MD5 is one of the headers the signature covers.
      expect(exchange.headers.authorization).toMatch(/SignedHeaders=[^,]*content-md5/);
    }
    const others = traffic.filter((exchange) => !["PutObject", "UploadPart"].includes(exchange.command));
    expect(others.length).toBeGreaterThan(0);
    expect(others.every((exchange) => exchange.headers["x-amz-content-sha256"] !== "UNSIGNED-PAYLOAD")).toBe(
      true,
    );
    client.destroy();
  });

  it("leaves a client the caller brings as it was", async () => {
    const { client, traffic } = recordingClient(server);
    const storage = await bucketStorage(server, { client });
    await storage.write("theirs.bin", randomBytes(100));
    const put = traffic.find((exchange) => exchange.command === "PutObject");
    expect(put?.headers["x-amz-content-sha256"]).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("copies from local disk", () => {
  it("a large local file is hashed first, so its MD5 is stored at creation without a server-side self-copy", async () => {
    const { client, traffic } = recordingClient(server);
    const bucket = await server.createBucket();
    const registry = new PluginRegistry({ lazy: false }).use(
      local(),
      s3(s3rverOptions(server, { client, capabilities: S3RVER_GAPS, partSize: 5 * 1024 * 1024 })),
    );
    const dir = await mkdtemp(join(tmpdir(), "ferry-s3-local-md5-"));
    try {
      const body = randomBytes(17 * 1024 * 1024);
      await writeFile(join(dir, "big.bin"), body);
      const summary = await copy(join(dir, "big.bin"), `s3://${bucket}/from-disk/big.bin`, { registry });
      expect(summary).toMatchObject({ copied: 1, failed: 0 });
      const commands = traffic.map((exchange) => exchange.command);
      expect(commands.filter((command) => command === "UploadPart")).toHaveLength(4);
      expect(commands).not.toContain("CopyObject");
      const created = traffic.find((exchange) => exchange.command === "CreateMultipartUpload");
      expect(Buffer.from(created?.headers["x-amz-meta-md5chksum"] ?? "", "base64").toString("hex")).toBe(
        md5Hex(body),
      );
      const { storage } = await registry.resolve(`s3://${bucket}/`);
      expect((await storage.stat("from-disk/big.bin")).md5).toBe(md5Hex(body));
    } finally {
      await registry.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("copies from local disk: a file that changes midway", () => {
  it("is not uploaded as if it had not: the copy is removed and the file fails with Integrity", async () => {
    const bucket = await server.createBucket();
    const registry = new PluginRegistry({ lazy: false }).use(
      local(),
      s3(s3rverOptions(server, { capabilities: S3RVER_GAPS, partSize: 5 * 1024 * 1024, concurrency: 1 })),
    );
    const dir = await mkdtemp(join(tmpdir(), "ferry-s3-local-changed-"));
    try {
      const file = join(dir, "growing.bin");
      await writeFile(file, randomBytes(17 * 1024 * 1024));
      let appended = false;
      const summary = await copy(file, `s3://${bucket}/changed/growing.bin`, {
        registry,
        retries: 0,
        onProgress: (progress) => {
          if (appended || progress.bytesDone === 0) return; // the first bytes are on their way
          appended = true;
          appendFileSync(file, "more");
        },
      });
      expect(appended).toBe(true);
      expect(summary).toMatchObject({ copied: 0, failed: 1 });
      expect(FerryError.isInstance(summary.errors[0]?.error, "Integrity")).toBe(true);
      expect(summary.errors[0]?.error.message).toMatch(/changed while it was being copied/);
      const { storage } = await registry.resolve(`s3://${bucket}/`);
      expect(await storage.exists("changed/growing.bin")).toBe(false);
    } finally {
      await registry.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("server-side copy", () => {
  it("copies with CopyObject: no object bytes pass through the client", async () => {
    const { client, traffic } = recordingClient(server);
    const storage = await bucketStorage(server, { client });
    const body = randomBytes(200 * 1024);
    await storage.write("copy/source.bin", body);
    traffic.length = 0;
    const copied = await storage.copy("copy/source.bin", "copy/target.bin");
    expect(copied).toMatchObject({ size: body.byteLength, md5: md5Hex(body) });
    // CopyObject's answer (ETag, time) describes the new object: no HEAD afterwards.
    expect(traffic.map((exchange) => exchange.command)).toEqual(["HeadObject", "CopyObject"]);
    const stated = await storage.stat("copy/target.bin");
    expect(copied).toMatchObject({
      kind: "file",
      etag: stated.etag,
      md5: stated.md5,
      contentType: stated.contentType,
    });
    expect(Math.abs(copied.mtime!.getTime() - stated.mtime!.getTime())).toBeLessThan(1000);
    // Request bodies: none. Response bodies: HEADs have none; CopyObject answers with a small XML document.
    expect(traffic.reduce((sum, exchange) => sum + exchange.requestBytes, 0)).toBe(0);
    expect(traffic.reduce((sum, exchange) => sum + exchange.responseBytes, 0)).toBeLessThan(1024);
    expect(Buffer.from(await storage.readBytes("copy/target.bin"))).toEqual(body);
  });

  it("uses UploadPartCopy above the copy cutoff (s3rver answers NotImplemented: a declared gap) and leaves no target", async () => {
    const { client, traffic } = recordingClient(server);
    const storage = await bucketStorage(server, { client, copyCutoff: 1024, copyPartSize: 1024 });
    await storage.write("large/source.bin", randomBytes(5000));
    const error = await expectFerryError(storage.copy("large/source.bin", "large/target.bin"), "Unsupported");
    expect(error.message).toMatch(/NotImplemented/);
    expect(traffic.some((exchange) => exchange.command === "UploadPartCopy")).toBe(true);
    expect(traffic.some((exchange) => exchange.command === "AbortMultipartUpload")).toBe(true);
    expect(await storage.exists("large/target.bin")).toBe(false);
  });

  it("reports a missing source as NotFound", async () => {
    const storage = await bucketStorage(server);
    await expectFerryError(storage.copy("nope.bin", "target.bin"), "NotFound");
  });
});
