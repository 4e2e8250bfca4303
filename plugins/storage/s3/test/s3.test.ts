import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import {
  collectBytes,
  createStorage,
  type Entry,
  FerryError,
  parseLocation,
  type Storage,
} from "@ferry/core";
import { printLogsOnFailure, type S3Backend } from "@ferry/test-harness";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { md5Of } from "../src/driver.ts";
import { mapS3Error } from "../src/errors.ts";
import { needsPathStyle, s3 } from "../src/index.ts";
import { clientConfig } from "../src/options.ts";
import { bucketStorage, s3rverOptions, startS3rver } from "./fixture.ts";
import { recordingClient } from "./traffic.ts";

const md5 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("hex");

async function* chunks(bytes: Uint8Array, size: number, failAfter?: number): AsyncIterable<Uint8Array> {
  for (let offset = 0; offset < bytes.byteLength; offset += size) {
    if (failAfter !== undefined && offset >= failAfter) throw new Error("source broke mid-stream");
    yield bytes.subarray(offset, offset + size);
  }
}

async function all<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

async function expectCode(promise: Promise<unknown>, code: FerryError["code"]): Promise<FerryError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(FerryError.isInstance(error), `expected a FerryError, got ${inspect(error)}`).toBe(true);
  expect((error as FerryError).code).toBe(code);
  return error as FerryError;
}

let server: S3Backend;
beforeAll(async () => {
  server = await startS3rver();
});
afterAll(() => server?.stop());
afterEach((context) => printLogsOnFailure(context, server));

describe("configuration", () => {
  it("uses path-style addressing for IP and localhost endpoints only", () => {
    expect(needsPathStyle("http://127.0.0.1:9000")).toBe(true);
    expect(needsPathStyle("http://[::1]:9000")).toBe(true);
    expect(needsPathStyle("http://localhost:4566")).toBe(true);
    expect(needsPathStyle("https://s3.eu-west-1.amazonaws.com")).toBe(false);
    expect(clientConfig({ endpoint: "https://minio.example.com", forcePathStyle: true }).forcePathStyle).toBe(
      true,
    );
  });

  it("reads endpoint and region from AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL and AWS_REGION", () => {
    const viaService = clientConfig(
      {},
      {
        AWS_ENDPOINT_URL_S3: "http://127.0.0.1:1",
        AWS_ENDPOINT_URL: "http://other:2",
        AWS_REGION: "eu-west-3",
      },
    );
    expect(viaService).toMatchObject({
      endpoint: "http://127.0.0.1:1",
      region: "eu-west-3",
      forcePathStyle: true,
    });
    const viaGlobal = clientConfig({}, { AWS_ENDPOINT_URL: "http://localhost:2" });
    expect(viaGlobal).toMatchObject({ endpoint: "http://localhost:2", forcePathStyle: true });
    // No region named: the SDK's chain (profile) decides when the client is created, else us-east-1.
    expect(viaGlobal.region).toBeUndefined();
    expect(clientConfig({}, {}).endpoint).toBeUndefined();
  });

  it("works with no options at all, configured from the environment like a child process would be", async () => {
    const bucket = await server.createBucket();
    const saved = { ...process.env };
    Object.assign(process.env, server.env());
    try {
      const plugin = s3();
      const storage = createStorage(await plugin.create(parseLocation(`s3://${bucket}`)));
      await storage.write("from-env.txt", "configured by AWS_ENDPOINT_URL");
      expect(new TextDecoder().decode(await storage.readBytes("from-env.txt"))).toBe(
        "configured by AWS_ENDPOINT_URL",
      );
      await storage.close();
    } finally {
      for (const key of Object.keys(server.env())) {
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
      }
    }
  });
});

