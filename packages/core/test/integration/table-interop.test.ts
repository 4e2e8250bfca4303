/**
 * Others read what ferry writes (DuckDB, Polars — Hive-partitioned folders included) with identical
 * values, and ferry reads what they write.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { type Schema, t } from "@ferry/plugin-kit";
import pl from "nodejs-polars";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Table, table } from "../../src/index.ts";

let dir: string;
let duck: Awaited<ReturnType<DuckDBInstance["connect"]>>;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-interop-"));
  duck = await (await DuckDBInstance.create(":memory:")).connect();
});
afterAll(async () => {
  duck.closeSync();
  await rm(dir, { recursive: true, force: true });
});

async function duckRows(sql: string): Promise<Record<string, unknown>[]> {
  return (await duck.runAndReadAll(sql)).getRowObjectsJS();
}

function column(rows: readonly Record<string, unknown>[], name: string): unknown[] {
  return rows.map((row) => row[name] ?? null);
}

const schema: Schema = {
  fields: [
    t.field("id", t.int32(), false),
    t.field("small", t.int8()),
    t.field("count", t.int64()),
    t.field("huge", t.uint64()),
    t.field("ratio", t.float64()),
    t.field("name", t.string()),
    t.field("ok", t.bool()),
    t.field("stamp", t.timestamp("ms", "UTC")),
    t.field("at_us", t.timestamp("us")),
    t.field("at_ns", t.timestamp("ns")),
    t.field("day", t.date()),
    t.field("price", t.decimal(12, 3)),
    t.field("tags", t.list(t.int32())),
    t.field("point", t.struct([t.field("x", t.float64()), t.field("label", t.string())])),
    t.field("blob", t.binary()),
    t.field("grade", t.string()),
    t.field("year", t.int64()),
  ],
};

const data = {
  id: [1, 2, 3, 4, 5, 6],
  small: [-128, 127, null, 0, 1, 2],
  count: [-(2n ** 63n), 2n ** 63n - 1n, null, 0n, 5n, 6n],
  huge: [2n ** 64n - 1n, 0n, null, 1n, 2n, 3n],
  ratio: [0.1 + 0.2, -1e300, null, 1.5, 2.5, 3.5],
  name: ["héllo", "", null, "a,b", 'q"uote', "new\nline"],
  ok: [true, false, null, true, true, false],
  stamp: [new Date("2024-01-02T03:04:05.678Z"), new Date(-1), null, new Date(0), new Date(1), new Date(2)],
  at_us: [1_704_164_645_678_901n, -1n, null, 0n, 1n, 2n],
  at_ns: [1_704_164_645_678_901_234n, -1n, null, 0n, 1n, 2n],
  day: [
    new Date("2024-02-29T00:00:00Z"),
    new Date("1969-12-31T00:00:00Z"),
    null,
    new Date(0),
    new Date(0),
    new Date(0),
  ],
  price: ["123456789.123", "-0.001", null, "0.000", "1.500", "2.000"],
  tags: [[1, null, 3], [], null, [4], [5], [6]],
  point: [
    { x: 1.25, label: "p" },
    { x: -1, label: null },
    null,
    { x: 0, label: "o" },
    { x: 1, label: "i" },
    { x: 2, label: "j" },
  ],
  blob: [
    new Uint8Array([0, 255]),
    new Uint8Array(),
    null,
    new Uint8Array([1]),
    new Uint8Array([2]),
    new Uint8Array([3]),
  ],
  grade: ["a", "b/c d=é", "b/c d=é", null, "a", "e"],
  year: [2024n, 2024n, 2025n, 2025n, null, 2024n],
};

/** DuckDB's view of ferry's table, with exact casts for the types its JS conversion would round. */
const duckSelect = (from: string) => `
  select id, small, count, huge, ratio, name, ok, epoch_ms(stamp) as stamp, epoch_us(at_us) as at_us, epoch_ns(at_ns) as at_ns,
         day::varchar as day, price::varchar as price, tags, point, blob, grade, year
  from ${from} order by id`;

function expectDuckMatches(rows: Record<string, unknown>[]): void {
  expect(column(rows, "id")).toEqual(data.id);
  expect(column(rows, "small")).toEqual(data.small);
  expect(column(rows, "count")).toEqual(data.count);
  expect(column(rows, "huge")).toEqual(data.huge);
  expect(column(rows, "ratio")).toEqual(data.ratio);
  expect(column(rows, "name")).toEqual(data.name);
  expect(column(rows, "ok")).toEqual(data.ok);
  expect(column(rows, "stamp")).toEqual(data.stamp.map((d) => (d ? BigInt(d.getTime()) : null)));
  expect(column(rows, "at_us")).toEqual(data.at_us);
  expect(column(rows, "at_ns")).toEqual(data.at_ns);
  expect(column(rows, "day")).toEqual(data.day.map((d) => d?.toISOString().slice(0, 10) ?? null));
  expect(column(rows, "price")).toEqual(data.price);
  expect(column(rows, "tags")).toEqual(data.tags);
  expect(column(rows, "point")).toEqual(data.point);
  expect(column(rows, "blob").map((b) => (b ? new Uint8Array(b as Uint8Array) : null))).toEqual(data.blob);
  expect(column(rows, "grade")).toEqual(data.grade);
  expect(column(rows, "year")).toEqual(data.year);
}

