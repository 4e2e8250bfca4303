/**
 * Resumable uploads through the official client: single-request streaming, chunked sessions with
 * 308 + Range, status queries, resuming after a connection drops mid-chunk, and integrity.
 */
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { IdempotencyStrategy, Storage } from "@google-cloud/storage";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Crc32c, type GcsBackend, printLogsOnFailure, startGcsServer } from "../../src/index.ts";

let backend: GcsBackend;
let storage: Storage;

beforeAll(async () => {
  backend = await startGcsServer();
  storage = new Storage({ apiEndpoint: backend.endpoint, projectId: backend.projectId });
});
afterAll(() => backend?.stop());
afterEach((context) => printLogsOnFailure(context, backend));

const md5 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("base64");
const uploadPuts = (name: string) =>
  backend.requests().filter((r) => r.method === "PUT" && r.url.includes(`name=${encodeURIComponent(name)}`));

describe("crc32c", () => {
  it("matches the published check value and the client's own implementation", async () => {
    expect(new Crc32c().update(Buffer.from("123456789")).value()).toBe(0xe3069283);
    const { CRC32C } = await import("@google-cloud/storage");
    const data = randomBytes(100_000);
    const theirs = new CRC32C();
    theirs.update(data);
    expect(new Crc32c().update(data.subarray(0, 777)).update(data.subarray(777)).base64()).toBe(
      theirs.toString(),
    );
  });
});

describe("resumable uploads", () => {
  it("streams a single-request upload of unknown size", async () => {
    const file = storage.bucket(backend.createBucket()).file("stream.bin");
    const data = randomBytes(300_000);
    await pipeline(
      Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]),
      file.createWriteStream({ resumable: true, contentType: "application/x-test" }),
    );
    const [metadata] = await file.getMetadata();
    expect(metadata).toMatchObject({ size: "300000", md5Hash: md5(data), contentType: "application/x-test" });
    expect((await file.download())[0].equals(data)).toBe(true);
  });

  it("uploads in 256 KiB chunks, answering 308 with Range between them", async () => {
    const name = "chunked.bin";
    const file = storage.bucket(backend.createBucket()).file(name);
    const data = randomBytes(3 * 256 * 1024 + 1000);
    await file.save(data, { resumable: true, chunkSize: 256 * 1024 });
    const puts = uploadPuts(name);
    expect(puts.map((p) => p.status)).toEqual([308, 308, 308, 200]);
    expect(puts.map((p) => p.bytesIn)).toEqual([262144, 262144, 262144, 1000]);
    expect((await file.download())[0].equals(data)).toBe(true);
  });

  it("resumes after the connection drops mid-chunk, from the offset the status query reports", async () => {
    const name = "interrupted.bin";
    const file = storage.bucket(backend.createBucket()).file(name);
    const data = randomBytes(2 * 256 * 1024 + 5000);
    // The first chunk's PUT loses its connection after 1000 bytes; the server keeps those.
    backend.injectFault({ method: "PUT", path: /upload_id=/, resetAfterBytes: 1000, times: 1 });
    const skipFirst = backend.requests().length;
    const retrying = new Storage({
      apiEndpoint: backend.endpoint,
      projectId: backend.projectId,
      retryOptions: {
        idempotencyStrategy: IdempotencyStrategy.RetryAlways,
        retryDelayMultiplier: 1,
        maxRetries: 3,
      },
    });
    await retrying
      .bucket(file.bucket.name)
      .file(name)
      .save(data, { resumable: true, chunkSize: 256 * 1024 });
    const puts = backend
      .requests()
      .slice(skipFirst)
      .filter((r) => r.method === "PUT");
    // dropped chunk (1000 bytes kept), status query (308 Range 0-999), then the rest.
    expect(puts[0]).toMatchObject({ status: 0, bytesIn: 1000 });
    expect(puts[1]).toMatchObject({ status: 308, bytesIn: 0 });
    expect(puts.slice(2).reduce((sum, p) => sum + p.bytesIn, 0)).toBe(data.length - 1000);
    expect(puts.at(-1)!.status).toBe(200);
    expect((await file.download())[0].equals(data)).toBe(true);
  });

  it("continues a session from its URI after a status query", async () => {
    const bucket = storage.bucket(backend.createBucket());
    const file = bucket.file("session.bin");
    const [uri] = await file.createResumableUpload({ metadata: { contentType: "application/x-session" } });
    expect(uri.startsWith(`${backend.endpoint}/upload/storage/v1/b/${bucket.name}/o?`)).toBe(true);
    expect((await file.exists())[0]).toBe(false);
    const data = randomBytes(70_000);
    await pipeline(Readable.from([data]), file.createWriteStream({ uri, resumable: true }));
    expect((await file.getMetadata())[0]).toMatchObject({
      size: "70000",
      contentType: "application/x-session",
      md5Hash: md5(data),
    });
    const query = backend.requests().find((r) => r.method === "PUT" && r.url.includes("session.bin"));
    expect(query).toMatchObject({ status: 308, bytesIn: 0 });
  });

  it("fails a resumable upload whose declared md5Hash does not match, leaving no object", async () => {
    const file = storage.bucket(backend.createBucket()).file("bad.bin");
    const data = randomBytes(10_000);
    await expect(
      file.save(data, { resumable: true, metadata: { md5Hash: md5(randomBytes(4)) } }),
    ).rejects.toMatchObject({ code: 400 });
    expect((await file.exists())[0]).toBe(false);
  });

  it("checks ifGenerationMatch at initiation and at completion", async () => {
    const bucket = storage.bucket(backend.createBucket());
    const file = bucket.file("race.bin");
    await file.save("exists", { resumable: false });
    await expect(
      file.save(randomBytes(1000), { resumable: true, preconditionOpts: { ifGenerationMatch: 0 } }),
    ).rejects.toMatchObject({ status: 412 });
    // Session opened while the name is free, then someone else creates it: completion fails.
    const other = bucket.file("late.bin");
    const [uri] = await other.createResumableUpload({ preconditionOpts: { ifGenerationMatch: 0 } });
    await other.save("winner", { resumable: false });
    const error = await pipeline(
      Readable.from([randomBytes(1000)]),
      other.createWriteStream({ uri, resumable: true, preconditionOpts: { ifGenerationMatch: 0 } }),
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 412 });
    expect((await other.download())[0].toString()).toBe("winner");
  });

  it("answers 503 from an injected fault as a retryable failure the client surfaces", async () => {
    const file = storage.bucket(backend.createBucket()).file("fault.bin");
    backend.injectFault({ method: "PUT", path: /upload_id=/, status: 503 });
    await expect(file.save(randomBytes(1000), { resumable: true })).rejects.toThrow(/503/);
    expect((await file.exists())[0]).toBe(false);
  });
});
