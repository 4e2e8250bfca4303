/**
 * The columnar read path (parquet pages → arrow buffers, no JS value per row) gives the same answer as
 * the value path, value for value: every parquet-testing file ferry reads, and tables with nulls,
 * dictionary pages, v2 pages and several row groups written by ferry and by DuckDB.
 */
import { readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DuckDBInstance } from "@duckdb/node-api";
import { type ColumnBatch, type Schema, Table, t, table } from "@ferry/core";
import type * as A from "apache-arrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import arrow, { batchesToArrow, fromArrowData, toArrowSchema } from "../src/index.ts";

const corpus = resolve(
  dirname(fileURLToPath(import.meta.url)),
  "../../../../../shared/data/parquet-testing/data",
);
const flavour = arrow();

let dir: string;
let duck: Awaited<ReturnType<DuckDBInstance["connect"]>>;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-columnar-"));
  duck = await (await DuckDBInstance.create(":memory:")).connect();
});
afterAll(async () => {
  duck.closeSync();
  await rm(dir, { recursive: true, force: true });
});

/** The value path's batch, or undefined when ferry cannot read the file at all. */
async function valuePath(location: string): Promise<ColumnBatch | undefined> {
  try {
    return await Table.from(location).fetchBatch();
  } catch {
    return undefined;
  }
}

const valuesOf = (table: A.Table, c: number) =>
  table.batches.flatMap((batch) => fromArrowData(batch.data.children[c]!));

/**
 * Read `location` both ways — columnar, and the value path's batch turned into arrow as before — and
 * compare the arrow schemas and every column, value for value.
 */
async function expectSameBothWays(location: string): Promise<A.Table> {
  const values = (await valuePath(location))!;
  const before = await batchesToArrow({ schema: values.schema, batches: [values] });
  const fast = (await Table.from(location, { flavour }).fetch()) as A.Table;
  expect(fast.numRows).toBe(values.numRows);
  expect(fast.schema.fields.map(String)).toEqual(toArrowSchema(values.schema).fields.map(String));
  values.schema.fields.forEach((field, c) => {
    expect(valuesOf(fast, c), `column ${field.name}`).toEqual(valuesOf(before, c));
  });
  return fast;
}

/** How each column of the first row group came: decoded into buffers, or as values. */
async function kinds(location: string, columns?: string[]): Promise<Record<string, string>> {
  const reader = await Table.from(location).reader();
  const { groups } = await reader.columnar({ columns });
  for await (const group of groups)
    return Object.fromEntries(Object.entries(group.columns).map(([name, column]) => [name, column.kind]));
  return {};
}

const readable = readdirSync(corpus)
  .filter((f) => f.endsWith(".parquet"))
  // Beyond a JS string (one value over 512 MiB characters): the value path refuses it too.
  .filter((f) => f !== "large_string_map.brotli.parquet")
  .sort();

