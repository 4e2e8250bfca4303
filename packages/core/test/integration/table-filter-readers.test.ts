/**
 * Filters checked against others: DuckDB runs the same WHERE on the same Hive-partitioned files and must
 * keep the same rows (random filters, fixed seed); DuckDB's bloom filters let ferry skip row groups
 * the statistics cannot; on S3, selecting 1 % of a sorted table moves ≤ 5 % of its bytes, counted on
 * the wire by a proxy in front of s3rver.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { local, PluginRegistry, Table, table } from "@ferry/core";
import { createRandom } from "@ferry/parquet";
import { t } from "@ferry/plugin-kit";
import s3 from "@ferry/storage-s3";
import arrow from "@ferry/table-arrow";
import polars from "@ferry/table-polars";
import { type FaultProxy, type S3Backend, startFaultProxy, startS3rver } from "@ferry/test-harness";
import { parquetMetadata, readOffsetIndex } from "hyparquet";
import pl from "nodejs-polars";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let dir: string;
let duck: Awaited<ReturnType<DuckDBInstance["connect"]>>;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-filter-readers-"));
  duck = await (await DuckDBInstance.create(":memory:")).connect();
});
afterAll(async () => {
  duck?.closeSync();
  await rm(dir, { recursive: true, force: true });
});

const STRINGS = ["", "a", "ab", "b", "Z", "é", "\uffff", "😀", "a😀", "it''s"];
const LITERALS: Record<string, readonly string[]> = {
  id: ["0", "17", "150", "299", "-1", "7.5"],
  big: ["-1", "0", "2", "9007199254740993"],
  x: ["0", "-0", "1.5", "-2.25", "100"],
  s: STRINGS.map((s) => `'${s}'`),
  flag: ["true", "false"],
  d: ["'2024-01-02'", "'2024-01-04'"],
  part: ["'p1'", "'p2'", "'p3'"],
  yr: ["2020", "2021", "2022"],
};

/** A random WHERE clause in the syntax both ferry and DuckDB read. */
function randomWhere(next: () => number, depth = 0): string {
  const roll = next();
  if (depth < 3 && roll < 0.25)
    return `(${randomWhere(next, depth + 1)}) ${next() < 0.5 ? "and" : "or"} (${randomWhere(next, depth + 1)})`;
  if (depth < 3 && roll < 0.32) return `not (${randomWhere(next, depth + 1)})`;
  const columns = Object.keys(LITERALS);
  const column = columns[Math.floor(next() * columns.length)]!;
  const values = LITERALS[column]!;
  const value = () => values[Math.floor(next() * values.length)]!;
  const kind = next();
  if (kind < 0.1) return `${column} ${next() < 0.5 ? "is null" : "is not null"}`;
  if (kind < 0.25) return `${column} ${next() < 0.6 ? "in" : "not in"} (${value()}, ${value()})`;
  const ops = ["=", "!=", "<", "<=", ">", ">=", "<>"];
  return `${column} ${ops[Math.floor(next() * ops.length)]} ${value()}`;
}

describe("ferry's filters keep the rows DuckDB keeps", () => {
  // Hive partitions and small row groups; row groups of many small pages (the page index at work);
  // the same unpartitioned, through the columnar writer.
  const layouts: [string, number, { partitionBy?: string[]; rowGroupSize: number; pageSize?: number }][] = [
    ["Hive-partitioned, row groups of 10", 99, { partitionBy: ["part", "yr"], rowGroupSize: 10 }],
    [
      "Hive-partitioned, pages of a few rows",
      104,
      { partitionBy: ["part", "yr"], rowGroupSize: 40, pageSize: 40 },
    ],
    ["one file, pages of a few rows", 105, { rowGroupSize: 40, pageSize: 40 }],
  ];
  it.each(layouts)("300 random WHERE clauses over a table with nulls: %s", async (name, seed, layout) => {
    const next = createRandom(seed);
    const n = 300;
    const pick = <T>(values: readonly T[], nulls = 0.15): T | null =>
      next() < nulls ? null : values[Math.floor(next() * values.length)]!;
    const days = [1, 2, 3, 4, 5].map((day) => new Date(Date.UTC(2024, 0, day)));
    const data = {
      id: Array.from({ length: n }, (_, i) => i),
      big: Array.from({ length: n }, () => pick([-3n, -1n, 0n, 2n, 5n, 9007199254740993n])),
      x: Array.from({ length: n }, () => pick([0, -0, 1.5, -2.25, 3, 100, 1e-9])),
      s: Array.from({ length: n }, () => pick(STRINGS.map((s) => s.replace("''", "'")))),
      flag: Array.from({ length: n }, () => pick([true, false])),
      d: Array.from({ length: n }, () => pick(days)),
      part: Array.from({ length: n }, () => pick(["p1", "p2"], 0.2)),
      yr: Array.from({ length: n }, () => pick([2020n, 2021n, 2022n], 0)),
    };
    const schema = {
      fields: [
        t.field("id", t.int32(), false),
        t.field("big", t.int64()),
        t.field("x", t.float64()),
        t.field("s", t.string()),
        t.field("flag", t.bool()),
        t.field("d", t.date()),
        t.field("part", t.string()),
        t.field("yr", t.int64()),
      ],
    };
    const location = join(dir, `oracle-${seed}`);
    await table(data, location, { schema, ...layout }).write();
    const reader = await Table.from(location).reader();
    const hive = layout.partitionBy ? ", hive_partitioning = true" : "";
    const source = `read_parquet('${location}/**/*.parquet'${hive})`;
    for (let round = 0; round < 300; round++) {
      const where = randomWhere(next);
      const theirs = (await duck.runAndReadAll(`select id from ${source} where ${where} order by id`))
        .getRowObjectsJS()
        .map((row) => Number(row.id));
      const ours = ((await reader.fetch({ filter: where, columns: ["id"] })).columns.id as number[]).sort(
        (a, b) => a - b,
      );
      expect(ours, `${name}: ${where}`).toEqual(theirs);
    }
  });
});

