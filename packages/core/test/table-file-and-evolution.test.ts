/**
 * A Table at a path ending in `.parquet` is one parquet file, not a folder; appending a frame with a new
 * nullable column evolves the schema (older parts read it as null).
 */
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FerryError, t } from "@ferry/plugin-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Table, table } from "../src/index.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-table-file-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rejection(promise: Promise<unknown>): Promise<FerryError> {
  try {
    await promise;
  } catch (error) {
    expect(FerryError.isInstance(error), String(error)).toBe(true);
    return error as FerryError;
  }
  throw new Error("expected a FerryError");
}

describe("a table at a path ending in .parquet is one file", () => {
  it("write() makes one parquet file that reads back as the table, across row groups", async () => {
    const location = join(dir, "scores.parquet");
    const rows = 2_500;
    const data = {
      id: Array.from({ length: rows }, (_, i) => i),
      name: Array.from({ length: rows }, (_, i) => `n${i % 7}`),
    };
    const written = await table(data, location, { rowGroupSize: 1_000 }).write();
    expect((await stat(location)).isFile()).toBe(true);
    expect(written.lastWrite?.files).toHaveLength(1);
    expect(await Table.from(location).count()).toBe(rows);
    expect(await Table.from(location).fetch()).toEqual(data);

    // Overwrite replaces the file in place; nothing else appears beside it.
    await table({ id: [7], name: ["x"] }, location).write();
    expect(await Table.from(location).fetch()).toEqual({ id: [7], name: ["x"] });
    expect(await readdir(dir)).toEqual(["scores.parquet"]);
  });

  it("an empty table is still one readable file with its columns", async () => {
    const location = join(dir, "empty.parquet");
    await table({ id: [] as number[] }, location, { schema: { fields: [t.field("id", t.int32())] } }).write();
    expect((await stat(location)).isFile()).toBe(true);
    expect(await Table.from(location).count()).toBe(0);
    expect((await Table.from(location).schema()).fields.map((f) => f.name)).toEqual(["id"]);
  });

  it("mode error, append, partitionBy and maxRowsPerFile are refused for one file, leaving it as it was", async () => {
    const location = join(dir, "once.parquet");
    await table({ id: [1, 2] }, location).write();
    const exists = await rejection(table({ id: [3] }, location).write({ mode: "error" }));
    expect(exists.code).toBe("AlreadyExists");
    const append = await rejection(table({ id: [3] }, location).write({ mode: "append" }));
    expect(append.code).toBe("InvalidInput");
    expect(append.message).toMatch(/cannot append to .*once\.parquet: it is one parquet file/);
    const partitioned = await rejection(
      table({ id: [3], team: ["a"] }, join(dir, "parted.parquet")).write({ partitionBy: ["team"] }),
    );
    expect(partitioned.message).toMatch(/partitionBy .* table folder/);
    const split = await rejection(
      table({ id: [3] }, join(dir, "split.parquet")).write({ maxRowsPerFile: 1 }),
    );
    expect(split.message).toMatch(/maxRowsPerFile .* table folder/);
    expect(await Table.from(location).fetch()).toEqual({ id: [1, 2] });
    await expect(stat(join(dir, "parted.parquet"))).rejects.toThrow();
    await expect(stat(join(dir, "split.parquet"))).rejects.toThrow();
  });

  it("a table folder already at a .parquet path is not replaced by a file", async () => {
    const folder = join(dir, "old-style.parquet");
    await table({ id: [1] }, join(folder, "inner")).write();
    const error = await rejection(table({ id: [2] }, folder).write());
    expect(error.code).toBe("InvalidInput");
    expect(error.message).toMatch(/old-style\.parquet is a folder/);
  });

  it("rm() deletes the file", async () => {
    const location = join(dir, "gone.parquet");
    await table({ id: [1] }, location).write();
    await Table.from(location).rm();
    await expect(stat(location)).rejects.toThrow();
  });
});

describe("append evolves the schema with new nullable columns", () => {
  it("a frame with a new nullable column appends; older parts read it as null", async () => {
    const location = join(dir, "evolving");
    await table({ id: [1, 2], name: ["a", "b"] }, location).write();
    await table({ id: [3], name: ["c"], score: [0.5] }, location).write({ mode: "append" });
    const back = Table.from(location);
    expect((await back.schema()).fields.map((f) => f.name)).toEqual(["id", "name", "score"]);
    expect(await back.fetch()).toEqual({ id: [1, 2, 3], name: ["a", "b", "c"], score: [null, null, 0.5] });
    expect(await back.count()).toBe(3);
    // And once more with the evolved schema.
    await table({ id: [4], name: ["d"], score: [1.5] }, location).write({ mode: "append" });
    expect((await back.fetch({ columns: ["score"] })).score).toEqual([null, null, 0.5, 1.5]);
  });

  it("a dropped column, a changed type or a new non-nullable column is still refused, naming it", async () => {
    const location = join(dir, "strict");
    await table({ id: [1], name: ["a"] }, location).write();
    const dropped = await rejection(table({ id: [2] }, location).write({ mode: "append" }));
    expect(dropped.message).toMatch(/cannot append to .*strict: .*column "name" is missing from the data/);
    const changed = await rejection(table({ id: [2], name: [5] }, location).write({ mode: "append" }));
    expect(changed.message).toMatch(/column "name" is string in the table but int32 in the data/);
    const required = await rejection(
      table({ id: [2], name: ["b"], must: [1] }, location, {
        schema: {
          fields: [t.field("id", t.int32()), t.field("name", t.string()), t.field("must", t.int32(), false)],
        },
      }).write({ mode: "append" }),
    );
    expect(required.message).toMatch(/new column "must" is not nullable/);
    expect(await Table.from(location).fetch()).toEqual({ id: [1], name: ["a"] });
  });
});
