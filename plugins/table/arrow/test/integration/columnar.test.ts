import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { Table, table } from "@ferry/core";
import { readRowGroup } from "@ferry/parquet";
import { type ColumnBatch, FerryError } from "@ferry/plugin-kit";
import { parquetCorpusFiles, sharedData } from "@ferry/test-harness";
import * as A from "apache-arrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import arrow, { batchesToArrow, fromArrowData, toArrowSchema } from "../../src/index.ts";

const corpusRoot = sharedData("parquet-testing");
const corpus = join(corpusRoot, "data");
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

/**
 * The value path's batch (hyparquet's values, `readRowGroup`, row group by row group: not the columnar
 * decoder that fetch() uses), or undefined when it refuses the file.
 */
async function valuePath(location: string): Promise<ColumnBatch | undefined> {
  try {
    const reader = await Table.from(location).reader();
    const schema = await reader.schema();
    const names = schema.fields.map((f) => f.name);
    const columns: Record<string, unknown[]> = Object.fromEntries(names.map((name) => [name, []]));
    for (const part of await reader.parts()) {
      const open = await reader.open(part);
      for (let g = 0; g < open.rowGroups.length; g++) {
        const values = await readRowGroup(open, g, names, location);
        for (const name of names) for (const v of values[name]!) columns[name]!.push(v);
      }
    }
    return { schema, columns, numRows: columns[names[0]!]?.length ?? 0 };
  } catch {
    return undefined;
  }
}

const valuesOf = (table: A.Table, c: number) =>
  table.batches.flatMap((batch) => fromArrowData(batch.data.children[c]!));

/**
 * Read `location` both ways — columnar fetch() and stream() of RecordBatches, and `reference`
 * (default: fetchBatch()) turned into arrow as before — and compare the arrow schemas and every
 * column, value for value.
 */
