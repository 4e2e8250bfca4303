/** Objects, listings and directory markers against s3rver. */
import { randomBytes } from "node:crypto";
import { expectFerryError, listEntries, md5Hex } from "@ferry/conformance";
import { collectBytes, type Entry, type Storage } from "@ferry/plugin-kit";
import { printLogsOnFailure, type S3Backend } from "@ferry/test-harness";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { md5Of } from "../../src/list.ts";
import { bucketStorage, startS3rver } from "../fixture.ts";
import { recordingClient } from "../traffic.ts";

let server: S3Backend;
beforeAll(async () => {
  server = await startS3rver();
});
afterAll(() => server?.stop());
afterEach((context) => printLogsOnFailure(context, server));

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
      md5: md5Hex(Buffer.from("hello s3")),
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
    await expectFerryError(storage.readBytes("missing.bin", { range: { offset: 0, length: 0 } }), "NotFound");
    await expectFerryError(storage.readBytes("missing.bin"), "NotFound");
  });

  it("stats a prefix with keys below it as a directory, and nothing else", async () => {
    await storage.write("tree/a/b/c.txt", "c");
    expect(await storage.stat("tree")).toMatchObject({ kind: "directory", path: "tree" });
    expect(await storage.stat("tree/a/b")).toMatchObject({ kind: "directory" });
    await expectFerryError(storage.stat("tree/a/b/c"), "NotFound");
    await expectFerryError(storage.stat("tre"), "NotFound");
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
    const entries = await listEntries(storage, "");
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
      md5: md5Hex(Buffer.from("d.txt")),
    });
  });

  it("pages with a small page size and resumes after startAfter", async () => {
    const paged = await listEntries(storage, "c", { pageSize: 2 });
    expect(paged.map((entry) => entry.path)).toEqual(["c/1", "c/2", "c/3", "c/4", "c/5"]);
    const after = await listEntries(storage, "c", { pageSize: 2, startAfter: "c/2", limit: 2 });
    expect(after.map((entry) => entry.path)).toEqual(["c/3", "c/4"]);
  });

  it("lists recursively as files only, and a missing directory or a file as empty", async () => {
    const entries = await listEntries(storage, "d", { recursive: true });
    expect(entries.map((entry: Entry) => entry.path)).toEqual(["d/x.txt", "d/y/z.txt"]);
    expect(await listEntries(storage, "nothing-here")).toEqual([]);
    expect(await listEntries(storage, "d.txt")).toEqual([]);
  });

  it("deletes in batches of the declared size", async () => {
    const { client, traffic } = recordingClient(server);
    const batched = await bucketStorage(server, { client, capabilities: { limits: { deleteBatchMax: 2 } } });
    const keys = ["1", "2", "3", "4", "5"].map((name) => `batch/${name}`);
    for (const key of keys) await batched.write(key, key);
    await batched.delete([...keys, "batch/never-existed"]);
    expect(traffic.filter((exchange) => exchange.command === "DeleteObjects")).toHaveLength(3);
    expect(await listEntries(batched, "batch")).toEqual([]);
  });
});

describe("directory markers", () => {
  it("are written only when asked for, and listed and removed like directories", async () => {
    const plain = await bucketStorage(server);
    await expectFerryError(plain.mkdir("empty"), "Unsupported");
    const storage = await bucketStorage(server, { directoryMarkers: true });
    expect(storage.capabilities).toMatchObject({ mkdir: "marker", emptyDirectories: true });
    await storage.mkdir("empty/inner");
    expect(await storage.stat("empty/inner")).toMatchObject({ kind: "directory" });
    expect((await listEntries(storage, "empty")).map((entry) => [entry.path, entry.kind])).toEqual([
      ["empty/inner", "directory"],
    ]);
    expect(await listEntries(storage, "empty/inner")).toEqual([]);
    await storage.write("empty/inner/file.txt", "f");
    expect((await listEntries(storage, "", { recursive: true })).map((entry) => entry.path)).toEqual([
      "empty/inner/file.txt",
    ]);
    await storage.deleteDirectory("empty");
    await expectFerryError(storage.stat("empty/inner"), "NotFound");
  });
});

describe("declared s3rver gaps, shown", () => {
  it("sends If-None-Match: * for create-only writes, which s3rver ignores (hence conditionalWrite: false in its tests)", async () => {
    const { client, traffic } = recordingClient(server);
    // Declared as S3 itself behaves, and trusted without the probe (conditional.test.ts shows the probe).
    const storage = await bucketStorage(server, { client, capabilities: {}, probeConditionalWrites: false });
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
