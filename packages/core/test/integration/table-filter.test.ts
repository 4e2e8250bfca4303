/**
 * Row filters from the user's side: random filters (fixed seeds) over a partitioned table with nulls,
 * NaN, surrogate pairs, dates and timestamps, checked against a model written here (SQL's three-valued
 * logic over row objects); every spelling of a filter gives the same rows; row groups and partitions
 * that cannot match are not read (bytes counted by the reader); bad filters fail in one line.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { columnValues, createRandom, type Filter, type FilterValue } from "@ferry/parquet";
import { FerryError, type Schema, t } from "@ferry/plugin-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Table, table } from "../../src/index.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-filter-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const DAY = 86_400_000;
const STRINGS = ["", "a", "ab", "b", "Z", "é", "\uffff", "😀", "😀a", "a😀", "it's"];
const FLOATS = [0, -0, 1.5, -2.25, 3, Number.NaN, Number.POSITIVE_INFINITY, 1e-9, 100];
const DAYS = Array.from({ length: 6 }, (_, i) => new Date(Date.UTC(2024, 0, 1) + i * DAY));

const schema: Schema = {
  fields: [
    t.field("id", t.int32(), false),
    t.field("big", t.int64()),
    t.field("x", t.float64()),
    t.field("s", t.string()),
    t.field("flag", t.bool()),
    t.field("day", t.date()),
    t.field("ts", t.timestamp("ms")),
    t.field("part", t.string()),
    t.field("yr", t.int64()),
  ],
};

type Row = Record<string, unknown>;

function makeRows(n: number, next: () => number): Row[] {
  const pick = <T>(values: readonly T[], nulls = 0.15): T | null =>
    next() < nulls ? null : values[Math.floor(next() * values.length)]!;
  return Array.from({ length: n }, (_, id) => ({
    id,
    big: pick([-3n, -1n, 0n, 2n, 5n, 9007199254740993n]),
    x: pick(FLOATS),
    s: pick(STRINGS),
    flag: pick([true, false]),
    day: pick(DAYS),
    ts: pick([new Date(Date.UTC(2024, 0, 1, 12)), new Date(Date.UTC(2024, 0, 2, 0, 0, 0, 5)), new Date(0)]),
    part: pick(["p1", "p2"], 0.2),
    yr: pick([2020n, 2021n, 2022n], 0),
  }));
}

function columnsOf(rows: Row[]): Record<string, unknown[]> {
  return Object.fromEntries(schema.fields.map((f) => [f.name, rows.map((row) => row[f.name] ?? null)]));
}

function rowsOf(columns: Readonly<Record<string, readonly unknown[]>>, n: number): Row[] {
  return Array.from({ length: n }, (_, i) =>
    Object.fromEntries(Object.entries(columns).map(([name, values]) => [name, values[i]])),
  );
}

// ─── the model: SQL's three-valued logic over row objects, written independently ───────────────────

type Truth = boolean | null;

function codePoints(text: string): number[] {
  return [...text].map((c) => c.codePointAt(0)!);
}

/** <0, 0, >0; undefined when incomparable (NaN). */
function order(a: unknown, b: unknown): number | undefined {
  if (typeof a === "number" && Number.isNaN(a)) return undefined;
  if (typeof a === "string" && typeof b === "string") {
    const x = codePoints(a);
    const y = codePoints(b);
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
    return x.length - y.length;
  }
  if (a instanceof Date) return order(a.getTime(), b instanceof Date ? b.getTime() : Date.parse(String(b)));
  if (typeof a === "boolean") return Number(a) - Number(b);
  return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
}