describe("bloom filters", () => {
  it("a value inside every row group's min–max but in no bloom filter reads no data pages", async () => {
    const file = join(dir, "bloom.parquet");
    // 'k0' … 'k149' in every row group: statistics cannot rule out 'k12345', a bloom filter can.
    // (DuckDB writes bloom filters for dictionary-encoded columns.)
    await duck.run(
      `copy (select i as id, 'k' || (i % 150)::varchar as key from range(200000) t(i))
       to '${file}' (format parquet, row_group_size 20000)`,
    );
    const metadata = parquetMetadata((await readFile(file)).buffer as ArrayBuffer);
    const keyChunks = metadata.row_groups.map((group) => group.columns[1]!.meta_data!);
    expect(keyChunks.length).toBeGreaterThanOrEqual(10);
    expect(keyChunks.every((chunk) => chunk.bloom_filter_offset !== undefined)).toBe(true);

    const whole = await Table.from(file).reader();
    await whole.fetch({ columns: ["key"] });
    const footerOnly = await Table.from(file).reader();
    expect((await footerOnly.fetch({ filter: ["id", "<", 0] })).numRows).toBe(0);
    const footer = footerOnly.stats.bytesRead;
    const absent = await Table.from(file).reader();
    expect((await absent.fetch({ filter: ["key", "=", "k12345"] })).numRows).toBe(0);
    // Beyond the footer: the ten bloom filters (272 bytes each here), none of the key column's pages.
    const blooms = keyChunks.reduce((sum, chunk) => sum + (chunk.bloom_filter_length ?? 0), 0);
    expect(absent.stats.bytesRead - footer).toBe(blooms);

    const present = await Table.from(file).reader();
    const got = await present.fetch({ filter: "key in ('k123', 'k12345')", columns: ["id"] });
    expect(got.columns.id).toEqual(
      Array.from({ length: 1334 }, (_, i) => BigInt(123 + i * 150)).filter((id) => id < 200_000n),
    );
    // A value the blooms hold: every row group's pages are read.
    expect(present.stats.bytesRead).toBeGreaterThan(absent.stats.bytesRead + 10_000);
  });
});