describe("columnar reads equal the value path", () => {
  it.each(readable)("parquet-testing %s", async (file) => {
    const location = join(corpus, file);
    if ((await valuePath(location)) === undefined) {
      // What the value path refuses, the columnar path refuses too (never a different answer).
      await expect(Table.from(location, { flavour }).fetch()).rejects.toThrow();
      return;
    }
    await expectSameBothWays(location);
  });

  it("decodes flat columns straight into buffers: plain, dictionary, v2 pages, nulls", async () => {
    expect(await kinds(join(corpus, "alltypes_plain.parquet"))).toMatchObject({
      id: "fixed",
      bool_col: "bits",
      int_col: "fixed",
      bigint_col: "fixed",
      float_col: "fixed",
      double_col: "fixed",
      string_col: "bytes",
      timestamp_col: "values", // INT96: the value path
    });
    expect(await kinds(join(corpus, "alltypes_dictionary.parquet"), ["id", "string_col"])).toEqual({
      id: "fixed",
      string_col: "bytes",
    });
    expect(await kinds(join(corpus, "datapage_v2.snappy.parquet"), ["a", "b", "c", "d"])).toEqual({
      a: "bytes",
      b: "fixed", // delta binary packed
      c: "fixed",
      d: "bits",
    });
    expect(await kinds(join(corpus, "nulls.snappy.parquet"))).toEqual({ b_struct: "values" });
  });

  it("a table ferry wrote with nulls in every column and several row groups", async () => {
    const n = 2_500;
    const schema: Schema = {
      fields: [
        t.field("i8", t.int8()),
        t.field("u16", t.uint16()),
        t.field("i32", t.int32()),
        t.field("u32", t.uint32()),
        t.field("i64", t.int64()),
        t.field("u64", t.uint64()),
        t.field("f32", t.float32()),
        t.field("f64", t.float64()),
        t.field("f16", { type: "float", bits: 16 }),
        t.field("s", t.string()),
        t.field("b", t.binary()),
        t.field("flag", t.bool()),
        t.field("day", t.date()),
        t.field("ms", t.timestamp("ms", "UTC")),
        t.field("us", t.timestamp("us")),
        t.field("sec", t.timestamp("s")),
        t.field("dec", t.decimal(10, 2)),
        t.field("list", t.list(t.int32())),
        t.field("req", t.int32(), false),
        t.field("req_s", t.string(), false),
      ],
    };
    const at = (i: number) => (i % 7 === 3 ? null : i);
    const column = <T>(make: (i: number) => T) =>
      Array.from({ length: n }, (_, i) => (at(i) === null ? null : make(i)));
    const data = {
      i8: column((i) => (i % 256) - 128),
      u16: column((i) => (i * 37) % 65536),
      i32: column((i) => i * 1_000_003 - 2 ** 30),
      u32: column((i) => 4_294_967_295 - i),
      i64: column((i) => BigInt(i) * -3_689_348_814_741_910n),
      u64: column((i) => 2n ** 64n - 1n - BigInt(i)),
      f32: column((i) => Math.fround(i / 3)),
      f64: column((i) => (i % 11 === 0 ? Number.NaN : i / 7)),
      f16: column((i) => (i % 5) * 0.5),
      s: column((i) => (i % 3 === 0 ? `ünïcode ${i % 50}` : `s${i % 40}`)),
      b: column((i) => Uint8Array.of(i % 256, 0, 255)),
      flag: column((i) => i % 3 === 0),
      day: column((i) => new Date(Date.UTC(2020, 0, 1 + (i % 400)))),
      ms: column((i) => new Date(1_700_000_000_000 + i * 1_001)),
      us: column((i) => 1_700_000_000_000_000n + BigInt(i)),
      sec: column((i) => new Date(1_700_000_000_000 + i * 1000)),
      dec: column((i) => `${i}.${String(i % 100).padStart(2, "0")}`),
      list: column((i) => (i % 4 === 0 ? [] : [i, null, -i])),
      req: Array.from({ length: n }, (_, i) => i),
      req_s: Array.from({ length: n }, (_, i) => `r${i % 9}`),
    };
    const location = join(dir, "ferry-nulls");
    await table(data, location, { schema, rowGroupSize: 1_000, pageSize: 4_096 }).write();
    const fast = await expectSameBothWays(location);
    expect(fast.batches.length).toBe(3);
    expect(await kinds(location)).toMatchObject({
      i8: "fixed",
      u64: "fixed",
      f16: "fixed",
      s: "bytes",
      b: "bytes",
      flag: "bits",
      day: "fixed",
      us: "fixed",
      sec: "values",
      dec: "values",
      list: "values",
      req_s: "bytes",
    });
  });

  it("tables DuckDB wrote (dictionary pages, v1 and v2 data pages, nulls)", async () => {
    for (const version of ["V1", "V2"]) {
      const file = join(dir, `duck-${version}.parquet`);
      await duck.run(`copy (select
          case when i % 5 = 0 then null else i::int end as id,
          i * 1000003 as big,
          case when i % 9 = 0 then null else 'name-' || (i % 300) end as name,
          'v' || i as unique_name,
          case when i % 4 = 0 then null else i % 3 = 0 end as flag,
          i / 7 as score,
          make_timestamp(1700000000000000 + i * 1000000) as at
        from range(0, 30000) t(i))
        to '${file}' (format parquet, compression zstd, row_group_size 10000, parquet_version ${version})`);
      await expectSameBothWays(file);
      // V2 pages: DuckDB writes delta lengths for unique strings, which the value path reads.
      const expected = {
        id: "fixed",
        big: "fixed",
        name: "bytes",
        flag: "bits",
        score: "fixed",
        at: "fixed",
      };
      expect(await kinds(file)).toMatchObject(expected);
    }
  });

  it("partition columns and columns a part lacks come as values beside the decoded ones", async () => {
    const location = join(dir, "partitioned");
    await table({ k: ["a", "b", "a"], v: [1, 2, 3] }, location, { partitionBy: ["k"] }).write();
    await expectSameBothWays(location);
    expect(await kinds(location)).toEqual({ v: "fixed", k: "values" });
  });
});