function modelTruth(filter: Filter, row: Row): Truth {
  if (Array.isArray(filter) && typeof filter[0] !== "string")
    return modelTruth({ and: filter as Filter[] }, row);
  if (Array.isArray(filter)) {
    const [column, op, value] = filter as [string, string, unknown];
    const cell = row[column] ?? null;
    if (op === "is null") return cell === null;
    if (op === "is not null") return cell !== null;
    if (cell === null) return null;
    if (op === "in" || op === "not in") {
      const found = (value as unknown[]).some((v) => order(cell, v) === 0);
      return op === "in" ? found : !found && true;
    }
    const o = order(cell, value);
    if (o === undefined) return op === "!=";
    return { "=": o === 0, "!=": o !== 0, "<": o < 0, "<=": o <= 0, ">": o > 0, ">=": o >= 0 }[op]!;
  }
  const node = filter as { and?: Filter[]; or?: Filter[]; not?: Filter };
  if (node.not !== undefined) {
    const inner = modelTruth(node.not, row);
    return inner === null ? null : !inner;
  }
  const items = (node.and ?? node.or)!.map((item) => modelTruth(item, row));
  if (node.and) return items.includes(false) ? false : items.includes(null) ? null : true;
  return items.includes(true) ? true : items.includes(null) ? null : false;
}

// ─── random filters and their text spelling ─────────────────────────────────────────────────────

const LITERALS: Record<string, readonly FilterValue[]> = {
  id: [0, 5, 199, 250, 399, -1, 7.5],
  big: [-1n, 0n, 2n, 9007199254740993n, 4],
  x: [0, -0, 1.5, 3, -2.25, 100, Number.POSITIVE_INFINITY],
  s: STRINGS,
  flag: [true, false],
  day: DAYS.map((d) => d.toISOString().slice(0, 10)),
  ts: ["2024-01-01T12:00:00Z", "2024-01-02T00:00:00.005Z", "1970-01-01T00:00:00Z"],
  part: ["p1", "p2", "p3"],
  yr: [2020n, 2021, 2022n, 2023],
};

function randomFilter(next: () => number, depth = 0): Filter {
  const roll = next();
  if (depth < 3 && roll < 0.25) {
    const items = [randomFilter(next, depth + 1), randomFilter(next, depth + 1)];
    return next() < 0.5 ? { and: items } : { or: items };
  }
  if (depth < 3 && roll < 0.32) return { not: randomFilter(next, depth + 1) };
  const columns = Object.keys(LITERALS);
  const column = columns[Math.floor(next() * columns.length)]!;
  const values = LITERALS[column]!;
  const value = () => values[Math.floor(next() * values.length)]!;
  const kind = next();
  if (kind < 0.1) return [column, next() < 0.5 ? "is null" : "is not null"];
  if (kind < 0.25) return [column, next() < 0.6 ? "in" : "not in", [value(), value()]];
  const ops = ["=", "!=", "<", "<=", ">", ">="] as const;
  return [column, ops[Math.floor(next() * ops.length)]!, value()];
}

function literalText(value: FilterValue): string {
  if (typeof value === "string") return `'${value.replaceAll("'", "''")}'`;
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number" && Object.is(value, -0)) return "-0";
  if (value === Number.POSITIVE_INFINITY) return "1e999";
  return String(value);
}

function filterText(filter: Filter): string {
  if (Array.isArray(filter) && typeof filter[0] === "string") {
    const [column, op, value] = filter as [string, string, FilterValue | FilterValue[]];
    if (op === "is null" || op === "is not null") return `${column} ${op}`;
    if (Array.isArray(value)) return `${column} ${op} (${value.map(literalText).join(", ")})`;
    return `${column} ${op} ${literalText(value)}`;
  }
  const node = filter as { and?: Filter[]; or?: Filter[]; not?: Filter };
  if (node.not !== undefined) return `not (${filterText(node.not)})`;
  const items = (node.and ?? node.or)!.map((item) => `(${filterText(item)})`);
  return items.join(node.and ? " and " : " OR ");
}

// ─── the tests ─────────────────────────────────────────────────────────────────────────────────

