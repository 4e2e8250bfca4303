/**
 * Every type ferry's tables hold — TIME, duration, INTERVAL and float16 included — written by ferry
 * and read by DuckDB and Polars, and written by them and read by ferry (the type matrix); a column
 * ferry cannot decode blocks only itself; count() and fetch() agree on folders whose files disagree.
 */
import { copyFile, mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import pl from "nodejs-polars";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FerryError, type Schema, Table, t, table } from "../src/index.ts";

let dir: string;
let duck: Awaited<ReturnType<DuckDBInstance["connect"]>>;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-types-"));
  duck = await (await DuckDBInstance.create(":memory:")).connect();
});
afterAll(async () => {
  duck.closeSync();
  await rm(dir, { recursive: true, force: true });
});

async function duckRows(sql: string): Promise<Record<string, unknown>[]> {
  return (await duck.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
}

async function partFile(location: string): Promise<string> {
  const [name] = (await readdir(location)).filter((f) => f.endsWith(".parquet"));
  return join(location, name!);
}

const schema: Schema = {
  fields: [
    t.field("id", t.int32(), false),
    t.field("t_ms", t.time("ms")),
    t.field("t_us", t.time("us")),
    t.field("t_ns", t.time("ns")),
    t.field("span", t.interval()),
    t.field("wait", t.duration("us")),
    t.field("half", t.float16()),
    t.field("nothing", t.null()),
  ],
};

const data = {
  id: [1, 2, 3],
  t_ms: [0, 45_296_789, null],
  t_us: [1n, 45_296_789_012n, null],
  t_ns: [0n, 45_296_789_012_345n, null],
  span: [{ months: 1, days: 2, milliseconds: 3 }, { months: 0, days: 0, milliseconds: 86_399_999 }, null],
  wait: [-5n, 86_400_000_000n, null],
  half: [1.5, -65504, null],
  nothing: [null, null, null],
};

describe("TIME, duration, INTERVAL and float16", () => {
  it("round-trip through ferry with their types and exact values", async () => {
    const location = join(dir, "types");
    await table(data, location, { schema }).write();
    const back = await Table.from(location).fetchBatch();
    expect(back.schema.fields.map((f) => f.type)).toEqual(schema.fields.map((f) => f.type));
    expect(back.columns).toEqual(data);
  });

  it("refuse values that do not fit, naming column, row and type", async () => {
    const cases: [string, Schema["fields"][number], unknown, RegExp][] = [
      [
        "late",
        t.field("late", t.time("ms")),
        86_400_001,
        /column "late" \(time\[ms\]\), row 0: .*0\.\.86400000/,
      ],
      ["back", t.field("back", t.interval()), { months: -1, days: 0, milliseconds: 0 }, /row 0: .*unsigned/],
      ["far", t.field("far", t.duration("ns")), 2n ** 63n, /row 0: out of the int64 range/],
    ];
    for (const [name, field, value, message] of cases) {
      const error = await table({ [name]: [value] }, join(dir, `bad-${name}`), {
        schema: { fields: [field] },
      })
        .write()
        .catch((e: unknown) => e);
      expect(FerryError.isInstance(error, "InvalidInput"), String(error)).toBe(true);
      expect((error as Error).message).toMatch(message);
    }
  });

  it("DuckDB reads what ferry writes: TIME (ns as TIME_NS), INTERVAL, the duration's count and float16", async () => {
    const file = await partFile(join(dir, "types"));
    const rows = await duckRows(
      `select id, t_ms::varchar as t_ms, t_us::varchar as t_us, t_ns::varchar as t_ns, span, wait, half, nothing
       from '${file}' order by id`,
    );
    expect(rows).toEqual([
      {
        id: 1,
        t_ms: "00:00:00",
        t_us: "00:00:00.000001",
        t_ns: "00:00:00",
        span: { months: 1, days: 2, micros: "3000" },
        wait: "-5",
        half: 1.5,
        nothing: null,
      },
      {
        id: 2,
        t_ms: "12:34:56.789",
        t_us: "12:34:56.789012",
        t_ns: "12:34:56.789012345",
        span: { months: 0, days: 0, micros: "86399999000" },
        wait: "86400000000",
        half: -65504,
        nothing: null,
      },
      { id: 3, t_ms: null, t_us: null, t_ns: null, span: null, wait: null, half: null, nothing: null },
    ]);
  });

  it("Polars reads ferry's TIME (all units) and the duration's count", async () => {
    // Polars (nodejs-polars 0.26) cannot read parquet INTERVAL at all (DuckDB's neither) and reads
    // FLOAT16 only through an embedded Arrow schema: both are Polars gaps, declared in the table README.
    const frame = pl
      .readParquet(await partFile(join(dir, "types")), { columns: ["id", "t_ms", "t_us", "t_ns", "wait"] })
      .sort("id");
    expect(String(frame.schema.t_ms)).toBe("DataType(Time)");
    expect(frame.getColumn("t_ms").toArray()).toEqual(["00:00:00", "12:34:56.789", null]);
    expect(frame.getColumn("t_us").toArray()).toEqual(["00:00:00.000001", "12:34:56.789012", null]);
    expect(frame.getColumn("t_ns").toArray()).toEqual(["00:00:00", "12:34:56.789012345", null]);
    expect(frame.getColumn("wait").toArray()).toEqual([-5, 86_400_000_000, null]);
  });

  it("ferry reads DuckDB's TIME, TIME_NS and INTERVAL", async () => {
    const file = join(dir, "duck-times.parquet");
    await duckRows(`copy (select * from (values
        (1, time '00:00:00', '12:34:56.789012345'::time_ns, interval '1 month 2 days 3 milliseconds'),
        (2, time '23:59:59.999999', '00:00:00.000000001'::time_ns, interval '14 months 40 days 5 seconds'),
        (3, null, null, null)) t(id, tm, tn, span)) to '${file}'`);
    const batch = await Table.from(file).fetchBatch();
    expect(batch.schema.fields.map((f) => [f.name, f.type])).toEqual([
      ["id", t.int32()],
      ["tm", t.time("us")],
      ["tn", t.time("ns")],
      ["span", t.interval()],
    ]);
    expect(batch.columns.tm).toEqual([0n, 86_399_999_999n, null]);
    expect(batch.columns.tn).toEqual([45_296_789_012_345n, 1n, null]);
    expect(batch.columns.span).toEqual([
      { months: 1, days: 2, milliseconds: 3 },
      { months: 14, days: 40, milliseconds: 5000 },
      null,
    ]);
  });

  it("ferry reads Polars' Time and Duration (a Duration is a plain INT64 count in parquet)", async () => {
    const file = join(dir, "polars-times.parquet");
    pl.DataFrame({ id: [1, 2], tm: [0, 45_296_789_012_345], wait: [-5, 1_000_000] })
      .withColumns(pl.col("tm").cast(pl.Time), pl.col("wait").cast(pl.Duration("us")))
      .writeParquet(file);
    const batch = await Table.from(file).fetchBatch();
    expect(batch.schema.fields.find((f) => f.name === "tm")!.type).toEqual(t.time("ns"));
    expect(batch.columns.tm).toEqual([0n, 45_296_789_012_345n]);
    expect(batch.columns.wait).toEqual([-5n, 1_000_000n]);
  });
});

describe("a column ferry cannot decode blocks only itself", () => {
  it("count, schema and other columns read; selecting it is Unsupported naming the file and the column", async () => {
    // DuckDB writes a MAP with BLOB keys; ferry has no way to hold binary map keys.
    const file = join(dir, "blob-keys.parquet");
    await duckRows(`copy (select i::int as id, map([('k' || i)::blob], [i]) as by_bytes, time '01:02:03' as at
                          from range(0, 5) t(i)) to '${file}'`);
    const table = Table.from(file);
    expect(await table.count()).toBe(5);
    const fields = (await table.schema()).fields;
    expect(fields.map((f) => [f.name, f.type.type])).toEqual([
      ["id", "int"],
      ["by_bytes", "unreadable"],
      ["at", "time"],
    ]);
    expect(await table.fetch({ columns: ["id", "at"] })).toEqual({
      id: [0, 1, 2, 3, 4],
      at: Array(5).fill(3_723_000_000n),
    });
    for (const columns of [["by_bytes"], undefined]) {
      const error = await table.fetch(columns ? { columns } : {}).catch((e: unknown) => e);
      expect(FerryError.isInstance(error, "Unsupported"), String(error)).toBe(true);
      expect((error as Error).message).toMatch(
        /blob-keys\.parquet: column "by_bytes" cannot be read: .*MAP with binary keys/,
      );
      expect((error as Error).message.split("\n")).toHaveLength(1);
    }
  });
});

describe("folders of files whose schemas disagree", () => {
  it("count() and fetch() both refuse, naming the file that does not fit", async () => {
    const folder = join(dir, "mixed");
    await mkdir(folder, { recursive: true });
    const first = join(dir, "mixed-a");
    const second = join(dir, "mixed-b");
    await table({ id: [1, 2], name: ["a", "b"] }, first).write();
    await table({ id: ["x", "y"], name: ["c", "d"] }, second).write();
    await copyFile(await partFile(first), join(folder, "a.parquet"));
    await copyFile(await partFile(second), join(folder, "b.parquet"));
    const mixed = Table.from(folder);
    const counted = await mixed.count().catch((e: unknown) => e);
    const fetched = await mixed.fetch().catch((e: unknown) => e);
    for (const error of [counted, fetched]) {
      expect(FerryError.isInstance(error, "InvalidInput"), String(error)).toBe(true);
      expect((error as Error).message).toMatch(
        /a\.parquet: column "id" is int32 here but string in the table/,
      );
    }
  });
});
