import { copyFile, mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ColumnBatch, FerryError, type Schema, t } from "@ferry/plugin-kit";
import { parquetMetadata } from "hyparquet";
import { parquetHeader } from "hyparquet/src/column.js";
import { ByteWriter } from "hyparquet-writer";
import { writePageHeader } from "hyparquet-writer/src/datapage.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Table, table } from "../src/index.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-table-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const seed = { id: [1, 2, 3, 4, 5, 6], grade: ["a", "b", "b", "a", "a", "e"] };

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

async function filesUnder(path: string): Promise<string[]> {
  return (await readdir(path, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(path.length + 1))
    .sort();
}

describe("Table: the seed", () => {
  it("writes, reloads and streams (1,a)(2,b) / (3,b)(4,a) / (5,a)(6,e)", async () => {
    const location = join(dir, "seed");
    await table(seed, location).write();
    const reloaded = Table.from(location);
    // Plain tables stream column objects, like fetch() returns.
    expect(await collect(reloaded.stream({ batchSize: 2 }))).toEqual([
      { id: [1, 2], grade: ["a", "b"] },
      { id: [3, 4], grade: ["b", "a"] },
      { id: [5, 6], grade: ["a", "e"] },
    ]);
    expect(await reloaded.count()).toBe(6);
    expect(await reloaded.fetch()).toEqual(seed);
    const files = await filesUnder(location);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^part-00000-[0-9a-f]{32}\.parquet$/);
  });

  it("accepts an array of row objects and returns the same rows", async () => {
    const rows = seed.id.map((id, i) => ({ id, grade: seed.grade[i] }));
    const location = join(dir, "rows");
    await table(rows, location).write();
    expect(await Table.from(location).fetch()).toEqual(seed);
  });
});

const allTypes: Schema = {
  fields: [
    t.field("i8", t.int8()),
    t.field("i16", t.int16()),
    t.field("i32", t.int32(), false),
    t.field("i64", t.int64()),
    t.field("u8", t.uint8()),
    t.field("u16", t.uint16()),
    t.field("u32", t.uint32()),
    t.field("u64", t.uint64()),
    t.field("f16", { type: "float", bits: 16 }),
    t.field("f32", t.float32()),
    t.field("f64", t.float64()),
    t.field("s", t.string()),
    t.field("flag", t.bool()),
    t.field("ts_s", t.timestamp("s", "Europe/Paris")),
    t.field("ts_ms", t.timestamp("ms")),
    t.field("ts_us", t.timestamp("us", "UTC")),
    t.field("ts_ns", t.timestamp("ns")),
    t.field("day", t.date()),
    t.field("dec9", t.decimal(9, 2)),
    t.field("dec18", t.decimal(18, 4)),
    t.field("dec38", t.decimal(38, 10)),
    t.field("bytes", t.binary()),
    t.field("tags", t.list(t.string())),
    t.field("nested", t.list(t.list(t.int64(), false))),
    t.field(
      "point",
      t.struct([
        t.field("x", t.float64()),
        t.field("label", t.string()),
        t.field("inner", t.struct([t.field("n", t.int32())])),
      ]),
    ),
    t.field("nothing", t.null()),
  ],
};