describe("Table filters: random filters against the model", () => {
  let all: Row[];
  let location: string;

  beforeAll(async () => {
    location = join(dir, "model");
    const rows = makeRows(400, createRandom(7));
    // Pages of a few rows: the page index narrows row groups to pages as well.
    const options = { schema, partitionBy: ["part", "yr"], rowGroupSize: 16, pageSize: 48 };
    await table(columnsOf(rows), location, options).write();
    const batch = await Table.from(location).fetchBatch();
    all = rowsOf(batch.columns, batch.numRows);
    expect(all).toHaveLength(400);
  });

  it("fetch, count, stream, head and the columnar read keep exactly the model's rows, in every spelling", async () => {
    const next = createRandom(2026);
    const reader = await Table.from(location).reader();
    const tbl = Table.from(location);
    for (let round = 0; round < 80; round++) {
      const filter = randomFilter(next);
      const text = filterText(filter);
      const expected = all.filter((row) => modelTruth(filter, row) === true);
      const label = `${text}  ${JSON.stringify(filter, (_k, v) => (typeof v === "bigint" ? `${v}n` : v))}`;

      const fetched = await reader.fetch({ filter });
      expect(rowsOf(fetched.columns, fetched.numRows), label).toEqual(expected);
      const fromText = await reader.fetch({ filter: text });
      expect(fromText.numRows, `text: ${label}`).toBe(expected.length);
      expect(rowsOf(fromText.columns, fromText.numRows)).toEqual(expected);
      expect(await reader.count(undefined, filter), label).toBe(expected.length);

      const streamed: Row[] = [];
      for await (const batch of reader.stream({ filter, batchSize: 7, prefetch: round % 3 }))
        streamed.push(...rowsOf(batch.columns, batch.numRows));
      expect(streamed, label).toEqual(expected);

      const { groups } = await reader.columnar({ filter, columns: ["id", "s", "x"] });
      const ids: unknown[] = [];
      const texts: unknown[] = [];
      for await (const group of groups) {
        ids.push(...columnValues(t.int32(), group.columns.id!));
        texts.push(...columnValues(t.string(), group.columns.s!));
      }
      expect(ids, label).toEqual(expected.map((row) => row.id));
      expect(texts, label).toEqual(expected.map((row) => row.s));

      if (round % 10 === 0) {
        const head = (await tbl.head(3, { filter })) as Record<string, unknown[]>;
        expect(head.id, label).toEqual(expected.slice(0, 3).map((row) => row.id));
        expect(await tbl.count({ filter }), label).toBe(expected.length);
      }
    }
  });

  it("a shuffled stream with a filter yields the same rows, in another order", async () => {
    const reader = await Table.from(location).reader();
    const filter: Filter = ["s", "in", ["a", "ab", "😀"]];
    const ids: number[] = [];
    for await (const batch of reader.stream({ filter, shuffle: { seed: 3 }, batchSize: 5 }))
      ids.push(...(batch.columns.id as number[]));
    const expected = all.filter((row) => modelTruth(filter, row) === true).map((row) => row.id as number);
    expect(ids).not.toEqual(expected);
    expect([...ids].sort((a, b) => a - b)).toEqual([...expected].sort((a, b) => a - b));
  });

  it("a filter on columns not selected reads them for the filter and leaves them out", async () => {
    const got = (await Table.from(location).fetch({
      columns: ["id"],
      filter: ["s", "=", "😀"],
    })) as Record<string, unknown[]>;
    expect(Object.keys(got)).toEqual(["id"]);
    expect(got.id).toEqual(all.filter((row) => row.s === "😀").map((row) => row.id));
  });

  it("a list of conditions means all of them, as pyarrow's filters do", async () => {
    const reader = await Table.from(location).reader();
    const both = await reader.fetch({
      filter: [
        ["yr", ">=", 2021],
        ["flag", "=", true],
      ],
    });
    const expected = all.filter((row) => (row.yr as bigint) >= 2021n && row.flag === true);
    expect(rowsOf(both.columns, both.numRows)).toEqual(expected);
  });
});

