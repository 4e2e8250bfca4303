/**
 * The GCS server, exercised only through the official @google-cloud/storage client: buckets,
 * multipart uploads, metadata, ranged downloads, listing and deletes.
 */
import { Storage } from "@google-cloud/storage";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type GcsBackend, printLogsOnFailure, startGcsServer } from "../../src/index.ts";

let backend: GcsBackend;
let storage: Storage;

beforeAll(async () => {
  backend = await startGcsServer();
  storage = new Storage({ apiEndpoint: backend.endpoint, projectId: backend.projectId });
});
afterAll(() => backend?.stop());
afterEach((context) => printLogsOnFailure(context, backend));

describe("buckets", () => {
  it("creates, gets, lists and deletes buckets; refuses duplicates and non-empty deletes", async () => {
    const [bucket] = await storage.createBucket("ferry-bucket-ops");
    expect(bucket.name).toBe("ferry-bucket-ops");
    expect((await bucket.exists())[0]).toBe(true);
    await expect(storage.createBucket("ferry-bucket-ops")).rejects.toMatchObject({ code: 409 });
    const [buckets] = await storage.getBuckets({ prefix: "ferry-bucket-" });
    expect(buckets.map((b) => b.name)).toEqual(["ferry-bucket-ops"]);
    await bucket.file("x").save("x", { resumable: false });
    await expect(bucket.delete()).rejects.toMatchObject({ code: 409 });
    await bucket.file("x").delete();
    await bucket.delete();
    expect((await bucket.exists())[0]).toBe(false);
    await expect(storage.bucket("ferry-missing-bucket").getMetadata()).rejects.toMatchObject({
      code: 404,
      message: "The specified bucket does not exist.",
    });
  });

  it("rejects invalid bucket names with 400", async () => {
    await expect(storage.createBucket("Bad_Name")).rejects.toMatchObject({ code: 400 });
  });
});