async function expectSameBothWays(location: string, reference?: ColumnBatch): Promise<A.Table> {
  const values = reference ?? (await Table.from(location).fetchBatch());
  const before = await batchesToArrow({ schema: values.schema, batches: [values] });
  const fast = (await Table.from(location, { flavour }).fetch()) as A.Table;
  expect(fast.numRows).toBe(values.numRows);
  expect(fast.schema.fields.map(String)).toEqual(toArrowSchema(values.schema).fields.map(String));
  const streamed: A.RecordBatch[] = [];
  for await (const batch of Table.from(location, { flavour }).stream({ batchSize: 97 }))
    streamed.push(batch as A.RecordBatch);
  values.schema.fields.forEach((field, c) => {
    const expected = valuesOf(before, c);
    expect(valuesOf(fast, c), `fetch: column ${field.name}`).toStrictEqual(expected);
    const fromStream = streamed.flatMap((batch) => fromArrowData(batch.data.children[c]!));
    expect(fromStream, `stream: column ${field.name}`).toStrictEqual(expected);
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

/** Every parquet file of the corpus, in data/ and its subfolders (geospatial/) and in bad_data/. */
const files = parquetCorpusFiles();

describe("columnar reads equal the value path", () => {
  it.each(files)("parquet-testing %s", async (file) => {
    const location = join(corpusRoot, file);
    const values = await valuePath(location);
    if (values === undefined) {
      // What the value path refuses, the columnar path refuses too (never a different answer).
      await expect(Table.from(location, { flavour }).fetch()).rejects.toBeInstanceOf(FerryError);
      return;
    }
    await expectSameBothWays(location, values);
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

  it("partition columns and columns a part lacks come as values beside the decoded ones", async () => {
    const location = join(dir, "partitioned");
    await table({ k: ["a", "b", "a"], v: [1, 2, 3] }, location, { partitionBy: ["k"] }).write();
    await expectSameBothWays(location);
    expect(await kinds(location)).toEqual({ v: "fixed", k: "values" });
  });
});

describe("columnar writes from arrow buffers", () => {
  const n = 2_503;
  const valid = (i: number) => i % 7 !== 3;
  /** An arrow Table of two record batches with nulls in every column but "req". */
  function source(): A.Table {
    const batch = (from: number, rows: number) => {
      const make = <T>(value: (i: number) => T) =>
        Array.from({ length: rows }, (_, k) => (valid(from + k) ? value(from + k) : null));
      return new A.Table({
        i8: A.vectorFromArray(
          make((i) => (i % 256) - 128),
          new A.Int8(),
        ),
        u32: A.vectorFromArray(
          make((i) => 4_294_967_295 - i),
          new A.Uint32(),
        ),
        i64: A.vectorFromArray(
          make((i) => BigInt(i) * -3_074_457_345_618_258n),
          new A.Int64(),
        ),
        f32: A.vectorFromArray(
          make((i) => Math.fround(i / 3)),
          new A.Float32(),
        ),
        f64: A.vectorFromArray(
          make((i) => i / 7),
          new A.Float64(),
        ),
        s: A.vectorFromArray(
          make((i) => (i % 3 === 0 ? `ünï ${i % 50}` : `s${i}`)),
          new A.Utf8(),
        ),
        flag: A.vectorFromArray(
          make((i) => i % 3 === 0),
          new A.Bool(),
        ),
        day: A.vectorFromArray(
          make((i) => new Date(Date.UTC(2020, 0, 1 + (i % 400)))),
          new A.DateDay(),
        ),
        at: A.vectorFromArray(
          make((i) => 1_700_000_000_000 + i),
          new A.TimestampMillisecond(),
        ),
        req: A.vectorFromArray(
          Array.from({ length: rows }, (_, k) => from + k),
          new A.Int32(),
        ),
      }).batches[0]!;
    };
    return new A.Table([batch(0, 1_000), batch(1_000, n - 1_000)]);
  }

  it("encodes the file from the buffers (no JS value per row); ferry and DuckDB read back every value", async () => {
    const data = source();
    const location = join(dir, "columnar-write");
    await table(data, location, { flavour, rowGroupSize: 700, pageSize: 1_000 }).write();
    const reader = await Table.from(location).reader();
    const [part] = await reader.parts();
    const open = await reader.open(part!);
    expect(open.metadata.created_by).toBe("ferry (columnar)");
    // 1 000 rows in groups of ≤ 700, then 1 503: 700 + 300 + 700 + 700 + 103.
    expect(open.rowGroups).toEqual([700, 300, 700, 700, 103]);
    await expectSameBothWays(location);
    const back = await Table.from(location).fetchBatch();
    data.schema.fields.forEach((field, c) => {
      const expected = data.batches.flatMap((batch) => fromArrowData(batch.data.children[c]!));
      expect(back.columns[field.name], field.name).toEqual(expected);
    });
    const rows = (
      await duck.runAndReadAll(
        `select count(*) as n, count(s) as s, sum(i8) as i8, sum(u32) as u32, sum(i64) as i64, sum(req) as req,
                count(flag) filter (where flag) as yes, min(day)::varchar as day, max("at")::varchar as at, string_agg(s, ',' order by req) as text
         from '${join(location, part!.relative)}'`,
      )
    ).getRowObjectsJS()[0]!;
    const js = back.columns;
    const sum = (name: string) =>
      (js[name] as (number | bigint | null)[]).reduce<bigint>((a, v) => a + BigInt(v ?? 0), 0n);
    expect(rows.n).toBe(BigInt(n));
    expect(rows.s).toBe(BigInt((js.s as unknown[]).filter((v) => v !== null).length));
    expect(BigInt(rows.i8 as bigint)).toBe(sum("i8"));
    expect(BigInt(rows.u32 as bigint)).toBe(sum("u32"));
    expect(BigInt(rows.i64 as bigint)).toBe(sum("i64"));
    expect(BigInt(rows.req as bigint)).toBe(sum("req"));
    expect(rows.yes).toBe(BigInt((js.flag as unknown[]).filter((v) => v === true).length));
    expect(rows.day).toBe("2020-01-01");
    expect(rows.at).toBe("2023-11-14 22:13:22.501"); // row 2 502 is null
    expect(rows.text).toBe((js.s as (string | null)[]).filter((v) => v !== null).join(","));
  });

  it("a null in a non-nullable arrow column is InvalidInput naming the column and row; nothing is written", async () => {
    const field = new A.Field("id", new A.Int32(), false);
    const schema = new A.Schema([field]);
    const data = A.makeData({
      type: new A.Int32(),
      length: 3,
      nullCount: 1,
      nullBitmap: Uint8Array.of(0b101),
      data: Int32Array.of(1, 0, 3),
    });
    const batch = new A.RecordBatch(
      schema,
      A.makeData({ type: new A.Struct([field]), length: 3, nullCount: 0, children: [data] }),
    );
    const location = join(dir, "non-nullable");
    const failure = await table(batch, location, { flavour })
      .write()
      .catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: "InvalidInput" });
    expect(String((failure as Error).message)).toMatch(/column "id".*row 1: null in a non-nullable column/);
    expect(await Table.from(location).exists()).toBe(false);
  });

  it("columns without a columnar form (decimal, list) are written by the value path, same values", async () => {
    const data = new A.Table({
      id: A.vectorFromArray([1, 2, null], new A.Int32()),
      tags: A.vectorFromArray([["a"], [], null], new A.List(new A.Field("item", new A.Utf8(), true))),
    });
    const location = join(dir, "value-path-write");
    await table(data, location, { flavour }).write();
    const reader = await Table.from(location).reader();
    const open = await reader.open((await reader.parts())[0]!);
    expect(open.metadata.created_by).not.toBe("ferry (columnar)");
    expect((await Table.from(location).fetchBatch()).columns).toEqual({
      id: [1, 2, null],
      tags: [["a"], [], null],
    });
  });
});