describe("others read what ferry writes", () => {
  it("DuckDB reads a ferry table with identical values", async () => {
    const location = join(dir, "plain");
    await table(data, location, { schema, rowGroupSize: 4 }).write();
    expectDuckMatches(await duckRows(duckSelect(`read_parquet('${location}/*.parquet')`)));
  });

  it("DuckDB reads a Hive-partitioned ferry table, partition values and nulls included", async () => {
    const location = join(dir, "hive");
    await table(data, location, { schema, partitionBy: ["grade", "year"] }).write();
    const rows = await duckRows(
      duckSelect(
        `read_parquet('${location}/**/*.parquet', hive_partitioning = true, hive_types = {'grade': VARCHAR, 'year': BIGINT})`,
      ),
    );
    expectDuckMatches(rows);
    // Autodetected types too: DuckDB infers BIGINT for year from the directory names.
    const [auto] = await duckRows(
      `select typeof(year) as t, count(*)::int as n from read_parquet('${location}/**/*.parquet', hive_partitioning = true) group by all`,
    );
    expect(auto).toEqual({ t: "BIGINT", n: 6 });
  });

  it("Polars reads a Hive-partitioned ferry table (directory scan) with identical values", async () => {
    const location = join(dir, "hive");
    const frame = pl
      .scanParquet(location)
      .select(
        "id",
        "small",
        "ratio",
        "name",
        "ok",
        "stamp",
        pl.col("at_us").cast(pl.Int64),
        pl.col("price").cast(pl.Utf8),
        "tags",
        "grade",
        "year",
      )
      .sort("id")
      .collectSync();
    const values = (name: string) => frame.getColumn(name).toArray() as unknown[];
    expect(values("id")).toEqual(data.id);
    expect(values("small")).toEqual(data.small);
    expect(values("ratio")).toEqual(data.ratio);
    expect(values("name")).toEqual(data.name);
    expect(values("ok")).toEqual(data.ok);
    expect(values("stamp")).toEqual(data.stamp);
    expect(values("at_us").map((v) => (v === null ? null : BigInt(v as number)))).toEqual(data.at_us);
    expect(values("price").map((v) => (v === null ? null : Number(v)))).toEqual(
      data.price.map((v) => (v === null ? null : Number(v))),
    );
    expect(values("tags")).toEqual(data.tags);
    expect(values("grade")).toEqual(data.grade);
    expect(values("year").map((v) => (v === null ? null : BigInt(v as number)))).toEqual(data.year);
  });
});

describe("ferry reads what others write", () => {
  it("reads DuckDB's Hive-partitioned COPY with the values DuckDB reads back", async () => {
    const location = join(dir, "duck-hive");
    await duckRows(`
      copy (select i::int as id, 'g' || (i % 3)::varchar as grade, (i * 1000000007)::bigint as big,
                   (i / 7)::double as ratio, [i, i + 1] as pair, {'k': i::varchar} as obj,
                   (i * 1.25)::decimal(10, 2) as price, timestamp '2024-01-01' + to_microseconds(i) as stamp,
                   case when i % 4 = 0 then null else 'v' || i::varchar end as maybe
            from range(0, 50) t(i))
      to '${location}' (format parquet, partition_by (grade), row_group_size 8)`);
    const table = Table.from(location);
    expect(await table.count()).toBe(50);
    const batch = await table.fetchBatch();
    expect(batch.schema.fields.map((f) => [f.name, f.type.type])).toEqual([
      ["id", "int"],
      ["big", "int"],
      ["ratio", "float"],
      ["pair", "list"],
      ["obj", "struct"],
      ["price", "decimal"],
      ["stamp", "timestamp"],
      ["maybe", "string"],
      ["grade", "string"],
    ]);
    const expected = await duckRows(
      `select id, big, ratio, pair, obj, price::varchar as price, epoch_us(stamp) as stamp, maybe, grade from read_parquet('${location}/**/*.parquet', hive_partitioning = true)`,
    );
    const byId = new Map(expected.map((row) => [row.id as number, row]));
    (batch.columns.id as number[]).forEach((id, i) => {
      const want = byId.get(id)!;
      expect({
        id: undefined,
        big: batch.columns.big![i],
        ratio: batch.columns.ratio![i],
        pair: batch.columns.pair![i],
        obj: batch.columns.obj![i],
        price: batch.columns.price![i],
        stamp: batch.columns.stamp![i],
        maybe: batch.columns.maybe![i],
        grade: batch.columns.grade![i],
      }).toEqual({ ...want, id: undefined });
    });
  });

  it("reads what Polars writes (a file and a folder of files)", async () => {
    const folder = join(dir, "polars");
    await mkdir(folder, { recursive: true });
    const frame = pl.DataFrame({
      a: [1, 2, null],
      b: ["x", null, "z"],
      c: [true, false, null],
      d: [[1, 2], [], null],
    });
    frame.writeParquet(join(folder, "one.parquet"));
    frame.writeParquet(join(folder, "two.parquet"), { compression: "zstd" });
    const single = await Table.from(join(folder, "one.parquet")).fetch();
    expect(single).toEqual({
      a: [1, 2, null],
      b: ["x", null, "z"],
      c: [true, false, null],
      d: [[1, 2], [], null],
    });
    const both = await Table.from(folder).fetch();
    expect(both).toEqual({
      a: [1, 2, null, 1, 2, null],
      b: ["x", null, "z", "x", null, "z"],
      c: [true, false, null, true, false, null],
      d: [[1, 2], [], null, [1, 2], [], null],
    });
  });
});