describe("Table filters: reading less", () => {
  it("row groups whose statistics rule the filter out are not fetched", async () => {
    const location = join(dir, "sorted");
    const n = 20_000;
    const id = Array.from({ length: n }, (_, i) => i);
    // Random hex: the file's size is its rows, not what snappy makes of them.
    const next = createRandom(11);
    const hex = () =>
      Math.floor(next() * 2 ** 32)
        .toString(16)
        .padStart(8, "0");
    const word = id.map((i) => `row-${String(i).padStart(6, "0")}-${hex()}${hex()}${hex()}${hex()}`);
    await table({ id, word }, location, { rowGroupSize: 500 }).write();

    const whole = await Table.from(location).reader();
    await whole.fetch();
    // Matching nothing, by statistics: the footer alone is read.
    const none = await Table.from(location).reader();
    expect((await none.fetch({ filter: ["id", ">", n] })).numRows).toBe(0);
    const footer = none.stats.bytesRead;
    const data = whole.stats.bytesRead - footer;

    const some = await Table.from(location).reader();
    const got = await some.fetch({ filter: "id >= 10000 and id < 10200" });
    expect(got.columns.id).toEqual(id.slice(10_000, 10_200));
    // 1 % of the rows, in one of 40 row groups: that group's chunks, 2.5 % of the data.
    expect(some.stats.bytesRead - footer).toBeLessThan(data * 0.05);

    // head reads only the row groups it needs, counts read only the filter's column.
    const first = await Table.from(location).reader();
    for await (const _ of first.stream({ filter: ["id", ">=", 15_000], batchSize: 5, prefetch: 0 })) break;
    expect(first.stats.bytesRead - footer).toBeLessThan(data * 0.05);
    const counting = await Table.from(location).reader();
    expect(await counting.count(undefined, ["word", ">=", "row-019"])).toBe(1000);
    // Two of 40 groups could match ("row-018…" is below, "row-019…" above), of the word column only.
    expect(counting.stats.bytesRead - footer).toBeLessThan(data * 0.06);
  });

  it.each([
    ["streamed (writeBatches)", true],
    ["columnar (write)", false],
  ])(
    "within a row group, the page index leaves out the pages that cannot match: %s",
    async (_name, viaBatches) => {
      const location = join(dir, `one-group-${viaBatches}`);
      const n = 20_000;
      const next = createRandom(12);
      const hex = () =>
        Math.floor(next() * 2 ** 32)
          .toString(16)
          .padStart(8, "0");
      const id = Array.from({ length: n }, (_, i) => i);
      const word = id.map(() => `${hex()}${hex()}${hex()}${hex()}`);
      // One row group of 1 KiB pages (256 ids a page): statistics alone would read all of it.
      const source = {
        schema: { fields: [t.field("id", t.int32()), t.field("word", t.string())] },
        batches: [
          {
            schema: { fields: [t.field("id", t.int32()), t.field("word", t.string())] },
            columns: { id, word },
            numRows: n,
          },
        ],
      };
      if (viaBatches) await Table.from(location).writeBatches(source, { rowGroupSize: n, pageSize: 1024 });
      else
        await table({ id, word }, location, { schema: source.schema }).write({
          rowGroupSize: n,
          pageSize: 1024,
        });
      const whole = await Table.from(location).reader();
      const [part] = await whole.parts();
      const { metadata } = await whole.open(part!);
      expect(metadata.row_groups).toHaveLength(1);
      expect(metadata.row_groups[0]!.columns.every((c) => c.column_index_offset !== undefined)).toBe(true);
      await whole.fetch();
      const none = await Table.from(location).reader();
      await none.fetch({ filter: ["id", "<", 0] });
      const footer = none.stats.bytesRead;

      const some = await Table.from(location).reader();
      const got = await some.fetch({ filter: "id >= 12000 and id < 12200" });
      expect(got.columns.id).toEqual(id.slice(12_000, 12_200));
      expect(got.columns.word).toEqual(word.slice(12_000, 12_200));
      expect(some.stats.bytesRead - footer).toBeLessThan((whole.stats.bytesRead - footer) * 0.05);

      // The other reads agree: streamed, columnar, counted, and a filter on the unsorted column.
      const streamed: unknown[] = [];
      for await (const batch of some.stream({ filter: ["id", "in", [5, 19_999, 7_777]], batchSize: 2 }))
        streamed.push(...batch.columns.word!);
      expect(streamed).toEqual([word[5], word[7_777], word[19_999]]);
      expect(await some.count(undefined, "id < 100 or id >= 19900")).toBe(200);
      const target = word[4_321]!;
      expect((await some.fetch({ filter: ["word", "=", target] })).columns.id).toEqual([4_321]);
    },
  );

  it("parts in Hive partitions the filter rules out are never opened", async () => {
    const location = join(dir, "partitioned");
    const n = 3_000;
    const data = {
      id: Array.from({ length: n }, (_, i) => i),
      year: Array.from({ length: n }, (_, i) => 2000 + (i % 10)),
      label: Array.from({ length: n }, (_, i) => `label-${i % 7}`),
    };
    await table(data, location, { partitionBy: ["year", "label"] }).write();
    const whole = await Table.from(location).reader();
    const everything = await whole.fetch();
    const reader = await Table.from(location).reader();
    const got = await reader.fetch({ filter: "year = 2003 and label in ('label-1', 'label-2')" });
    const expected = (everything.columns.id as number[]).filter(
      (i) => i % 10 === 3 && [1, 2].includes(i % 7),
    );
    expect(got.columns.id).toEqual(expected);
    // 2 of 70 partitions: their footers and data, and the newest part's footer (it gives the schema).
    expect(reader.stats.requests).toBeLessThanOrEqual(5);
    expect(reader.stats.bytesRead).toBeLessThan(whole.stats.bytesRead / 20);
  });
});

