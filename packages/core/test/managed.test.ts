import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { storageBuffer } from "@ferry/parquet";
import type { Storage, StorageDriver } from "@ferry/plugin-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStorage, localStorage } from "../src/index.ts";

/** A driver that, like GitHub's, can only hand over whole objects: it declares rangeRead false and ignores ranges. */
function wholeObjectsOnly(inner: Storage): StorageDriver {
  return {
    system: "whole",
    root: inner.root,
    capabilities: { ...inner.capabilities, rangeRead: false },
    stat: (path, options) => inner.stat(path, options),
    list: (dir, options) => inner.list(dir, options),
    read: (path, options) => inner.read(path, { ...options, range: undefined }),
    write: (path, source, options) => inner.write(path, source, options),
    delete: (paths, options) => inner.delete(paths, options),
  };
}

describe("managed storage", () => {
  let dir: string;
  let storage: Storage;
  const text = "0123456789abcdefghij";

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ferry-managed-"));
    const local = localStorage(dir);
    await local.write("f.txt", text);
    storage = createStorage(wholeObjectsOnly(local));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const read = async (
    range: Parameters<Storage["readBytes"]>[1] extends infer O
      ? O extends { range?: infer R }
        ? R
        : never
      : never,
  ) => new TextDecoder().decode(await storage.readBytes("f.txt", { range }));

  it("emulates byte ranges for drivers that cannot fetch them", async () => {
    expect(await read({ offset: 3, length: 4 })).toBe("3456");
    expect(await read({ offset: 15 })).toBe("fghij");
    expect(await read({ offset: 18, length: 100 })).toBe("ij");
    expect(await read({ offset: 25 })).toBe("");
    expect(await read({ suffix: 3 })).toBe("hij");
    expect(await read({ suffix: 99 })).toBe(text);
  });

  it("refuses negative or fractional ranges with InvalidInput", async () => {
    await expect(storage.readBytes("f.txt", { range: { offset: -1 } })).rejects.toMatchObject({
      code: "InvalidInput",
    });
    await expect(storage.readBytes("f.txt", { range: { offset: 1.5 } })).rejects.toMatchObject({
      code: "InvalidInput",
    });
  });

  it("storageBuffer hands parquet readers exactly the requested bytes even from pooled Node Buffers", async () => {
    // Small Buffers share one allocation pool: a view's .buffer is the whole pool, not the bytes.
    const pooled = createStorage({
      ...wholeObjectsOnly(localStorage(dir)),
      read: async () => Readable.from([Buffer.from(text)]),
    });
    const buffer = storageBuffer(pooled, "f.txt", text.length);
    expect(new TextDecoder().decode(await buffer.slice(16))).toBe("ghij");
    expect(new TextDecoder().decode(await buffer.slice(2, 5))).toBe("234");
  });

  it("sorts one level of an unordered driver in UTF-8 key order, a directory t as t/", async () => {
    const entries = [
      { path: "t", kind: "directory" as const, size: 0 },
      { path: "t.txt", kind: "file" as const, size: 1 },
      { path: "t-", kind: "directory" as const, size: 0 },
      { path: "s", kind: "file" as const, size: 1 },
    ];
    const unordered = createStorage({
      ...wholeObjectsOnly(localStorage(dir)),
      capabilities: { ...storage.capabilities, listOrder: "unordered" },
      async *list() {
        yield* entries;
      },
    });
    const listed: string[] = [];
    for await (const entry of unordered.list("")) listed.push(entry.path);
    expect(listed).toEqual(["s", "t-", "t.txt", "t"]);
  });
});