const allValues = {
  i8: [-128, 127, null],
  i16: [-32768, 32767, 0],
  i32: [-2147483648, 2147483647, 0],
  i64: [-(2n ** 63n), 2n ** 63n - 1n, null],
  u8: [0, 255, null],
  u16: [0, 65535, null],
  u32: [0, 4294967295, null],
  u64: [0n, 2n ** 64n - 1n, null],
  f16: [1.5, -0.25, null],
  f32: [1.5, -3.25, null],
  f64: [0.1 + 0.2, -1e300, Number.NaN],
  s: ["", "héllo ✓", null],
  flag: [true, false, null],
  ts_s: [new Date("2024-01-02T03:04:05Z"), new Date(0), null],
  ts_ms: [new Date("2024-01-02T03:04:05.678Z"), new Date(-1), null],
  ts_us: [1_704_164_645_678_901n, -1n, null],
  ts_ns: [1_704_164_645_678_901_234n, 0n, null],
  day: [new Date("2024-02-29T00:00:00Z"), new Date("1969-12-31T00:00:00Z"), null],
  dec9: ["1234567.89", "-0.01", null],
  dec18: ["99999999999999.9999", "0.0000", null],
  dec38: ["1234567890123456789012345678.0123456789", "-0.0000000001", null],
  bytes: [new Uint8Array([0, 255, 10]), new Uint8Array(), null],
  tags: [["a", null, "c"], [], null],
  nested: [[[1n, 2n], []], [], null],
  point: [{ x: 1.25, label: "p", inner: { n: 7 } }, { x: -1, label: null, inner: null }, null],
  nothing: [null, null, null],
};

describe("Table: types", () => {
  it("round-trips every type exactly, including 64-bit extremes, us/ns timestamps and 38-digit decimals", async () => {
    const location = join(dir, "types");
    await table(allValues, location, { schema: allTypes }).write();
    const back = Table.from(location);
    expect(await back.schema()).toEqual(allTypes);
    expect(await back.fetch()).toEqual(allValues);
  });

  it("infers int32 for integer numbers, float64 otherwise, int64 for bigint, timestamp[ms] for Date, list and struct", async () => {
    const location = join(dir, "inferred");
    const data = {
      small: [1, 2, null],
      big: [1, 2 ** 40, 3],
      frac: [0.5, 1, 2],
      huge: [1n, 2n, 3n],
      when: [new Date(5), null, new Date(6)],
      list: [[1, 2], null, []],
      obj: [{ a: "x" }, { b: true }, null],
    };
    await table(data, location).write();
    const schema = await Table.from(location).schema();
    expect(Object.fromEntries(schema.fields.map((f) => [f.name, f.type]))).toEqual({
      small: t.int32(),
      big: t.float64(),
      frac: t.float64(),
      huge: t.int64(),
      when: t.timestamp("ms", "UTC"),
      list: { type: "list", item: { name: "element", type: t.int32(), nullable: true } },
      obj: t.struct([t.field("a", t.string()), t.field("b", t.bool())]),
    });
    expect(await Table.from(location).fetch()).toEqual({
      ...data,
      obj: [{ a: "x", b: null }, { a: null, b: true }, null],
    });
  });

  it("names the column, row and type of a value that does not fit, and writes nothing", async () => {
    const location = join(dir, "bad-value");
    const write = table({ n: [1, 2, 300] }, location, {
      schema: { fields: [t.field("n", t.int8())] },
    }).write();
    await expect(write).rejects.toSatisfy(
      (e: unknown) =>
        FerryError.isInstance(e, "InvalidInput") &&
        /column "n" \(int8\), row 2: out of range/.test((e as Error).message),
    );
    await expect(filesUnder(location)).rejects.toThrow();
    const mixed = table({ m: [1, "x"] }, join(dir, "mixed")).write();
    await expect(mixed).rejects.toSatisfy(
      (e: unknown) =>
        FerryError.isInstance(e, "InvalidInput") && /"m" mixes number and string/.test((e as Error).message),
    );
    const notDate = table({ d: [new Date("2024-01-01T12:00:00Z")] }, join(dir, "not-midnight"), {
      schema: { fields: [t.field("d", t.date())] },
    }).write();
    await expect(notDate).rejects.toSatisfy(
      (e: unknown) => FerryError.isInstance(e, "InvalidInput") && /UTC midnight/.test((e as Error).message),
    );
    const decimal = table({ d: ["1.234"] }, join(dir, "bad-decimal"), {
      schema: { fields: [t.field("d", t.decimal(5, 2))] },
    }).write();
    await expect(decimal).rejects.toSatisfy(
      (e: unknown) =>
        FerryError.isInstance(e, "InvalidInput") && /more than 2 digits/.test((e as Error).message),
    );
  });

  it("refuses a table with no columns", async () => {
    for (const data of [{}, []]) {
      await expect(table(data, join(dir, "no-columns")).write()).rejects.toSatisfy(
        (e: unknown) =>
          FerryError.isInstance(e, "InvalidInput") && /at least one column/.test((e as Error).message),
      );
    }
  });

  it("refuses a struct with no fields as Unsupported", async () => {
    const write = table({ s: [{}] }, join(dir, "empty-struct"), {
      schema: { fields: [t.field("s", t.struct([]))] },
    }).write();
    await expect(write).rejects.toSatisfy(
      (e: unknown) => FerryError.isInstance(e, "Unsupported") && /"s"/.test((e as Error).message),
    );
  });
});

