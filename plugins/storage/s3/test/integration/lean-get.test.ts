/**
 * Reads outside the SDK's middleware stack (src/lean/get.ts), against s3rver: what goes on the wire is
 * recorded at the client's request handler, what goes through `send()` by a middleware, so a read that
 * took the lean path shows on the wire and not in the middleware.
 */
import { randomBytes } from "node:crypto";
import { expectFerryError } from "@ferry/conformance";
import { createStorage, parseLocation } from "@ferry/core";
import type { Storage } from "@ferry/plugin-kit";
import { printLogsOnFailure, type S3Backend } from "@ferry/test-harness";
import { Agent } from "undici";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadSdk } from "../../src/client.ts";
import { S3Driver } from "../../src/driver.ts";
import { s3, s3Capabilities } from "../../src/index.ts";
import { encodeKeyPath, isExpectedAnswer, originOf } from "../../src/lean/get.ts";
import { S3RVER_GAPS, s3rverOptions, startS3rver } from "../fixture.ts";
import { recordingClient, recordTraffic } from "../traffic.ts";

let server: S3Backend;
beforeAll(async () => {
  server = await startS3rver();
});
afterAll(() => server?.stop());
afterEach((context) => printLogsOnFailure(context, server));

interface WireRequest {
  via: "lean" | "send";
  method: string;
  path: string;
  headers: Record<string, string>;
}

interface HandlerLike {
  handle(request: WireRequest, options?: unknown): Promise<unknown>;
  destroy?(): void;
}

/**
 * A storage whose every request is recorded where it leaves: the lean path's undici dispatcher, and the
 * SDK client's request handler (for everything that goes through `send()`, recorded there too).
 */
async function observedStorage(
  credentials = server.credentials,
  bucketName?: string,
  onLeanDispatch: () => void = () => undefined,
) {
  const sdk = await loadSdk();
  const { client: base } = recordingClient(server);
  const inner = base.config.requestHandler as unknown as HandlerLike;
  const wire: WireRequest[] = [];
  const client = new sdk.S3Client({
    endpoint: server.endpoint,
    region: server.region,
    credentials: { ...credentials },
    forcePathStyle: true,
    maxAttempts: 1,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    requestHandler: {
      handle(request: WireRequest, options?: unknown) {
        wire.push({
          via: "send",
          method: request.method,
          path: request.path,
          headers: { ...request.headers },
        });
        return inner.handle(request, options);
      },
      updateHttpClientConfig() {},
      httpHandlerConfigs: () => ({}),
      destroy: () => inner.destroy?.(),
    } as never,
  });
  const traffic = recordTraffic(client);
  const agent = new Agent();
  const dispatcher = agent.compose((dispatch) => (options, handler) => {
    const headers = Object.fromEntries(
      Object.entries((options.headers ?? {}) as Record<string, string>).map(([name, value]) => [
        name.toLowerCase(),
        value,
      ]),
    );
    wire.push({ via: "lean", method: options.method, path: options.path, headers });
    onLeanDispatch();
    return dispatch(options, handler);
  });
  const bucket = bucketName ?? (await server.createBucket());
  const capabilities = s3Capabilities({ capabilities: S3RVER_GAPS });
  const options = {
    partSize: 8 * 1024 * 1024,
    concurrency: 4,
    copyCutoff: 5 * 1024 ** 3,
    copyPartSize: 512 * 1024 * 1024,
    contentTypeDetection: true,
    recordMultipartMd5: true,
  };
  const driver = new S3Driver(
    bucket,
    capabilities,
    { client: async () => ({ client, sdk }), leanDispatcher: async () => dispatcher, secrets: () => [] },
    options,
  );
  const storage: Storage = createStorage(driver);
  const gets = () => ({
    lean: wire.filter((request) => request.via === "lean").length,
    sent: wire.filter((request) => request.via === "send" && request.method === "GET").length,
    throughSend: traffic.filter((exchange) => exchange.command === "GetObject").length,
  });
  const close = async () => {
    base.destroy();
    client.destroy();
    await agent.close();
  };
  return { storage, wire, traffic, gets, bucket, close };
}

