/**
 * Filters on DECIMAL columns read less: row groups and pages whose statistics rule a filter out are not
 * fetched, for every physical type a decimal is stored in (INT32, INT64, FIXED_LEN_BYTE_ARRAY,
 * BYTE_ARRAY), with unscaled values past 2^53 and below zero, in files written by ferry, by DuckDB and
 * by hyparquet-writer. Rows are checked against a model (exact decimal order, written here) or against
 * DuckDB's own WHERE on the same file; bytes are counted by the reader.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { createRandom, type Filter } from "@ferry/parquet";
import { type Schema, t } from "@ferry/plugin-kit";
import { type FileMetaData, parquetMetadata } from "hyparquet";
import { parquetWriteBuffer } from "hyparquet-writer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Table, table } from "../../src/index.ts";

let dir: string;
let duck: Awaited<ReturnType<DuckDBInstance["connect"]>>;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-filter-decimal-"));
  duck = await (await DuckDBInstance.create(":memory:")).connect();
});
afterAll(async () => {
  duck?.closeSync();
  await rm(dir, { recursive: true, force: true });
});

// ─── the model: exact decimal order over the texts ferry reads and writes ─────────────────────────

/** "-12.3400" at scale 4 → -123400n; the model's own reading of decimal text. */
function unscaled(text: string, scale: number): bigint {
  const negative = text.startsWith("-");
  const [whole = "0", fraction = ""] = text.replace(/^[+-]/, "").split(".");
  const magnitude = BigInt(`${whole || "0"}${fraction.padEnd(scale, "0")}`);
  return negative ? -magnitude : magnitude;
}