describe("Table filters: mistakes are one clear line", () => {
  let location: string;
  beforeAll(async () => {
    location = join(dir, "mistakes");
    await table(
      { id: [1, 2, 3], tags: [["a"], [], ["b", "c"]], when: [new Date(0), new Date(1), new Date(2)] },
      location,
    ).write();
  });

  const cases: [string, Filter, RegExp][] = [
    [
      "an unknown column",
      ["nope", "=", 1],
      /^filter: column "nope" is not in the table \(columns: id, tags, when\)$/,
    ],
    [
      "a value of another type",
      ["id", "=", "abc"],
      /^filter: column "id" is int32; "abc" is not a value of that type$/,
    ],
    ["a comparison with null", ["id", "=", null], /never true: use \["id", "is null"\]/],
    ["an unknown operator", ["id", "~", 1] as unknown as Filter, /unknown operator "~"/],
    [
      "a list column compared",
      ["tags", "=", "a"],
      /"tags" is list<string>: it can only be tested with is null/,
    ],
    ["text cut short", "id >", /^filter: expected a value .* found the end$/],
    [
      "a double-quoted value",
      'id = "a"',
      /"a" in double quotes is a column name; write text in single quotes: 'a'/,
    ],
    ["a bad date", ["when", ">", "yesterday"], /"yesterday" is not a value of that type/],
    [
      "an object with two keys",
      { and: [], or: [] } as unknown as Filter,
      /exactly one of the keys and, or, not/,
    ],
    ["NaN", ["id", "=", Number.NaN], /NaN equals nothing/],
  ];
  for (const [name, filter, message] of cases) {
    it(`${name}: InvalidInput, nothing read`, async () => {
      const tbl = Table.from(location);
      const error = await tbl.fetch({ filter }).catch((e: unknown) => e);
      expect(FerryError.isInstance(error)).toBe(true);
      expect((error as FerryError).code).toBe("InvalidInput");
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain("\n");
    });
  }

  it("a misspelt option is named", async () => {
    await expect(Table.from(location).fetch({ filtr: ["id", "=", 1] } as never)).rejects.toThrow(/filtr/);
  });
});