describe("lean reads", () => {
  it("read whole objects and plain ranges with one signed GET each, outside the middleware stack", async () => {
    const observed = await observedStorage();
    const keys = [
      "plain.bin",
      "dir/with space/ünïcödé (1)!*'~+%.bin",
      "a/b/c/d.txt",
      "tilde~and=equals&amp;.bin",
    ];
    const bodies = new Map(keys.map((key) => [key, randomBytes(4096 + key.length)]));
    for (const [key, body] of bodies) await observed.storage.write(key, body);
    for (const [key, body] of bodies) {
      expect(Buffer.from(await observed.storage.readBytes(key))).toEqual(body);
      const range = { offset: 100, length: 1000 };
      expect(Buffer.from(await observed.storage.readBytes(key, { range }))).toEqual(body.subarray(100, 1100));
      expect(Buffer.from(await observed.storage.readBytes(key, { range: { offset: 4000 } }))).toEqual(
        body.subarray(4000),
      );
    }
    expect(observed.gets()).toEqual({ lean: keys.length * 3, sent: 0, throughSend: 0 });
    const lean = observed.wire.filter((request) => request.via === "lean");
    expect(lean.every((request) => request.method === "GET" && request.path.includes("x-id=GetObject"))).toBe(
      true,
    );
    expect(lean.every((request) => request.headers.authorization?.startsWith("AWS4-HMAC-SHA256 "))).toBe(
      true,
    );
    expect(lean.some((request) => request.path.endsWith(`/${encodeKeyPath(keys[1]!)}?x-id=GetObject`))).toBe(
      true,
    );
    await observed.close();
  });

  it("leave a missing key or bucket to send(): typed errors as before", async () => {
    const observed = await observedStorage();
    await expectFerryError(observed.storage.readBytes("missing.bin"), "NotFound");
    await expectFerryError(observed.storage.readBytes("missing.bin", { range: { offset: 5 } }), "NotFound");
    // each: one lean GET answered 404, then GetObject through send()
    expect(observed.gets()).toEqual({ lean: 2, sent: 2, throughSend: 2 });
    await observed.close();

    const noBucket = await observedStorage(server.credentials, "ferry-no-such-bucket");
    await expectFerryError(noBucket.storage.readBytes("anything.bin"), "NotFound");
    expect(noBucket.gets()).toEqual({ lean: 1, sent: 1, throughSend: 1 });
    await noBucket.close();
  });

  it("stop with Aborted when the caller's signal fires, on the wire or mid-body, without retrying through send()", async () => {
    let abortOnDispatch: AbortController | undefined;
    const observed = await observedStorage(server.credentials, undefined, () => abortOnDispatch?.abort());
    await observed.storage.write("big.bin", randomBytes(4 * 1024 * 1024));
    // aborted as the lean GET goes out
    abortOnDispatch = new AbortController();
    await expectFerryError(
      observed.storage.readBytes("big.bin", { signal: abortOnDispatch.signal }),
      "Aborted",
    );
    expect(observed.gets()).toEqual({ lean: 1, sent: 0, throughSend: 0 });

    // aborted after the first bytes of the body
    abortOnDispatch = undefined;
    const controller = new AbortController();
    const stream = await observed.storage.read("big.bin", { signal: controller.signal });
    const reading = (async () => {
      for await (const _chunk of stream) controller.abort();
    })();
    await expectFerryError(reading, "Aborted");
    expect(observed.gets()).toEqual({ lean: 2, sent: 0, throughSend: 0 });
    await observed.close();
  });

  it("are off for a caller's own client and with leanReads: false: every read is a GetObject send()", async () => {
    for (const own of [true, false]) {
      const { client, traffic } = recordingClient(server);
      const bucket = await server.createBucket();
      const plugin = own
        ? s3({ client, capabilities: S3RVER_GAPS })
        : s3(s3rverOptions(server, { leanReads: false, capabilities: S3RVER_GAPS }));
      const storage = createStorage(await plugin.create(parseLocation(`s3://${bucket}`)));
      await storage.write("k.txt", "hello");
      for (let index = 0; index < 3; index += 1)
        expect(Buffer.from(await storage.readBytes("k.txt")).toString()).toBe("hello");
      if (own) expect(traffic.filter((exchange) => exchange.command === "GetObject")).toHaveLength(3);
      await storage.close();
      client.destroy();
    }
  });

  it("keep the SDK's encoding of keys: segments percent-encoded, slashes kept, RFC 3986 reserved marks escaped", () => {
    expect(encodeKeyPath("a b/c+d/é!*'()~")).toBe("a%20b/c%2Bd/%C3%A9%21%2A%27%28%29~");
  });

  it("address IPv4, IPv6 and named hosts as URL origins", () => {
    expect(originOf({ protocol: "http:", hostname: "127.0.0.1", port: 4568 })).toBe("http://127.0.0.1:4568");
    expect(originOf({ protocol: "http:", hostname: "::1", port: 9000 })).toBe("http://[::1]:9000");
    expect(originOf({ protocol: "http:", hostname: "[::1]", port: 9000 })).toBe("http://[::1]:9000");
    expect(originOf({ protocol: "https:", hostname: "b.s3.eu-west-1.amazonaws.com", port: undefined })).toBe(
      "https://b.s3.eu-west-1.amazonaws.com",
    );
  });

  it("take only a plain success: 200 for a whole object, 206 from the asked-for offset for a range", () => {
    expect(isExpectedAnswer(200, undefined, undefined)).toBe(true);
    expect(isExpectedAnswer(206, "bytes 0-9/10", undefined)).toBe(false);
    expect(isExpectedAnswer(304, undefined, undefined)).toBe(false);
    expect(isExpectedAnswer(206, "bytes 100-1099/5000", "bytes=100-1099")).toBe(true);
    expect(isExpectedAnswer(206, "bytes 4000-4999/5000", "bytes=4000-")).toBe(true);
    // a server that ignores Range sends the whole object: read again through send()
    expect(isExpectedAnswer(200, undefined, "bytes=100-1099")).toBe(false);
    expect(isExpectedAnswer(206, "bytes 0-999/5000", "bytes=100-1099")).toBe(false);
    expect(isExpectedAnswer(206, undefined, "bytes=100-1099")).toBe(false);
    expect(isExpectedAnswer(416, "bytes */5000", "bytes=6000-")).toBe(false);
  });
});