describe("Table: corrupt files", () => {
  it("refuses a page header claiming a huge uncompressed size instead of allocating it", async () => {
    const location = join(dir, "corrupt-size");
    const { files } = (await table({ n: [1, 2, 3] }, location, { codec: "UNCOMPRESSED" }).write()).lastWrite!;
    const file = `/${files[0]!}`;
    const bytes = new Uint8Array(await readFile(file));
    const metadata = parquetMetadata(bytes);
    const start = Number(metadata.row_groups[0]!.columns[0]!.meta_data!.data_page_offset);
    const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: start };
    const header = parquetHeader(reader);
    const rewritten = new ByteWriter();
    writePageHeader(rewritten, { ...header, uncompressed_page_size: 1 << 30 });
    await writeFile(
      file,
      Buffer.concat([bytes.subarray(0, start), rewritten.getBytes(), bytes.subarray(reader.offset)]),
    );
    const error = await Table.from(location)
      .fetch()
      .catch((e: unknown) => e);
    expect(FerryError.isInstance(error, "InvalidInput"), String(error)).toBe(true);
    expect((error as Error).message).toMatch(/column "n", row group 0: .*page 0 claims 1073741824 bytes/);
  });
});

describe("Table: layout and modes", () => {
  it("splits row groups and part files, and streams exactly batchSize rows across their boundaries", async () => {
    const location = join(dir, "groups");
    const n = 103;
    const ids = Array.from({ length: n }, (_, i) => i);
    const result = (await table({ id: ids }, location, { rowGroupSize: 10, maxRowsPerFile: 35 }).write())
      .lastWrite!;
    expect(result.files).toHaveLength(3);
    const back = Table.from(location);
    const reader = await back.reader();
    const opened = await Promise.all((await reader.parts()).map((p) => reader.open(p)));
    expect(opened.map((o) => o.rowGroups)).toEqual([
      [10, 10, 10, 5],
      [10, 10, 10, 5],
      [10, 10, 10, 3],
    ]);
    for (const size of [1, 7, 10, 103, 200]) {
      const batches = (await collect(back.streamBatches({ batchSize: size }))) as ColumnBatch[];
      expect(batches.slice(0, -1).every((b) => b.numRows === size)).toBe(true);
      expect(batches.flatMap((b) => b.columns.id)).toEqual(ids);
    }
    for (const prefetch of [0, 3]) {
      const batches = (await collect(back.streamBatches({ batchSize: 9, prefetch }))) as ColumnBatch[];
      expect(batches.flatMap((b) => b.columns.id)).toEqual(ids);
    }
    await expect(collect(back.streamBatches({ prefetch: -1 }))).rejects.toSatisfy((e: unknown) =>
      FerryError.isInstance(e, "InvalidInput"),
    );
    const dropped = (await collect(back.streamBatches({ batchSize: 10, dropLast: true }))) as ColumnBatch[];
    expect(dropped.map((b) => b.numRows)).toEqual(Array(10).fill(10));
  });

  it("appends with continued part numbers and overwrites by removing old parts after writing new ones", async () => {
    const location = join(dir, "modes");
    await table(seed, location).write();
    await table({ id: [7], grade: ["f"] }, location).write({ mode: "append" });
    const files = await filesUnder(location);
    expect(files.map((f) => f.slice(0, 10))).toEqual(["part-00000", "part-00001"]);
    expect(await Table.from(location).fetch()).toEqual({
      id: [1, 2, 3, 4, 5, 6, 7],
      grade: [...seed.grade, "f"],
    });
    await expect(table({ other: [1] }, location).write({ mode: "append" })).rejects.toSatisfy(
      (e: unknown) => FerryError.isInstance(e, "InvalidInput") && /cannot append/.test((e as Error).message),
    );
    await expect(table(seed, location).write({ mode: "error" })).rejects.toSatisfy((e: unknown) =>
      FerryError.isInstance(e, "AlreadyExists"),
    );
    await table({ id: [9], grade: ["z"] }, location).write();
    expect(await filesUnder(location)).toHaveLength(1);
    expect(await Table.from(location).fetch()).toEqual({ id: [9], grade: ["z"] });
  });

  it("a failed overwrite leaves the old table as it was and no new files", async () => {
    const location = join(dir, "failed-overwrite");
    await table(seed, location).write();
    const before = await filesUnder(location);
    const ids = Array.from({ length: 50 }, (_, i) => (i === 45 ? "oops" : i));
    const failing = table({ id: ids }, location, {
      schema: { fields: [t.field("id", t.int32())] },
      rowGroupSize: 10,
    }).write();
    await expect(failing).rejects.toSatisfy((e: unknown) => FerryError.isInstance(e, "InvalidInput"));
    expect(await filesUnder(location)).toEqual(before);
    expect(await Table.from(location).fetch()).toEqual(seed);
  });

  it("Hive-partitions with percent-encoded values and nulls, and restores partition columns with their types", async () => {
    const location = join(dir, "hive");
    const data = {
      id: [1, 2, 3, 4, 5, 6],
      grade: ["a", "b/c d=é", "b/c d=é", "a", null, "e"],
      year: [2024n, 2024n, 2025n, 2025n, 2024n, null],
      day: [new Date("2024-01-01T00:00:00Z"), null, null, null, null, null],
    };
    await table(data, location, { partitionBy: ["year", "grade"] }).write();
    const dirs = new Set((await filesUnder(location)).map((f) => f.slice(0, f.lastIndexOf("/"))));
    expect(dirs).toEqual(
      new Set([
        "year=2024/grade=a",
        "year=2024/grade=b%2Fc%20d%3D%C3%A9",
        "year=2025/grade=b%2Fc%20d%3D%C3%A9",
        "year=2025/grade=a",
        "year=2024/grade=__HIVE_DEFAULT_PARTITION__",
        "year=__HIVE_DEFAULT_PARTITION__/grade=e",
      ]),
    );
    const back = Table.from(location);
    expect((await back.schema()).fields.map((f) => f.name)).toEqual(["id", "grade", "year", "day"]);
    // Parts come back in the order partitions were first written, so here in the original order.
    expect(await back.fetch()).toEqual(data);
    expect(await back.fetch({ columns: ["grade", "id"] })).toEqual({ grade: data.grade, id: data.id });
  });

  it("an overwrite of a partitioned table leaves no emptied partition directory behind", async () => {
    const location = join(dir, "hive-overwrite");
    await table(seed, location, { partitionBy: ["grade"] }).write();
    await table({ id: [1], grade: ["z"] }, location, { partitionBy: ["grade"] }).write();
    const entries = (await readdir(location, { recursive: true })).sort();
    expect(entries.filter((e) => !e.endsWith(".parquet"))).toEqual(["grade=z"]);
    expect(await Table.from(location).fetch()).toEqual({ id: [1], grade: ["z"] });
  });

  it("keeps few files open and little buffered with many partitions, and rows keep their order within each", async () => {
    const location = join(dir, "many-partitions");
    const n = 400;
    const data = {
      id: Array.from({ length: n }, (_, i) => i),
      key: Array.from({ length: n }, (_, i) => `k${i % 25}`),
    };
    const schema: Schema = { fields: [t.field("id", t.int32()), t.field("key", t.string())] };
    // Small batches, so every partition receives rows again and again.
    const batches = Array.from({ length: n / 40 }, (_, b) => ({
      schema,
      columns: { id: data.id.slice(b * 40, b * 40 + 40), key: data.key.slice(b * 40, b * 40 + 40) },
      numRows: 40,
    }));
    const result = await Table.from(location).writeBatches(
      { schema, batches },
      { partitionBy: ["key"], maxOpenFiles: 3, rowGroupSize: 8 },
    );
    expect(result.rows).toBe(n);
    // Partitions are closed and reopened: more parts than partitions, numbered in the order written.
    expect(result.files.length).toBeGreaterThan(25);
    const numbers = result.files.map((f) => Number(/part-(\d+)-/.exec(f)![1]));
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    const back = (await Table.from(location).fetch()) as { id: number[]; key: string[] };
    expect([...back.id].sort((a, b) => a - b)).toEqual(data.id);
    for (let k = 0; k < 25; k++) {
      const ids = back.id.filter((_, i) => back.key[i] === `k${k}`);
      expect(ids).toEqual(data.id.filter((id) => id % 25 === k));
    }
  });

  it("refuses partition columns it cannot name a directory after", async () => {
    await expect(
      table({ x: [1.5], y: [1] }, join(dir, "p-float"), { partitionBy: ["x"] }).write(),
    ).rejects.toSatisfy(
      (e: unknown) =>
        FerryError.isInstance(e, "Unsupported") && /partition column "x"/.test((e as Error).message),
    );
    await expect(
      table({ x: [""], y: [1] }, join(dir, "p-empty"), { partitionBy: ["x"] }).write(),
    ).rejects.toSatisfy(
      (e: unknown) => FerryError.isInstance(e, "InvalidInput") && /empty string/.test((e as Error).message),
    );
    await expect(
      table({ x: ["a"], y: [1] }, join(dir, "p-missing"), { partitionBy: ["z"] }).write(),
    ).rejects.toSatisfy(
      (e: unknown) => FerryError.isInstance(e, "InvalidInput") && /"z"/.test((e as Error).message),
    );
  });

  it("keeps the schema of an empty table", async () => {
    const location = join(dir, "empty");
    const schema: Schema = { fields: [t.field("a", t.int64()), t.field("b", t.string())] };
    await table({ a: [], b: [] }, location, { schema }).write();
    const back = Table.from(location);
    expect(await back.count()).toBe(0);
    expect(await back.schema()).toEqual(schema);
    expect(await back.fetch()).toEqual({ a: [], b: [] });
    expect(await collect(back.stream({ batchSize: 3 }))).toEqual([]);
  });

  it("shuffles reproducibly by seed, keeping every row once", async () => {
    const location = join(dir, "shuffle");
    const ids = Array.from({ length: 250 }, (_, i) => i);
    await table({ id: ids }, location, { rowGroupSize: 20 }).write();
    const order = async (seedValue: number | string, bufferSize?: number) =>
      (
        (await collect(
          Table.from(location).streamBatches({ batchSize: 16, shuffle: { seed: seedValue, bufferSize } }),
        )) as ColumnBatch[]
      ).flatMap((b) => b.columns.id as number[]);
    const first = await order(42);
    expect(await order(42)).toEqual(first);
    expect(first).not.toEqual(ids);
    expect([...first].sort((a, b) => a - b)).toEqual(ids);
    expect(await order(43)).not.toEqual(first);
    expect(await order("small", 5)).toEqual(await order("small", 5));
  });

  it("selects columns, names unknown ones, and reports a missing table as NotFound", async () => {
    const location = join(dir, "seed");
    const batches = (await collect(
      Table.from(location).streamBatches({ batchSize: 4, columns: ["grade"] }),
    )) as ColumnBatch[];
    expect(batches.map((b) => b.columns)).toEqual([{ grade: ["a", "b", "b", "a"] }, { grade: ["a", "e"] }]);
    await expect(Table.from(location).fetch({ columns: ["nope"] })).rejects.toSatisfy(
      (e: unknown) => FerryError.isInstance(e, "InvalidInput") && /"nope"/.test((e as Error).message),
    );
    await expect(Table.from(join(dir, "nothing-here")).count()).rejects.toSatisfy((e: unknown) =>
      FerryError.isInstance(e, "NotFound"),
    );
  });

  it("copies with to(), opens a single parquet file, and removes with rm()", async () => {
    const source = table(seed, join(dir, "copy-src"), { partitionBy: ["grade"] });
    await source.write();
    const copy = await source.to(join(dir, "copy-dst"));
    expect(await copy.count()).toBe(6);
    expect(await copy.toConfig()).toMatchObject({ type: "table", flavour: "plain", partitioning: ["grade"] });
    expect(await Table.from(join(dir, "copy-src")).toConfig()).toEqual({
      type: "table",
      location: `file://${join(dir, "copy-src")}`,
      flavour: "plain",
      partitioning: ["grade"],
      schema: { fields: [t.field("id", t.int32()), t.field("grade", t.string())] },
    });
    const flat = await Table.from(join(dir, "seed")).to(join(dir, "copy-flat"));
    expect(await flat.fetch()).toEqual(seed);
    const part = (await filesUnder(join(dir, "seed")))[0]!;
    expect(await Table.from(join(dir, "seed", part)).fetch()).toEqual(seed);
    // A path ending in .parquet is written as one file; any other path holding a file is not a table folder.
    await copyFile(join(dir, "seed", part), join(dir, "seed-as-one-file"));
    await expect(table(seed, join(dir, "seed-as-one-file")).write()).rejects.toSatisfy(
      (e: unknown) =>
        FerryError.isInstance(e, "InvalidInput") &&
        /is a parquet file, not a table folder/.test((e as Error).message),
    );
    await copy.rm();
    expect(await copy.exists()).toBe(false);
    expect(await source.exists()).toBe(true);
  });

  it("takes the schema from the newest part: older parts read a column added later as nulls", async () => {
    const location = join(dir, "evolved");
    await table({ id: [1, 2] }, location).write();
    const next = join(dir, "evolved-next");
    await table({ id: [3], note: ["new"] }, next).write();
    const [newer] = await filesUnder(next);
    await rename(join(next, newer!), join(location, newer!.replace("part-00000", "part-00001")));
    expect(await Table.from(location).fetch()).toEqual({ id: [1, 2, 3], note: [null, null, "new"] });
    expect(await Table.from(location).count()).toBe(3);
  });

  it("stops a stream and a write when their signal aborts", async () => {
    const location = join(dir, "abort");
    await table({ id: Array.from({ length: 100 }, (_, i) => i) }, location, { rowGroupSize: 10 }).write();
    const controller = new AbortController();
    const seen: number[] = [];
    const reading = (async () => {
      for await (const batch of Table.from(location).streamBatches({
        batchSize: 10,
        signal: controller.signal,
      })) {
        seen.push(batch.numRows);
        if (seen.length === 2) controller.abort(new Error("enough"));
      }
    })();
    await expect(reading).rejects.toSatisfy((e: unknown) => FerryError.isInstance(e, "Aborted"));
    expect(seen).toEqual([10, 10]);
    const before = await filesUnder(location);
    const aborted = new AbortController();
    aborted.abort();
    await expect(table({ id: [1] }, location).write({ signal: aborted.signal })).rejects.toSatisfy(
      (e: unknown) => FerryError.isInstance(e, "Aborted"),
    );
    expect(await filesUnder(location)).toEqual(before);
  });

  it("writes no file besides the parquet parts", async () => {
    const location = join(dir, "only-parts");
    await table(seed, location, { partitionBy: ["grade"] }).write();
    expect((await filesUnder(location)).every((f) => /part-\d{5}-[0-9a-f]{32}\.parquet$/.test(f))).toBe(true);
  });
});