describe("objects", () => {
  it("round-trips a multipart upload with metadata, hashes and a generation", async () => {
    const bucket = storage.bucket(backend.createBucket());
    const file = bucket.file("dir/a b+c?#ü.txt");
    await file.save("hello world", {
      resumable: false,
      metadata: { contentType: "text/plain", metadata: { k: "v" } },
    });
    const [metadata] = await file.getMetadata();
    expect(metadata).toMatchObject({
      name: "dir/a b+c?#ü.txt",
      size: "11",
      contentType: "text/plain",
      md5Hash: "XrY7u+Ae7tCTyyK7j1rNww==",
      crc32c: "yZRlqg==",
      metageneration: "1",
      metadata: { k: "v" },
    });
    expect(Number(metadata.generation)).toBeGreaterThan(0);
    const [bytes] = await file.download();
    expect(bytes.toString()).toBe("hello world");
    // md5 validation needs the md5 entry of x-goog-hash to be parsed by the client.
    const [checked] = await file.download({ validation: "md5" });
    expect(checked.toString()).toBe("hello world");
  });

  it("stores an empty object with the documented empty crc32c", async () => {
    const file = storage.bucket(backend.createBucket()).file("empty");
    await file.save("", { resumable: false });
    const [metadata] = await file.getMetadata();
    expect(metadata).toMatchObject({ size: "0", crc32c: "AAAAAA==", md5Hash: "1B2M2Y8AsgTpgAmY7PhCfg==" });
    expect((await file.download())[0].length).toBe(0);
  });

  it("gives a new generation on overwrite and bumps metageneration on patch", async () => {
    const file = storage.bucket(backend.createBucket()).file("gen.txt");
    await file.save("one", { resumable: false });
    const [first] = await file.getMetadata();
    await file.save("two", { resumable: false });
    const [second] = await file.getMetadata();
    expect(Number(second.generation)).toBeGreaterThan(Number(first.generation));
    const [patched] = await file.setMetadata({ contentType: "text/x-two", metadata: { a: "1", b: "2" } });
    expect(patched).toMatchObject({
      metageneration: "2",
      contentType: "text/x-two",
      metadata: { a: "1", b: "2" },
    });
    const [removed] = await file.setMetadata({ metadata: { a: null } });
    expect(removed.metadata).toEqual({ b: "2" });
    await expect(
      file.setMetadata({ contentType: "x/y" }, { ifMetagenerationMatch: 1 }),
    ).rejects.toMatchObject({ code: 412 });
  });

  it("serves byte ranges with 206 and refuses a start past the end with 416", async () => {
    const file = storage.bucket(backend.createBucket()).file("range.bin");
    await file.save("0123456789", { resumable: false });
    expect((await file.download({ start: 2, end: 5 }))[0].toString()).toBe("2345");
    expect((await file.download({ start: 7 }))[0].toString()).toBe("789");
    expect((await file.download({ start: 8, end: 100 }))[0].toString()).toBe("89");
    expect((await file.download({ end: -3 }))[0].toString()).toBe("789");
    await expect(file.download({ start: 10 })).rejects.toMatchObject({ code: 416 });
    const statuses = backend
      .requests()
      .filter((r) => r.url.includes("range.bin") && r.url.includes("alt=media"))
      .map((r) => r.status);
    expect(statuses).toEqual([206, 206, 206, 206, 416]);
  });

  it("answers 404 with the documented message for missing objects", async () => {
    const bucket = storage.bucket(backend.createBucket());
    const file = bucket.file("missing.txt");
    expect((await file.exists())[0]).toBe(false);
    await expect(file.getMetadata()).rejects.toMatchObject({
      code: 404,
      message: `No such object: ${bucket.name}/missing.txt`,
    });
    await expect(file.download()).rejects.toMatchObject({ code: 404 });
    await expect(file.delete()).rejects.toMatchObject({ code: 404 });
    await file.delete({ ignoreNotFound: true });
  });

  it("applies generation preconditions: 0 = must not exist, match and not-match", async () => {
    const file = storage.bucket(backend.createBucket()).file("cond.txt");
    await file.save("first", { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } });
    const error = await file
      .save("second", { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 412,
      errors: [
        {
          reason: "conditionNotMet",
          message: "At least one of the pre-conditions you specified did not hold.",
        },
      ],
    });
    const [metadata] = await file.getMetadata();
    const generation = Number(metadata.generation);
    await expect(
      file.save("third", { resumable: false, preconditionOpts: { ifGenerationMatch: generation + 1 } }),
    ).rejects.toMatchObject({ code: 412 });
    await file.save("fourth", { resumable: false, preconditionOpts: { ifGenerationMatch: generation } });
    expect((await file.download())[0].toString()).toBe("fourth");
    await expect(file.delete({ ifGenerationMatch: generation })).rejects.toMatchObject({ code: 412 });
    await expect(
      file.delete({ ifGenerationNotMatch: Number((await file.getMetadata())[0].generation) }),
    ).rejects.toMatchObject({ code: 412 });
    await file.delete();
  });

  it("rejects an upload whose md5Hash does not match the bytes, leaving nothing", async () => {
    const file = storage.bucket(backend.createBucket()).file("bad-md5.txt");
    const wrongMd5 = Buffer.alloc(16).toString("base64");
    await expect(
      file.save("payload", { resumable: false, metadata: { md5Hash: wrongMd5 } }),
    ).rejects.toMatchObject({ code: 400 });
    expect((await file.exists())[0]).toBe(false);
    const wrongCrc = "AAAAAA==";
    await expect(
      file.save("payload", { resumable: false, metadata: { crc32c: wrongCrc } }),
    ).rejects.toMatchObject({ code: 400 });
    expect((await file.exists())[0]).toBe(false);
  });
});