describe("credential chain", () => {
  it("finds credentials and region in a shared-config profile (AWS_PROFILE)", async () => {
    const bucket = await server.createBucket();
    const dir = await mkdtemp(join(tmpdir(), "ferry-aws-profile-"));
    await writeFile(
      join(dir, "credentials"),
      "[ferry-test]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n",
    );
    await writeFile(join(dir, "config"), "[profile ferry-test]\nregion = eu-west-3\n");
    const saved = { ...process.env };
    for (const key of Object.keys(process.env)) if (key.startsWith("AWS_")) delete process.env[key];
    Object.assign(process.env, {
      AWS_SHARED_CREDENTIALS_FILE: join(dir, "credentials"),
      AWS_CONFIG_FILE: join(dir, "config"),
      AWS_PROFILE: "ferry-test",
      AWS_ENDPOINT_URL: server.endpoint,
      AWS_EC2_METADATA_DISABLED: "true",
    });
    try {
      const storage = createStorage(await s3().create(parseLocation(`s3://${bucket}`)));
      await storage.write("via-profile.txt", "profile credentials");
      // The profile's region signs the requests (it is in the presigned URL's credential scope).
      expect(decodeURIComponent(await storage.presign("via-profile.txt"))).toContain(
        "/eu-west-3/s3/aws4_request",
      );
      expect(new TextDecoder().decode(await storage.readBytes("via-profile.txt"))).toBe(
        "profile credentials",
      );
      await storage.close();
    } finally {
      for (const key of Object.keys(process.env)) if (key.startsWith("AWS_")) delete process.env[key];
      Object.assign(process.env, saved);
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("region fallback", () => {
  it("signs for us-east-1 when a custom endpoint is set and nothing names a region", async () => {
    const bucket = await server.createBucket();
    const dir = await mkdtemp(join(tmpdir(), "ferry-aws-empty-"));
    await writeFile(join(dir, "config"), "");
    const saved = { ...process.env };
    for (const key of Object.keys(process.env)) if (key.startsWith("AWS_")) delete process.env[key];
    Object.assign(process.env, {
      AWS_CONFIG_FILE: join(dir, "config"),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, "config"),
      AWS_EC2_METADATA_DISABLED: "true",
    });
    try {
      const storage = createStorage(
        await s3({ endpoint: server.endpoint, credentials: { ...server.credentials } }).create(
          parseLocation(`s3://${bucket}`),
        ),
      );
      await storage.write("no-region.txt", "x");
      expect(decodeURIComponent(await storage.presign("no-region.txt"))).toContain(
        "/us-east-1/s3/aws4_request",
      );
      await storage.close();
    } finally {
      for (const key of Object.keys(process.env)) if (key.startsWith("AWS_")) delete process.env[key];
      Object.assign(process.env, saved);
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("objects", () => {
  let storage: Storage;
  beforeAll(async () => {
    storage = await bucketStorage(server);
  });

  it("stores a small body in one PutObject with its MD5 as ETag and a content type from the name", async () => {
    const entry = await storage.write("notes/readme.txt", "hello s3");
    expect(entry).toMatchObject({
      path: "notes/readme.txt",
      kind: "file",
      size: 8,
      md5: md5(Buffer.from("hello s3")),
    });
    const stat = await storage.stat("notes/readme.txt");
    expect(stat).toMatchObject({ size: 8, md5: entry.md5, etag: entry.md5, contentType: "text/plain" });
    expect(await storage.checksum("notes/readme.txt", "md5")).toBe(entry.md5);
    await storage.write("data.parquet-ish.json", "{}");
    expect((await storage.stat("data.parquet-ish.json")).contentType).toBe("application/json");
    await storage.write("explicit.bin", "x", { contentType: "application/x-ferry" });
    expect((await storage.stat("explicit.bin")).contentType).toBe("application/x-ferry");
  });

  it("reads ranges, suffixes and past-the-end offsets", async () => {
    const body = randomBytes(1000);
    await storage.write("ranges.bin", body);
    const read = (range: Parameters<Storage["readBytes"]>[1]) => storage.readBytes("ranges.bin", range);
    expect(Buffer.from(await read({ range: { offset: 5, length: 11 } }))).toEqual(body.subarray(5, 16));
    expect(Buffer.from(await read({ range: { offset: 990 } }))).toEqual(body.subarray(990));
    expect(Buffer.from(await read({ range: { offset: 995, length: 100 } }))).toEqual(body.subarray(995));
    expect(Buffer.from(await read({ range: { suffix: 20 } }))).toEqual(body.subarray(980));
    expect(Buffer.from(await read({ range: { suffix: 5000 } }))).toEqual(body);
    expect((await read({ range: { offset: 1000 } })).byteLength).toBe(0);
    expect((await read({ range: { offset: 10, length: 0 } })).byteLength).toBe(0);
    await expectCode(storage.readBytes("missing.bin", { range: { offset: 0, length: 0 } }), "NotFound");
    await expectCode(storage.readBytes("missing.bin"), "NotFound");
  });

  it("stats a prefix with keys below it as a directory, and nothing else", async () => {
    await storage.write("tree/a/b/c.txt", "c");
    expect(await storage.stat("tree")).toMatchObject({ kind: "directory", path: "tree" });
    expect(await storage.stat("tree/a/b")).toMatchObject({ kind: "directory" });
    await expectCode(storage.stat("tree/a/b/c"), "NotFound");
    await expectCode(storage.stat("tre"), "NotFound");
    expect(await storage.stat("")).toMatchObject({ kind: "directory", path: "" });
  });

  it("moves by copy and delete", async () => {
    await storage.write("move/from.txt", "moving");
    const moved = await storage.move("move/from.txt", "move/to.txt");
    expect(moved).toMatchObject({ path: "move/to.txt", size: 6 });
    expect(await storage.exists("move/from.txt")).toBe(false);
    expect(new TextDecoder().decode(await storage.readBytes("move/to.txt"))).toBe("moving");
  });

  it("presigns GET and PUT URLs that a plain HTTP client can use", async () => {
    await storage.write("presigned.txt", "signed content");
    const getUrl = await storage.presign("presigned.txt");
    expect(getUrl).toContain("X-Amz-Signature=");
    expect(await (await fetch(getUrl)).text()).toBe("signed content");
    const putUrl = await storage.presign("uploaded.txt", { method: "PUT", expiresIn: 60 });
    expect((await fetch(putUrl, { method: "PUT", body: "via presigned PUT" })).ok).toBe(true);
    expect(new TextDecoder().decode(await storage.readBytes("uploaded.txt"))).toBe("via presigned PUT");
  });
});

describe("listing", () => {
  let storage: Storage;
  beforeAll(async () => {
    storage = await bucketStorage(server);
    for (const key of [
      "d.txt",
      "d/x.txt",
      "d/y/z.txt",
      "e.txt",
      "a b/ü.txt",
      "a-b.txt",
      "c/1",
      "c/2",
      "c/3",
      "c/4",
      "c/5",
    ]) {
      await storage.write(key, key);
    }
  });

  it("lists one level with directories as prefixes, in UTF-8 key order", async () => {
    const entries = await all(storage.list(""));
    expect(entries.map((entry) => [entry.path, entry.kind])).toEqual([
      ["a b", "directory"],
      ["a-b.txt", "file"],
      ["c", "directory"],
      ["d.txt", "file"], // "." sorts before "/", so d.txt comes before the prefix d/
      ["d", "directory"],
      ["e.txt", "file"],
    ]);
    expect(entries.find((entry) => entry.path === "d.txt")).toMatchObject({
      size: 5,
      md5: md5(Buffer.from("d.txt")),
    });
  });

  it("pages with a small page size and resumes after startAfter", async () => {
    const paged = await all(storage.list("c", { pageSize: 2 }));
    expect(paged.map((entry) => entry.path)).toEqual(["c/1", "c/2", "c/3", "c/4", "c/5"]);
    const after = await all(storage.list("c", { pageSize: 2, startAfter: "c/2", limit: 2 }));
    expect(after.map((entry) => entry.path)).toEqual(["c/3", "c/4"]);
  });

  it("lists recursively as files only, and a missing directory or a file as empty", async () => {
    const entries = await all(storage.list("d", { recursive: true }));
    expect(entries.map((entry: Entry) => entry.path)).toEqual(["d/x.txt", "d/y/z.txt"]);
    expect(await all(storage.list("nothing-here"))).toEqual([]);
    expect(await all(storage.list("d.txt"))).toEqual([]);
  });

  it("deletes in batches of the declared size", async () => {
    const { client, traffic } = recordingClient(server);
    const batched = await bucketStorage(server, { client, capabilities: { limits: { deleteBatchMax: 2 } } });
    const keys = ["1", "2", "3", "4", "5"].map((name) => `batch/${name}`);
    for (const key of keys) await batched.write(key, key);
    await batched.delete([...keys, "batch/never-existed"]);
    expect(traffic.filter((exchange) => exchange.command === "DeleteObjects")).toHaveLength(3);
    expect(await all(batched.list("batch"))).toEqual([]);
  });
});

describe("multipart uploads", () => {
  it("uploads in parts of the given size, each with Content-MD5, and records the whole MD5", async () => {
    const { client, traffic } = recordingClient(server);
    const storage = await bucketStorage(server, { client, partSize: 8 * 1024, concurrency: 3 });
    const body = randomBytes(50 * 1024 + 17);
    const entry = await storage.write("big/multipart.bin", chunks(body, 3000));
    expect(entry).toMatchObject({ size: body.byteLength, md5: md5(body) });
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
    expect(Buffer.from(head.Metadata?.md5chksum ?? "", "base64").toString("hex")).toBe(md5(body));
    expect((await storage.stat("big/multipart.bin")).md5).toBe(md5(body));
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
    await storage.write("stream/small.bin", chunks(small, 1000));
    expect(traffic.map((exchange) => exchange.command)).toEqual(["PutObject"]);
    const large = randomBytes(4096 * 3 + 1);
    await storage.write("stream/large.bin", chunks(large, 1000));
    expect(traffic.filter((exchange) => exchange.command === "UploadPart")).toHaveLength(4);
    expect(Buffer.from(await storage.readBytes("stream/large.bin"))).toEqual(large);
    const empty = await storage.write("stream/empty.bin", chunks(new Uint8Array(0), 1));
    expect(empty.size).toBe(0);
    expect((await storage.readBytes("stream/empty.bin")).byteLength).toBe(0);
  });

  it("aborts a failed upload: no object appears (s3rver refuses AbortMultipartUpload, a declared gap)", async () => {
    const { client, traffic } = recordingClient(server);
    const storage = await bucketStorage(server, { client, partSize: 4096, concurrency: 2 });
    await expect(storage.write("broken.bin", chunks(randomBytes(40_000), 1000, 20_000))).rejects.toThrow(
      /source broke/,
    );
    expect(await storage.exists("broken.bin")).toBe(false);
    expect(await all(storage.list("", { recursive: true }))).toEqual([]);
    const abort = traffic.find((exchange) => exchange.command === "AbortMultipartUpload");
    expect(abort, "the driver must try to abort").toBeDefined();
    // s3rver 3.7.1 answers 405 MethodNotAllowed, so its parts stay in its upload directory.
    expect(abort?.status).toBe(405);
    expect(traffic.some((exchange) => exchange.command === "CompleteMultipartUpload")).toBe(false);
  });

  it("leaves nothing when the declared MD5 does not match, or the caller aborts", async () => {
    const storage = await bucketStorage(server, { partSize: 4096 });
    const body = randomBytes(20_000);
    await expectCode(
      storage.write("wrong-md5.bin", chunks(body, 1000), { md5: "0".repeat(32) }),
      "Integrity",
    );
    expect(await storage.exists("wrong-md5.bin")).toBe(false);
    const controller = new AbortController();
    const source = (async function* () {
      yield* chunks(body.subarray(0, 10_000), 1000);
      controller.abort();
      yield* chunks(body.subarray(10_000), 1000);
    })();
    await expectCode(storage.write("aborted.bin", source, { signal: controller.signal }), "Aborted");
    expect(await storage.exists("aborted.bin")).toBe(false);
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
    expect(copied).toMatchObject({ size: body.byteLength, md5: md5(body) });
    expect(traffic.map((exchange) => exchange.command)).toEqual(["HeadObject", "CopyObject", "HeadObject"]);
    // Request bodies: none. Response bodies: HEADs have none; CopyObject answers with a small XML document.
    expect(traffic.reduce((sum, exchange) => sum + exchange.requestBytes, 0)).toBe(0);
    expect(traffic.reduce((sum, exchange) => sum + exchange.responseBytes, 0)).toBeLessThan(1024);
    expect(Buffer.from(await storage.readBytes("copy/target.bin"))).toEqual(body);
  });

  it("uses UploadPartCopy above the copy cutoff (s3rver answers NotImplemented: a declared gap) and leaves no target", async () => {
    const { client, traffic } = recordingClient(server);
    const storage = await bucketStorage(server, { client, copyCutoff: 1024, copyPartSize: 1024 });
    await storage.write("large/source.bin", randomBytes(5000));
    const error = await expectCode(storage.copy("large/source.bin", "large/target.bin"), "Unsupported");
    expect(error.message).toMatch(/NotImplemented/);
    expect(traffic.some((exchange) => exchange.command === "UploadPartCopy")).toBe(true);
    expect(traffic.some((exchange) => exchange.command === "AbortMultipartUpload")).toBe(true);
    expect(await storage.exists("large/target.bin")).toBe(false);
  });

  it("reports a missing source as NotFound", async () => {
    const storage = await bucketStorage(server);
    await expectCode(storage.copy("nope.bin", "target.bin"), "NotFound");
  });
});

describe("directory markers", () => {
  it("are written only when asked for, and listed and removed like directories", async () => {
    const plain = await bucketStorage(server);
    await expectCode(plain.mkdir("empty"), "Unsupported");
    const storage = await bucketStorage(server, { directoryMarkers: true });
    expect(storage.capabilities).toMatchObject({ mkdir: "marker", emptyDirectories: true });
    await storage.mkdir("empty/inner");
    expect(await storage.stat("empty/inner")).toMatchObject({ kind: "directory" });
    expect((await all(storage.list("empty"))).map((entry) => [entry.path, entry.kind])).toEqual([
      ["empty/inner", "directory"],
    ]);
    expect(await all(storage.list("empty/inner"))).toEqual([]);
    await storage.write("empty/inner/file.txt", "f");
    expect((await all(storage.list("", { recursive: true }))).map((entry) => entry.path)).toEqual([
      "empty/inner/file.txt",
    ]);
    await storage.deleteDirectory("empty");
    await expectCode(storage.stat("empty/inner"), "NotFound");
  });
});

describe("errors", () => {
  it("names a missing bucket", async () => {
    const storage = await bucketStorage(server, {}, "ferry-no-such-bucket");
    const error = await expectCode(all(storage.list("")), "NotFound");
    expect(error.message).toContain('bucket "ferry-no-such-bucket" does not exist');
    await expectCode(storage.stat(""), "NotFound");
  });

  it("never puts credentials in messages or causes, though the server echoes the key id", async () => {
    const bucket = await server.createBucket();
    const accessKeyId = "AKIAFERRYTESTKEY0001";
    const secretAccessKey = "ferry-test-secret-value-0123456789";
    // The raw SDK error carries the key id back from the server (AWSAccessKeyId): a real leak vector.
    const { S3Client, PutObjectCommand } = await import("@aws-sdk/client-s3");
    const raw = new S3Client({
      endpoint: server.endpoint,
      region: server.region,
      forcePathStyle: true,
      credentials: { accessKeyId, secretAccessKey },
    });
    const rawError = await raw
      .send(new PutObjectCommand({ Bucket: bucket, Key: "x.txt", Body: "x" }))
      .catch((error: unknown) => error);
    expect(inspect(rawError)).toContain(accessKeyId);
    raw.destroy();

    const storage = await bucketStorage(server, { credentials: { accessKeyId, secretAccessKey } }, bucket);
    const errors = [
      await expectCode(storage.write("x.txt", "x"), "PermissionDenied"),
      await expectCode(storage.stat("x.txt"), "PermissionDenied"),
      await expectCode(all(storage.list("")), "PermissionDenied"),
    ];
    for (const error of errors) {
      const everything = `${error.message}\n${inspect(error, { depth: 10 })}\n${JSON.stringify(error)}`;
      expect(everything).not.toContain(accessKeyId);
      expect(everything).not.toContain(secretAccessKey);
    }
    expect(errors[0]!.message).toMatch(/access denied \(InvalidAccessKeyId\)/);
  });

  it("reports an unreachable endpoint as Transient", async () => {
    const { client } = recordingClient({ ...server, endpoint: "http://127.0.0.1:1" }, 1);
    const storage = await bucketStorage(server, { client });
    const error = await expectCode(storage.stat("x"), "Transient");
    expect(error.retryable).toBe(true);
  });
});

describe("declared s3rver gaps, shown", () => {
  it("sends If-None-Match: * for create-only writes, which s3rver ignores (hence conditionalWrite: false in its tests)", async () => {
    const { client, traffic } = recordingClient(server);
    // Declared as S3 itself behaves: the plugin's own capabilities, no override.
    const storage = await bucketStorage(server, { client, capabilities: {} });
    expect(storage.capabilities.conditionalWrite).toBe(true);
    await storage.write("once.txt", "first", { ifNoneMatch: "*" });
    await storage.write("once.txt", "second", { ifNoneMatch: "*" });
    expect(
      traffic
        .filter((exchange) => exchange.command === "PutObject")
        .map((exchange) => exchange.headers["if-none-match"]),
    ).toEqual(["*", "*"]);
    // S3 would answer 412 to the second write; s3rver overwrites. If this starts failing, s3rver gained the feature.
    expect(new TextDecoder().decode(await storage.readBytes("once.txt"))).toBe("second");
  });
});

describe("error mapping", () => {
  const context = { operation: "write", path: "k", bucket: "b" };
  const sdkError = (name: string, status: number, extra: Record<string, unknown> = {}) =>
    Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status }, ...extra });

  it("maps the S3 error codes a server can answer to ferry codes", () => {
    const cases: Array<[unknown, FerryError["code"]]> = [
      [sdkError("NoSuchKey", 404), "NotFound"],
      [sdkError("NotFound", 404), "NotFound"],
      [sdkError("AccessDenied", 403), "PermissionDenied"],
      [sdkError("PreconditionFailed", 412), "ConditionNotMet"],
      [sdkError("BadDigest", 400), "Integrity"],
      [sdkError("SlowDown", 503), "Transient"],
      [sdkError("InternalError", 500), "Transient"],
      [Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }), "Transient"],
      [sdkError("NotImplemented", 501), "Unsupported"],
    ];
    for (const [error, code] of cases) expect(mapS3Error(error, context).code, String(error)).toBe(code);
    expect(mapS3Error(sdkError("NoSuchBucket", 404), context).message).toContain('bucket "b" does not exist');
  });

  it("redacts key ids and signatures that reach a message", () => {
    const leaky = sdkError("Weird", 400, {
      message:
        "bad request AKIAIOSFODNN7EXAMPLE Credential=AKIAIOSFODNN7EXAMPLE/20260101 Signature=abcdef0123",
    });
    const mapped = mapS3Error(leaky, { ...context, secrets: ["my-secret-value"] });
    expect(mapped.message).not.toMatch(/AKIAIOSFODNN7EXAMPLE|abcdef0123/);
    expect(inspect(mapped, { depth: 5 })).not.toMatch(/AKIAIOSFODNN7EXAMPLE|abcdef0123/);
  });
});

describe("md5 from object headers", () => {
  it("trusts a plain ETag or a recorded MD5, never a multipart or key-encrypted ETag", () => {
    const hex = "9e107d9d372bb6826bd81d3542a419d6";
    expect(md5Of(`"${hex}"`, undefined, false)).toBe(hex);
    expect(md5Of(`"${hex}-3"`, undefined, false)).toBeUndefined();
    expect(md5Of(`"${hex}"`, undefined, true)).toBeUndefined();
    expect(md5Of(`"${hex}-3"`, { md5chksum: Buffer.from(hex, "hex").toString("base64") }, false)).toBe(hex);
  });
});

describe("collectBytes helper sanity", () => {
  it("reads back what a stream wrote through s3rver", async () => {
    const storage = await bucketStorage(server);
    await storage.write("sanity.txt", "ok");
    expect(new TextDecoder().decode(await collectBytes(await storage.read("sanity.txt")))).toBe("ok");
  });
});

export { s3rverOptions };
