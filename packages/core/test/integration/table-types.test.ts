/**
 * Every type ferry's tables hold — TIME, duration, INTERVAL and float16 included — written by ferry
 * and read by DuckDB and Polars, and written by them and read by ferry (the type matrix); a column
 * ferry cannot decode blocks only itself; count() and fetch() agree on folders whose files disagree.
 */
import { copyFile, mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { FerryError, type Schema, t } from "@ferry/plugin-kit";
import pl from "nodejs-polars";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Table, table } from "../../src/index.ts";
import { canonDuck, canonFerry } from "../table-values.ts";

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

let typesWritten: Promise<string> | undefined;
/** `data` written once by ferry (each test that reads it may run alone). */
function typesFile(): Promise<string> {
  typesWritten ??= (async () => {
    const location = join(dir, "types");
    await table(data, location, { schema }).write();
    return partFile(location);
  })();
  return typesWritten;
}

describe("TIME, duration, INTERVAL and float16", () => {
  it("round-trip through ferry with their types and exact values", async () => {
    const back = await Table.from(dirname(await typesFile())).fetchBatch();
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
    const file = await typesFile();
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
      .readParquet(await typesFile(), { columns: ["id", "t_ms", "t_us", "t_ns", "wait"] })
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

/** Every ferry type, with its extremes and a null (row 3). */
const matrixSchema: Schema = {
  fields: [
    t.field("b", t.bool()),
    t.field("i8", t.int8()),
    t.field("i16", t.int16()),
    t.field("i32", t.int32()),
    t.field("i64", t.int64()),
    t.field("u8", t.uint8()),
    t.field("u16", t.uint16()),
    t.field("u32", t.uint32()),
    t.field("u64", t.uint64()),
    t.field("f16", t.float16()),
    t.field("f32", t.float32()),
    t.field("f64", t.float64()),
    t.field("s", t.string()),
    t.field("bin", t.binary()),
    t.field("d", t.date()),
    t.field("ts_s", t.timestamp("s")),
    t.field("ts_ms", t.timestamp("ms", "UTC")),
    t.field("ts_us", t.timestamp("us")),
    // Naive: DuckDB reads a UTC-adjusted ns timestamp as TIMESTAMPTZ, which holds microseconds only.
    t.field("ts_ns", t.timestamp("ns")),
    t.field("t_ms", t.time("ms")),
    t.field("t_us", t.time("us")),
    t.field("t_ns", t.time("ns")),
    t.field("dur", t.duration("ms")),
    t.field("iv", t.interval()),
    t.field("dec9", t.decimal(9, 2)),
    t.field("dec38", t.decimal(38, 10)),
    t.field("list", t.list(t.int32())),
    t.field("obj", t.struct([t.field("a", t.int32()), t.field("b", t.string())])),
    t.field("nothing", t.null()),
  ],
};

const matrixData: Record<string, unknown[]> = {
  b: [true, false, null],
  i8: [-128, 127, null],
  i16: [-32768, 32767, null],
  i32: [-2147483648, 2147483647, null],
  i64: [-(2n ** 63n), 2n ** 63n - 1n, null],
  u8: [0, 255, null],
  u16: [0, 65535, null],
  u32: [0, 4294967295, null],
  u64: [0n, 2n ** 64n - 1n, null],
  f16: [65504, -(2 ** -14), null],
  f32: [Math.fround(1.1), -3.4028234663852886e38, null],
  f64: [0.1 + 0.2, -1e300, null],
  s: ["héllo", "", null],
  bin: [new Uint8Array([0, 255]), new Uint8Array(), null],
  d: [new Date("2024-02-29T00:00:00Z"), new Date("1969-12-31T00:00:00Z"), null],
  ts_s: [new Date("2024-01-02T03:04:05Z"), new Date(-1000), null],
  ts_ms: [new Date("2024-01-02T03:04:05.678Z"), new Date(-1), null],
  ts_us: [1_704_164_645_678_901n, -1n, null],
  ts_ns: [1_704_164_645_678_901_234n, -1n, null],
  t_ms: [0, 86_399_999, null],
  t_us: [1n, 86_399_999_999n, null],
  t_ns: [1n, 86_399_999_999_999n, null],
  dur: [-5n, 86_400_000n, null],
  iv: [{ months: 14, days: 40, milliseconds: 5 }, { months: 0, days: 0, milliseconds: 0 }, null],
  dec9: ["-9999999.99", "0.01", null],
  dec38: ["-9999999999999999999999999999.9999999999", "0.0000000001", null],
  list: [[1, null, 3], [], null],
  obj: [{ a: 1, b: "x" }, { a: null, b: null }, null],
  nothing: [null, null, null],
};

let matrixWritten: Promise<string> | undefined;
/** The matrix written once by ferry (each test that reads it may run alone). */
function matrixFile(): Promise<string> {
  matrixWritten ??= (async () => {
    const location = join(dir, "matrix");
    await table(matrixData, location, { schema: matrixSchema }).write();
    return partFile(location);
  })();
  return matrixWritten;
}

describe("the type matrix", () => {
  it("DuckDB reads every type ferry writes, value for value", async () => {
    const result = await duck.runAndReadAll(`select * from '${await matrixFile()}'`);
    expect(result.columnNames()).toEqual(matrixSchema.fields.map((f) => f.name));
    const theirs = result.getColumns();
    matrixSchema.fields.forEach((field, c) => {
      expect(theirs[c]!.map(canonDuck), field.name).toEqual(
        matrixData[field.name]!.map((v) => canonFerry(field.type, v)),
      );
    });
  });

  it("Polars reads every type ferry writes that Polars has (exact: 64-bit values compared as text)", async () => {
    // Not compared: f16 and iv (Polars gaps, see above) and bin (nodejs-polars cannot hand Binary to JS).
    // Columns whose JS values from Polars are ferry's own (the rest are compared as text or parts).
    const asIs = [
      "b",
      "i8",
      "i16",
      "i32",
      "u8",
      "u16",
      "u32",
      "u64",
      "f32",
      "f64",
      "s",
      "d",
      "ts_s",
      "ts_ms",
      "list",
    ];
    const readable = matrixSchema.fields
      .map((f) => f.name)
      .filter((name) => !["f16", "iv", "bin"].includes(name));
    const frame = pl
      .readParquet(await matrixFile(), { columns: readable })
      .select(
        ...asIs,
        pl.col("i64").cast(pl.Utf8),
        pl.col("ts_us").cast(pl.Int64).cast(pl.Utf8),
        pl.col("ts_ns").cast(pl.Int64).cast(pl.Utf8),
        "t_ms",
        "t_us",
        "t_ns",
        "dur",
        pl.col("dec9").cast(pl.Utf8),
        pl.col("dec38").cast(pl.Utf8),
        pl.col("obj").isNull().alias("obj_null"),
        pl.col("obj").struct.field("a").alias("obj_a"),
        pl.col("obj").struct.field("b").alias("obj_b"),
        "nothing",
      );
    const text = (name: string) => matrixData[name]!.map((v) => (v === null ? null : String(v)));
    expect(frame.toRecords()).toEqual(
      matrixData.b!.map((_, row) => ({
        ...Object.fromEntries(asIs.map((name) => [name, matrixData[name]![row]])),
        i64: text("i64")[row],
        ts_us: text("ts_us")[row],
        ts_ns: text("ts_ns")[row],
        t_ms: [`00:00:00`, `23:59:59.999`, null][row],
        t_us: [`00:00:00.000001`, `23:59:59.999999`, null][row],
        t_ns: [`00:00:00.000000001`, `23:59:59.999999999`, null][row],
        dur: [-5, 86_400_000, null][row],
        dec9: matrixData.dec9![row],
        dec38: matrixData.dec38![row],
        obj_null: row === 2,
        obj_a: [1, null, null][row],
        obj_b: ["x", null, null][row],
        nothing: null,
      })),
    );
  });

  it("ferry reads every type Polars writes", async () => {
    const file = join(dir, "polars-matrix.parquet");
    const stamp = new Date("2024-01-02T03:04:05.678Z");
    // Columns ferry reads back as the very values Polars was given.
    const kept = {
      b: [true, null],
      i8: [-128, null],
      i16: [-32768, null],
      i32: [-2147483648, null],
      u8: [255, null],
      u16: [65535, null],
      u32: [4294967295, null],
      f32: [1.5, null],
      f64: [0.1, null],
      s: ["héllo", null],
      cat: ["c", null],
      d: [new Date("2024-02-29T00:00:00Z"), null],
      ts_ms: [stamp, null],
      list: [[1, 2], null],
      obj: [
        { a: 1, b: "x" },
        { a: 2, b: null },
      ],
    };
    pl.DataFrame({
      ...kept,
      i64: [-9007199254740991, null],
      u64: [9007199254740991, null],
      ts_us: [stamp, null],
      ts_ns: [stamp, null],
      tm: [45_296_789_012_345, null],
      dur: [86_400_000, null],
    })
      .withColumns(
        pl.col("i8").cast(pl.Int8),
        pl.col("i16").cast(pl.Int16),
        pl.col("i32").cast(pl.Int32),
        pl.col("i64").cast(pl.Int64),
        pl.col("u8").cast(pl.UInt8),
        pl.col("u16").cast(pl.UInt16),
        pl.col("u32").cast(pl.UInt32),
        pl.col("u64").cast(pl.UInt64),
        pl.col("f32").cast(pl.Float32),
        pl.col("cat").cast(pl.Categorical),
        pl.col("d").cast(pl.Date),
        pl.col("ts_ms").cast(pl.Datetime("ms")),
        pl.col("ts_us").cast(pl.Datetime("us", "UTC")),
        pl.col("ts_ns").cast(pl.Datetime("ns")),
        pl.col("tm").cast(pl.Time),
        pl.col("dur").cast(pl.Duration("ms")),
        pl.col("list").cast(pl.List(pl.Int32)),
      )
      .writeParquet(file);
    const batch = await Table.from(file).fetchBatch();
    expect(Object.fromEntries(batch.schema.fields.map((f) => [f.name, f.type]))).toEqual({
      b: t.bool(),
      i8: t.int8(),
      i16: t.int16(),
      i32: t.int32(),
      u8: t.uint8(),
      u16: t.uint16(),
      u32: t.uint32(),
      f32: t.float32(),
      f64: t.float64(),
      s: t.string(),
      cat: t.string(),
      d: t.date(),
      ts_ms: t.timestamp("ms"),
      list: { type: "list", item: t.field("element", t.int32()) },
      // Polars infers Float64 for the struct's numbers from JS values.
      obj: t.struct([t.field("a", t.float64()), t.field("b", t.string())]),
      i64: t.int64(),
      u64: t.uint64(),
      ts_us: t.timestamp("us", "UTC"),
      ts_ns: t.timestamp("ns"),
      tm: t.time("ns"),
      // Polars writes a Duration as a plain INT64 (its unit only in its own Arrow schema).
      dur: t.int64(),
    });
    expect(batch.columns).toEqual({
      ...kept,
      i64: [-9007199254740991n, null],
      u64: [9007199254740991n, null],
      ts_us: [BigInt(stamp.getTime()) * 1000n, null],
      ts_ns: [BigInt(stamp.getTime()) * 1_000_000n, null],
      tm: [45_296_789_012_345n, null],
      dur: [86_400_000n, null],
    });
  });

  it("ferry reads every type DuckDB writes, value for value", async () => {
    const file = join(dir, "duck-matrix.parquet");
    await duckRows(`copy (select * from (values
        (true, (-128)::tinyint, (-32768)::smallint, (-2147483648)::int, (-9223372036854775808)::bigint,
         255::utinyint, 65535::usmallint, 4294967295::uinteger, 18446744073709551615::ubigint,
         1.1::float, 0.1::double, 'héllo', '\\xAA\\x00'::blob, date '2024-02-29',
         timestamp '2024-01-02 03:04:05.678901', '2024-01-02 03:04:05.678901234'::timestamp_ns,
         '2024-01-02 03:04:05.678'::timestamp_ms, '2024-01-02 03:04:05'::timestamp_s,
         timestamptz '2024-01-02 03:04:05.678901+00', time '23:59:59.999999',
         '23:59:59.999999999'::time_ns, interval '14 months 40 days 5 milliseconds',
         123.45::decimal(5, 2), 123456789012.345678::decimal(18, 6),
         12345678901234567890123456789.123456789::decimal(38, 9), [1, null, 3], {'a': 1, 'b': 'x'},
         map {'k': 1, 'l': null}, uuid '4ac7a9e9-607c-4c8a-84f3-843f0191e3fd', '{"a": [1]}'::json),
        (null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
         null, null, null, null, null, null, null, null, null, [], {'a': null, 'b': null}, map {}, null, null))
      t(b, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, s, bin, d, ts_us, ts_ns, ts_ms, ts_s, tstz, tm,
        tm_ns, iv, dec5, dec18, dec38, list, obj, m, id, doc)) to '${file}'`);
    const batch = await Table.from(file).fetchBatch();
    const result = await duck.runAndReadAll(`select * from '${file}'`);
    expect(batch.schema.fields.map((f) => f.name)).toEqual(result.columnNames());
    const theirs = result.getColumns();
    batch.schema.fields.forEach((field, c) => {
      expect(
        (batch.columns[field.name] as unknown[]).map((v) => canonFerry(field.type, v)),
        field.name,
      ).toEqual(theirs[c]!.map(canonDuck));
    });
  });
});