/** Unscaled → text with exactly `scale` digits after the point (what ferry returns). */
function text(value: bigint, scale: number): string {
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(scale + 1, "0");
  const body = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${body}` : body;
}

type Op = "=" | "!=" | "<" | "<=" | ">" | ">=";
const OPS: readonly Op[] = ["=", "!=", "<", "<=", ">", ">="];

function holds(op: Op, cell: bigint, value: bigint): boolean {
  return {
    "=": cell === value,
    "!=": cell !== value,
    "<": cell < value,
    "<=": cell <= value,
    ">": cell > value,
    ">=": cell >= value,
  }[op];
}

/** Bytes of the chunks of `columns` (all by default) in row group `group`. */
function groupBytes(metadata: FileMetaData, group: number, columns?: readonly string[]): number {
  return metadata.row_groups[group]!.columns.reduce((sum, chunk) => {
    const name = chunk.meta_data!.path_in_schema[0]!;
    return columns && !columns.includes(name) ? sum : sum + Number(chunk.meta_data!.total_compressed_size);
  }, 0);
}

/**
 * A read of row group `group` and nothing of any other stays under this: the group, and less than the
 * smallest other one. (The chunks of value-path columns such as decimals may be fetched twice: once
 * inside the columnar path's merged range read, once by the value path.)
 */
function oneGroupBudget(metadata: FileMetaData, group: number): number {
  const others = metadata.row_groups.flatMap((_, g) => (g === group ? [] : [groupBytes(metadata, g)]));
  return groupBytes(metadata, group) + Math.min(...others);
}

/** Bytes a reader takes for the footer alone (a filter on `id` no row group can match). */
async function footerBytes(location: string): Promise<number> {
  const reader = await Table.from(location).reader();
  expect((await reader.fetch({ filter: ["id", "<", -1] })).numRows).toBe(0);
  return reader.stats.bytesRead;
}

// Unscaled steps: each column is sorted by id, spans zero, and (INT64, FLBA) passes 2^53.
const COLUMNS = [
  { name: "d9", precision: 9, scale: 2, step: 19_999n },
  { name: "d18", precision: 18, scale: 3, step: 123_456_789_012_345n },
  { name: "d38", precision: 38, scale: 4, step: 12_345_678_901_234_567_890_123_456_789n },
] as const;

/** Row i's unscaled value in column c: sorted by i, distinct, negative below the middle; null every 101st row. */
function unscaledAt(step: bigint, i: number, n: number): bigint | null {
  return i % 101 === 7 ? null : BigInt(i - n / 2) * step + BigInt(i % 7);
}

describe("decimal filters on files ferry writes skip row groups and pages", () => {
  const n = 4_000;
  const groupSize = 500;
  const schema: Schema = {
    fields: [
      t.field("id", t.int32(), false),
      ...COLUMNS.map((c) => t.field(c.name, t.decimal(c.precision, c.scale))),
      t.field("payload", t.string()),
    ],
  };
  const next = createRandom(18);
  const hex = () =>
    Math.floor(next() * 2 ** 32)
      .toString(16)
      .padStart(8, "0");
  const columns: Record<string, unknown[]> = {
    id: Array.from({ length: n }, (_, i) => i),
    ...Object.fromEntries(
      COLUMNS.map((c) => [
        c.name,
        Array.from({ length: n }, (_, i) => {
          const u = unscaledAt(c.step, i, n);
          return u === null ? null : text(u, c.scale);
        }),
      ]),
    ),
    payload: Array.from({ length: n }, () => `${hex()}${hex()}${hex()}${hex()}${hex()}${hex()}`),
  };

  /** The ids the model keeps for `column op value`. */
  function modelIds(column: (typeof COLUMNS)[number], op: Op, value: string): number[] {
    const bound = unscaled(value, column.scale);
    return (columns[column.name] as (string | null)[]).flatMap((cell, i) =>
      cell !== null && holds(op, unscaled(cell, column.scale), bound) ? [i] : [],
    );
  }

  it.each([
    ["columnar (write)", false],
    ["streamed (writeBatches)", true],
  ])("row groups outside the filter are not fetched, rows as the model: %s", async (_name, viaBatches) => {
    const location = join(dir, `ferry-groups-${viaBatches}`);
    if (viaBatches)
      await Table.from(location).writeBatches(
        { schema, batches: [{ schema, columns, numRows: n }] },
        { rowGroupSize: groupSize },
      );
    else await table(columns, location, { schema, rowGroupSize: groupSize }).write();

    const whole = await Table.from(location).reader();
    const [part] = await whole.parts();
    const { metadata } = await whole.open(part!);
    expect(metadata.row_groups).toHaveLength(n / groupSize);
    const footer = await footerBytes(location);

    for (const column of COLUMNS) {
      // Group 5 holds ids 2500..2999; its least and greatest values bound the filter exactly.
      const first = text(unscaledAt(column.step, 2500, n)!, column.scale);
      const last = text(unscaledAt(column.step, 2999, n)!, column.scale);
      const reader = await Table.from(location).reader();
      const got = await reader.fetch({
        filter: [
          [column.name, ">=", first],
          [column.name, "<=", last],
        ],
      });
      const expected = modelIds(column, ">=", first).filter((id) => id <= 2999);
      expect(got.columns.id, column.name).toEqual(expected);
      expect(got.columns[column.name], column.name).toEqual(expected.map((id) => columns[column.name]![id]));
      // One of eight row groups: its chunks, nothing of the others.
      expect(reader.stats.bytesRead - footer, column.name).toBeLessThan(oneGroupBudget(metadata, 5));
    }
  });

  it("a constant equal to a row group's least or greatest value keeps that group, for every operator", async () => {
    const location = join(dir, "ferry-bounds");
    await table(columns, location, { schema, rowGroupSize: groupSize }).write();
    const reader = await Table.from(location).reader();
    for (const column of COLUMNS) {
      // The least and greatest non-null value of each group (null rows are not at the ends).
      const bounds = [0, 499, 500, 999, 3500, 3999].map((i) =>
        text(unscaledAt(column.step, i, n)!, column.scale),
      );
      for (const value of bounds) {
        for (const op of OPS) {
          const got = await reader.fetch({ filter: [column.name, op, value], columns: ["id"] });
          expect(got.columns.id, `${column.name} ${op} ${value}`).toEqual(modelIds(column, op, value));
        }
        const listed = await reader.fetch({ filter: [column.name, "in", [value, "0.5"]], columns: ["id"] });
        expect(listed.columns.id, `${column.name} in (${value})`).toEqual(modelIds(column, "=", value));
      }
    }
    // The same through the text form, at a scale the SQL number keeps exactly.
    const got = await reader.fetch({ filter: "d9 >= -0.05 and d9 < 1999.90", columns: ["id"] });
    const below = new Set(modelIds(COLUMNS[0], "<", "1999.90"));
    expect(got.columns.id).toEqual(modelIds(COLUMNS[0], ">=", "-0.05").filter((id) => below.has(id)));
  });

  it("a number in SQL text keeps every digit it is written with (a double keeps 15 to 17)", async () => {
    const location = join(dir, "ferry-text");
    await table(columns, location, { schema, rowGroupSize: groupSize }).write();
    const reader = await Table.from(location).reader();
    for (const column of COLUMNS) {
      for (const i of [8, 3002]) {
        const value = text(unscaledAt(column.step, i, n)!, column.scale);
        for (const op of OPS) {
          const got = await reader.fetch({ filter: `${column.name} ${op} ${value}`, columns: ["id"] });
          expect(got.columns.id, `${column.name} ${op} ${value}`).toEqual(modelIds(column, op, value));
        }
        const listed = await reader.fetch({ filter: `${column.name} in (${value}, 1e3)`, columns: ["id"] });
        expect(listed.columns.id, `${column.name} in (${value}, 1e3)`).toEqual(modelIds(column, "=", value));
      }
    }
  });

  it("within one row group, the decimal column's index leaves out the other columns' pages that cannot match", async () => {
    const location = join(dir, "ferry-pages");
    await Table.from(location).writeBatches(
      { schema, batches: [{ schema, columns, numRows: n }] },
      { rowGroupSize: n, pageSize: 1024 },
    );
    const whole = await Table.from(location).reader();
    const [part] = await whole.parts();
    const { metadata } = await whole.open(part!);
    expect(metadata.row_groups).toHaveLength(1);
    expect(metadata.row_groups[0]!.columns.every((c) => c.column_index_offset !== undefined)).toBe(true);
    const footer = await footerBytes(location);
    const others = groupBytes(metadata, 0, ["id", "payload"]);
    for (const column of COLUMNS) {
      const from = text(unscaledAt(column.step, 1200, n)!, column.scale);
      const to = text(unscaledAt(column.step, 1240, n)!, column.scale);
      const reader = await Table.from(location).reader();
      const got = await reader.fetch({
        columns: ["id", "payload"],
        filter: [
          [column.name, ">=", from],
          [column.name, "<", to],
        ],
      });
      const expected = modelIds(column, ">=", from).filter((id) => id < 1240);
      expect(got.columns.id, column.name).toEqual(expected);
      expect(got.columns.payload, column.name).toEqual(expected.map((id) => columns.payload![id]));
      // 1 % of the rows: the decimal column (the value path reads it whole), and of the others only
      // the pages holding those rows, with their page indexes.
      const filterColumn = groupBytes(metadata, 0, [column.name]);
      expect(reader.stats.bytesRead - footer - filterColumn, column.name).toBeLessThan(others * 0.1);
    }
  });
});

describe("decimal filters on files others write", () => {
  /** DuckDB text for the decimal of unscaled `u` (a SQL expression over it) at `scale`. */
  const decimalSql = (u: string, precision: number, scale: number) =>
    `((case when ${u} < 0 then '-' else '' end) || (abs(${u}) // ${10n ** BigInt(scale)})::varchar || '.' || lpad((abs(${u}) % ${10n ** BigInt(scale)})::varchar, ${scale}, '0'))::decimal(${precision}, ${scale})`;

  it("DuckDB's INT32, INT64 and FIXED_LEN_BYTE_ARRAY decimals: DuckDB's rows, other row groups skipped", async () => {
    const file = join(dir, "duck-decimals.parquet");
    const n = 10_000;
    const selects = COLUMNS.map((c) => {
      const u = `((i - ${n / 2})::hugeint * ${c.step} + i % 7)`;
      return `case when i % 101 = 7 then null else ${decimalSql(u, c.precision, c.scale)} end as ${c.name}`;
    });
    await duck.run(
      `copy (select i::int as id, ${selects.join(", ")}, md5(i::varchar) || md5((i + 1)::varchar) as payload
             from range(${n}) t(i) order by i)
       to '${file}' (format parquet, row_group_size 1000)`,
    );
    const types = (
      await duck.runAndReadAll(
        `select name, type from parquet_schema('${file}') where name in ('d9', 'd18', 'd38')`,
      )
    ).getRowObjectsJS();
    expect(types.map((row) => row.type)).toEqual(["INT32", "INT64", "FIXED_LEN_BYTE_ARRAY"]);
    const metadata = parquetMetadata((await readFile(file)).buffer as ArrayBuffer);
    const groups = metadata.row_groups.length;
    expect(groups).toBeGreaterThanOrEqual(4);
    const footer = await footerBytes(file);

    for (const [c, column] of COLUMNS.entries()) {
      // Each row group's exact least and greatest value, as DuckDB reads them back.
      const stats = (
        await duck.runAndReadAll(
          `select row_group_id, stats_min_value, stats_max_value from parquet_metadata('${file}')
           where path_in_schema = '${column.name}' order by row_group_id`,
        )
      ).getRowObjectsJS();
      expect(stats).toHaveLength(groups);
      const group = 2 + c;
      const min = String(stats[group]!.stats_min_value);
      const max = String(stats[group]!.stats_max_value);
      const cast = (value: string) => `'${value}'::decimal(${column.precision}, ${column.scale})`;
      const where = `${column.name} >= ${cast(min)} and ${column.name} <= ${cast(max)}`;
      const theirs = (
        await duck.runAndReadAll(`select id from read_parquet('${file}') where ${where} order by id`)
      )
        .getRowObjectsJS()
        .map((row) => Number(row.id));
      expect(theirs.length).toBeGreaterThan(900);
      const reader = await Table.from(file).reader();
      const got = await reader.fetch({
        filter: [
          [column.name, ">=", min],
          [column.name, "<=", max],
        ],
      });
      expect(got.columns.id, where).toEqual(theirs);
      expect(reader.stats.bytesRead - footer, where).toBeLessThan(oneGroupBudget(metadata, group));

      // Random comparisons with literals at and around the row groups' bounds: DuckDB's rows.
      const next = createRandom(90 + c);
      const literals = stats.flatMap((row) => [String(row.stats_min_value), String(row.stats_max_value)]);
      const all = await Table.from(file).reader();
      for (let round = 0; round < 40; round++) {
        const base = unscaled(literals[Math.floor(next() * literals.length)]!, column.scale);
        const value = text(base + BigInt(Math.floor(next() * 3) - 1), column.scale);
        const op = OPS[Math.floor(next() * OPS.length)]!;
        const clause = `${column.name} ${op} ${cast(value)}`;
        const expected = (
          await duck.runAndReadAll(`select id from read_parquet('${file}') where ${clause} order by id`)
        )
          .getRowObjectsJS()
          .map((row) => Number(row.id));
        const ours = (await all.fetch({ filter: [column.name, op, value] as Filter, columns: ["id"] }))
          .columns.id as number[];
        expect(ours, clause).toEqual(expected);
      }
    }
  });

  it("BYTE_ARRAY decimals (hyparquet-writer) with a column index: row groups and pages skipped", async () => {
    const file = join(dir, "byte-array-decimals.parquet");
    const n = 6_000;
    const scale = 4;
    const step = 98_765_432_109_876_543_210_987n;
    const values = Array.from({ length: n }, (_, i) => unscaledAt(step, i, n));
    const next = createRandom(7);
    const payload = Array.from({ length: n }, () => next().toString(36).repeat(4));
    await writeFile(
      file,
      new Uint8Array(
        parquetWriteBuffer({
          schema: [
            { name: "root", num_children: 3 },
            { name: "id", type: "INT32", repetition_type: "REQUIRED" },
            {
              name: "amount",
              type: "BYTE_ARRAY",
              repetition_type: "OPTIONAL",
              converted_type: "DECIMAL",
              precision: 30,
              scale,
              logical_type: { type: "DECIMAL", precision: 30, scale },
            },
            { name: "payload", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "REQUIRED" },
          ],
          columnData: [
            {
              name: "id",
              data: Int32Array.from({ length: n }, (_, i) => i),
              columnIndex: true,
              offsetIndex: true,
            },
            { name: "amount", data: values, columnIndex: true, offsetIndex: true },
            { name: "payload", data: payload, columnIndex: true, offsetIndex: true },
          ],
          rowGroupSize: 2_000,
          pageSize: 2_048,
        }),
      ),
    );
    const metadata = parquetMetadata((await readFile(file)).buffer as ArrayBuffer);
    expect(metadata.row_groups).toHaveLength(3);
    expect(metadata.row_groups[0]!.columns[1]!.meta_data!.type).toBe("BYTE_ARRAY");
    expect(metadata.row_groups[0]!.columns[1]!.column_index_offset).toBeDefined();
    const footer = await footerBytes(file);

    const from = text(values[3_300]!, scale);
    const to = text(values[3_360]!, scale);
    const reader = await Table.from(file).reader();
    const got = await reader.fetch({
      columns: ["id", "amount", "payload"],
      filter: [
        ["amount", ">", from],
        ["amount", "<=", to],
      ],
    });
    const expected = values.flatMap((v, i) =>
      v !== null && v > values[3_300]! && v <= values[3_360]! ? [i] : [],
    );
    expect(got.columns.id).toEqual(expected);
    expect(got.columns.amount).toEqual(expected.map((i) => text(values[i]!, scale)));
    // One row group of three (its amount column whole: the value path reads it so), and of the other
    // columns only the pages holding the rows.
    const others = [0, 1, 2].reduce((sum, g) => sum + groupBytes(metadata, g, ["id", "payload"]), 0);
    expect(reader.stats.bytesRead - footer - groupBytes(metadata, 1, ["amount"])).toBeLessThan(others * 0.1);
  });
});