describe("page indexes others wrote", () => {
  it("a Polars file of one row group: only the pages holding the selected rows are read", async () => {
    const file = join(dir, "polars.parquet");
    const n = 400_000;
    const next = createRandom(3);
    const id = Array.from({ length: n }, (_, i) => i);
    const name = id.map(() =>
      Math.floor(next() * 2 ** 32)
        .toString(16)
        .padStart(8, "0"),
    );
    pl.DataFrame({ id, name }).writeParquet(file, { compression: "snappy" });
    const metadata = parquetMetadata((await readFile(file)).buffer as ArrayBuffer);
    expect(metadata.row_groups).toHaveLength(1);
    expect(metadata.row_groups[0]!.columns[0]!.column_index_offset).toBeDefined();

    const whole = await Table.from(file).reader();
    await whole.fetch();
    const none = await Table.from(file).reader();
    await none.fetch({ filter: ["id", "<", 0] });
    const footer = none.stats.bytesRead;
    const some = await Table.from(file).reader();
    const got = await some.fetch({ filter: "id >= 300000 and id < 304000" });
    expect(got.columns.id).toEqual(id.slice(300_000, 304_000));
    expect(got.columns.name).toEqual(name.slice(300_000, 304_000));
    // 1 % of the rows: the pages holding them (Polars writes pages of about 1 MiB), the dictionaries
    // and the page indexes, not the row group.
    const bytes = new Uint8Array(await readFile(file));
    let budget = 0;
    for (const chunk of metadata.row_groups[0]!.columns) {
      const at = Number(chunk.offset_index_offset);
      const view = new DataView(bytes.buffer, bytes.byteOffset + at, chunk.offset_index_length);
      const pages = readOffsetIndex({ view, offset: 0 }).page_locations;
      const first = (i: number) => (i < pages.length ? Number(pages[i]!.first_row_index) : n);
      pages.forEach((page, i) => {
        if (first(i) < 304_000 && first(i + 1) > 300_000) budget += page.compressed_page_size;
      });
      budget +=
        Number(pages[0]!.offset) - Number(chunk.meta_data!.dictionary_page_offset ?? pages[0]!.offset);
      budget += (chunk.offset_index_length ?? 0) + (chunk.column_index_length ?? 0);
    }
    expect(some.stats.bytesRead - footer).toBeLessThanOrEqual(budget);
    expect(budget).toBeLessThan((whole.stats.bytesRead - footer) / 2);

    // Every flavour takes the filter: polars (whose native read it bypasses) and arrow.
    const frame = (await Table.from(file, { flavour: polars() }).fetch({
      filter: ["id", "in", [5, 399_999]],
    })) as pl.DataFrame;
    expect(frame.getColumn("name").toArray()).toEqual([name[5], name[399_999]]);
    const arrowTable = (await Table.from(file, { flavour: arrow() }).fetch({
      filter: "id < 3",
      columns: ["name"],
    })) as { numRows: number; getChild(name: string): { toArray(): unknown[] } | null };
    expect(arrowTable.numRows).toBe(3);
    expect([...arrowTable.getChild("name")!.toArray()]).toEqual(name.slice(0, 3));
  });
});

describe("on S3, counted on the wire", () => {
  let server: S3Backend;
  let proxy: FaultProxy;
  let registry: PluginRegistry;
  beforeAll(async () => {
    server = await startS3rver();
    proxy = await startFaultProxy({ port: Number(new URL(server.endpoint).port) });
    registry = new PluginRegistry({ lazy: false }).use(
      local(),
      s3({ endpoint: proxy.endpoint, region: server.region, credentials: { ...server.credentials } }),
    );
  });
  afterAll(async () => {
    await registry?.close();
    await proxy?.stop();
    await server?.stop();
  });

  it("selecting 1 % of a sorted table by its sort column moves under 5 % of the table's bytes", async () => {
    const n = 200_000;
    const next = createRandom(5);
    const hex = () =>
      Math.floor(next() * 2 ** 32)
        .toString(16)
        .padStart(8, "0");
    const id = Array.from({ length: n }, (_, i) => i);
    const payload = id.map(() => `${hex()}${hex()}${hex()}${hex()}${hex()}${hex()}`);
    const url = `s3://${await server.createBucket()}/sorted`;
    const written = await table({ id, payload }, url, { registry, rowGroupSize: 2_000 }).write();
    const storage = await written.storage();
    let size = 0;
    for (const file of written.lastWrite!.files) size += (await storage.stat(file)).size;
    expect(size).toBeGreaterThan(8_000_000);

    // The proxy counts what a whole read moves: about the table's size.
    const before = proxy.bytes.downstream;
    expect((await Table.from(url, { registry }).fetchBatch({ columns: ["id"] })).numRows).toBe(n);
    await Table.from(url, { registry }).fetchBatch({ columns: ["payload"] });
    expect(proxy.bytes.downstream - before).toBeGreaterThan(size * 0.9);

    const start = proxy.bytes.downstream;
    const one = await Table.from(url, { registry }).fetchBatch({ filter: "id >= 120000 and id < 122000" });
    expect(one.columns.id).toEqual(id.slice(120_000, 122_000));
    expect(one.columns.payload).toEqual(payload.slice(120_000, 122_000));
    const served = proxy.bytes.downstream - start;
    // Responses include HTTP headers and the listing: still well under 5 % of the table.
    expect(served).toBeLessThan(size * 0.05);
  });
});
