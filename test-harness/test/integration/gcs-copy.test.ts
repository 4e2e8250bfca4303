/**
 * Server-side copies through the official client: rewrite with its continuation token, compose,
 * atomic move, and the client's own integrity checks on downloads.
 */
import { randomBytes } from "node:crypto";
import { Storage } from "@google-cloud/storage";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type GcsBackend, printLogsOnFailure, startGcsServer } from "../../src/index.ts";

let backend: GcsBackend;
let storage: Storage;

beforeAll(async () => {
  // 64 KiB per rewrite call, so KB-sized objects need several calls.
  backend = await startGcsServer({ rewriteBytesPerCall: 64 * 1024 });
  storage = new Storage({ apiEndpoint: backend.endpoint, projectId: backend.projectId });
});
afterAll(() => backend?.stop());
afterEach((context) => printLogsOnFailure(context, backend));

describe("rewrite", () => {
  it("copies across buckets in several calls, following rewriteToken until done", async () => {
    const source = storage.bucket(backend.createBucket()).file("src/big.bin");
    const target = storage.bucket(backend.createBucket()).file("dst/copy.bin");
    const data = randomBytes(200_000);
    await source.save(data, {
      resumable: false,
      metadata: { contentType: "application/x-big", metadata: { origin: "test" } },
    });
    const before = backend.requests().length;
    await source.copy(target);
    const calls = backend
      .requests()
      .slice(before)
      .filter((r) => r.url.includes("/rewriteTo/"));
    expect(calls.map((c) => c.url.includes("rewriteToken="))).toEqual([false, true, true, true]);
    expect(calls.every((c) => c.status === 200 && c.bytesIn < 1000)).toBe(true);
    const [sourceMeta] = await source.getMetadata();
    const [copyMeta] = await target.getMetadata();
    expect(copyMeta).toMatchObject({
      size: "200000",
      md5Hash: sourceMeta.md5Hash,
      crc32c: sourceMeta.crc32c,
      contentType: "application/x-big",
      metadata: { origin: "test" },
    });
    expect(copyMeta.generation).not.toBe(sourceMeta.generation);
    expect((await target.download())[0].equals(data)).toBe(true);
  });

  it("sets destination metadata from the request body and honours ifGenerationMatch on the destination", async () => {
    const bucket = storage.bucket(backend.createBucket());
    const source = bucket.file("a.txt");
    await source.save("payload", { resumable: false, metadata: { contentType: "text/plain" } });
    await source.copy(bucket.file("b.txt"), { contentType: "text/x-copied", metadata: { k: "v" } } as never);
    expect((await bucket.file("b.txt").getMetadata())[0]).toMatchObject({
      contentType: "text/x-copied",
      metadata: { k: "v" },
    });
    await expect(
      source.copy(bucket.file("b.txt"), { preconditionOpts: { ifGenerationMatch: 0 } }),
    ).rejects.toMatchObject({ code: 412 });
    await expect(bucket.file("missing").copy(bucket.file("c.txt"))).rejects.toMatchObject({ code: 404 });
    expect((await bucket.file("c.txt").exists())[0]).toBe(false);
  });

  it("moves with copy + delete (file.move) and atomically (moveFileAtomic)", async () => {
    const bucket = storage.bucket(backend.createBucket());
    await bucket.file("one").save("1", { resumable: false });
    await bucket.file("one").move("two");
    await bucket.file("two").moveFileAtomic("three");
    expect((await bucket.getFiles())[0].map((f) => f.name)).toEqual(["three"]);
    expect((await bucket.file("three").download())[0].toString()).toBe("1");
    await bucket.file("four").save("4", { resumable: false });
    await expect(
      bucket.file("three").moveFileAtomic("four", { preconditionOpts: { ifGenerationMatch: 0 } }),
    ).rejects.toMatchObject({ code: 412 });
    expect((await bucket.getFiles())[0].map((f) => f.name)).toEqual(["four", "three"]);
  });
});

describe("compose", () => {
  it("concatenates sources into a composite object with crc32c and no md5", async () => {
    const bucket = storage.bucket(backend.createBucket());
    await bucket.file("p1").save("hello ", { resumable: false });
    await bucket.file("p2").save("world", { resumable: false });
    const [composite] = await bucket.combine(["p1", "p2"], "whole.txt");
    const [metadata] = await composite.getMetadata();
    expect(metadata).toMatchObject({
      size: "11",
      crc32c: "yZRlqg==",
      componentCount: 2,
      contentType: "text/plain",
    });
    expect(metadata.md5Hash).toBeUndefined();
    expect((await composite.download())[0].toString()).toBe("hello world");
    await expect(bucket.combine(["p1", "nope"], "bad.txt")).rejects.toMatchObject({ code: 404 });
    const tooMany = Array.from({ length: 33 }, () => "p1");
    await expect(bucket.combine(tooMany, "bad.txt")).rejects.toMatchObject({ code: 400 });
  });
});

describe("download integrity", () => {
  it("lets the client verify crc32c and md5 on full downloads", async () => {
    const file = storage.bucket(backend.createBucket()).file("checked.bin");
    const data = randomBytes(150_000);
    await file.save(data, { resumable: false });
    expect((await file.download({ validation: "crc32c" }))[0].equals(data)).toBe(true);
    expect((await file.download({ validation: "md5" }))[0].equals(data)).toBe(true);
  });
});