describe("listing", () => {
  it("folds by delimiter, pages with tokens and honours start/end offsets", async () => {
    const bucket = storage.bucket(backend.createBucket());
    const names = ["a.txt", "dir-x", "dir/1", "dir/2", "dir/sub/3", "dir/sub/", "z/ü", "é"];
    for (const name of names) await bucket.file(name).save(name, { resumable: false });

    const [all] = await bucket.getFiles();
    // UTF-8 byte order: "dir-x" < "dir/…" ('-' < '/'), "z/ü" < "é".
    expect(all.map((f) => f.name)).toEqual([
      "a.txt",
      "dir-x",
      "dir/1",
      "dir/2",
      "dir/sub/",
      "dir/sub/3",
      "z/ü",
      "é",
    ]);

    const [, , top] = await bucket.getFiles({ delimiter: "/", autoPaginate: false });
    expect((top as { prefixes: string[] }).prefixes).toEqual(["dir/", "z/"]);
    const [inDir, , dirResponse] = await bucket.getFiles({
      prefix: "dir/",
      delimiter: "/",
      autoPaginate: false,
    });
    expect(inDir.map((f) => f.name)).toEqual(["dir/1", "dir/2"]);
    expect((dirResponse as { prefixes: string[] }).prefixes).toEqual(["dir/sub/"]);
    const [withMarker] = await bucket.getFiles({
      prefix: "dir/",
      delimiter: "/",
      includeTrailingDelimiter: true,
      autoPaginate: false,
    });
    expect(withMarker.map((f) => f.name)).toEqual(["dir/1", "dir/2", "dir/sub/"]);

    const pages: string[][] = [];
    let query: Record<string, unknown> | null = { maxResults: 3, autoPaginate: false };
    while (query) {
      const [files, next]: [{ name: string }[], Record<string, unknown> | null] = (await bucket.getFiles(
        query,
      )) as never;
      pages.push(files.map((f) => f.name));
      query = next;
    }
    expect(pages).toEqual([
      ["a.txt", "dir-x", "dir/1"],
      ["dir/2", "dir/sub/", "dir/sub/3"],
      ["z/ü", "é"],
    ]);

    const [window] = await bucket.getFiles({ startOffset: "dir/2", endOffset: "z" });
    expect(window.map((f) => f.name)).toEqual(["dir/2", "dir/sub/", "dir/sub/3"]);

    // maxResults counts items and prefixes together; a page may hold just a prefix.
    const seen: string[] = [];
    let folded: Record<string, unknown> | null = { delimiter: "/", maxResults: 1, autoPaginate: false };
    while (folded) {
      const [files, next, response]: [
        { name: string }[],
        Record<string, unknown> | null,
        { prefixes?: string[] },
      ] = (await bucket.getFiles(folded)) as never;
      seen.push(...files.map((f) => f.name), ...(response.prefixes ?? []));
      expect(files.length + (response.prefixes?.length ?? 0)).toBe(1);
      folded = next;
    }
    expect(seen).toEqual(["a.txt", "dir-x", "dir/", "z/", "é"]);
  });

  it("deletes by prefix through bucket.deleteFiles", async () => {
    const bucket = storage.bucket(backend.createBucket());
    for (const name of ["p/1", "p/2", "q/1"]) await bucket.file(name).save(name, { resumable: false });
    await bucket.deleteFiles({ prefix: "p/" });
    expect((await bucket.getFiles())[0].map((f) => f.name)).toEqual(["q/1"]);
  });
});

describe("without the /storage/v1 prefix (STORAGE_EMULATOR_HOST)", () => {
  it("serves the same API when the client drops the prefix", async () => {
    const previous = process.env.STORAGE_EMULATOR_HOST;
    process.env.STORAGE_EMULATOR_HOST = backend.endpoint;
    try {
      const emulated = new Storage({ projectId: backend.projectId });
      const bucket = emulated.bucket(backend.createBucket());
      await bucket.file("env.txt").save("via env", { resumable: false });
      expect((await bucket.file("env.txt").download())[0].toString()).toBe("via env");
      expect((await bucket.getFiles())[0].map((f) => f.name)).toEqual(["env.txt"]);
      expect(backend.requests().some((r) => r.url.startsWith(`/b/${bucket.name}/o`))).toBe(true);
    } finally {
      if (previous === undefined) delete process.env.STORAGE_EMULATOR_HOST;
      else process.env.STORAGE_EMULATOR_HOST = previous;
    }
  });
});
