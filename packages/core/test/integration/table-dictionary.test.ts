/**
 * Text and binary columns are written dictionary-encoded where that pays (at most half the rows
 * distinct, the dictionary within 1 MiB) and plain elsewhere. Seeded columns of every cardinality —
 * one value, a few, many, all distinct, a dictionary over the limit — with nulls, empty strings,
 * shared prefixes and characters beyond the BMP: ferry, DuckDB and Polars read back every value, each
 * chunk's encoding is the one the rule gives, and the row group and page statistics are the least and
 * greatest value in byte order (filters rely on them).
 */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { createRandom } from "@ferry/parquet";
import { type Schema, t } from "@ferry/plugin-kit";
import { type FileMetaData, parquetMetadata, readColumnIndex, readOffsetIndex } from "hyparquet";
import pl from "nodejs-polars";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Table, table } from "../../src/index.ts";

let dir: string;
let duck: Awaited<ReturnType<DuckDBInstance["connect"]>>;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-dictionary-"));
  duck = await (await DuckDBInstance.create(":memory:")).connect();
});
afterAll(async () => {
  duck.closeSync();
  await rm(dir, { recursive: true, force: true });
});

const ROWS = 20_000;
const ROW_GROUP = 5_000;
const encoder = new TextEncoder();

/** `distinct` values: short and long, with shared prefixes, an empty one, and characters beyond the BMP. */
function vocabulary(distinct: number, next: () => number, length = 0): string[] {
  const words = ["", "a", "ab", "abc", "é", "😀", "z\u0000z", "Ω"];
  return Array.from({ length: distinct }, (_, i) => {
    if (length > 0) return `${i}:`.padEnd(length, String.fromCharCode(97 + (i % 26)));
    if (i < words.length) return words[i]!;
    const word = `${words[Math.floor(next() * words.length)]}-${Math.floor(next() * 1e6).toString(36)}😀`;
    // Cut by code points: half a surrogate pair is not text.
    return Array.from(word)
      .slice(0, 1 + Math.floor(next() * 12))
      .join("");
  });
}

/** A column of `ROWS` values drawn from `words` (a null in about one row of `nullEvery`). */
function draw(words: string[], next: () => number, nullEvery: number): (string | null)[] {
  return Array.from({ length: ROWS }, () =>
    nullEvery > 0 && next() * nullEvery < 1 ? null : words[Math.floor(next() * words.length)]!,
  );
}

/** Whether the rule gives a row group's chunk a dictionary. */
function wantsDictionary(values: readonly (string | Uint8Array | null)[]): boolean {
  const distinct = new Map<string, number>();
  for (const v of values) {
    if (v === null) continue;
    const bytes = typeof v === "string" ? encoder.encode(v) : v;
    distinct.set(Buffer.from(bytes).toString("latin1"), bytes.byteLength);
  }
  const plain = [...distinct.values()].reduce((sum, n) => sum + 4 + n, 0);
  return distinct.size > 0 && distinct.size <= values.length >> 1 && plain <= 1024 * 1024;
}

/** The least and greatest value in unsigned byte order (UTF-8 for text), as parquet's statistics hold them. */
function bounds(values: readonly (string | Uint8Array | null)[]): [Buffer, Buffer] | undefined {
  const present = values
    .filter((v) => v !== null)
    .map((v) => Buffer.from(typeof v === "string" ? encoder.encode(v) : v!));
  if (present.length === 0) return undefined;
  present.sort(Buffer.compare);
  return [present[0]!, present[present.length - 1]!];
}

const asBuffer = (v: unknown) => Buffer.from(typeof v === "string" ? encoder.encode(v) : (v as Uint8Array));

/**
 * A statistic against the true bound: equal when that is 16 bytes or shorter, else truncated to 16
 * bytes and still a bound (a min a prefix of it, a max at or above it), as the writer truncates them.
 */
function isBound(stat: unknown, exact: Buffer, isMax: boolean): boolean {
  const got = asBuffer(stat);
  if (exact.byteLength <= 16) return got.equals(exact);
  if (got.byteLength > 16) return false;
  return isMax ? Buffer.compare(got, exact) >= 0 : exact.subarray(0, got.byteLength).equals(got);
}

async function onlyFile(location: string): Promise<string> {
  const [part] = (await readdir(location)).filter((f) => f.endsWith(".parquet"));
  return join(location, part!);
}

/** Each chunk's encoding and statistics, and each page's bounds from the page index, against the data. */
async function checkChunks(file: string, columns: Record<string, readonly (string | Uint8Array | null)[]>) {
  const bytes = await readFile(file);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  // Statistics as their bytes (a binary column's are not text).
  const parsers = { stringFromBytes: (bytes: Uint8Array) => bytes } as never;
  const metadata: FileMetaData = parquetMetadata(buffer, { parsers });
  const used: Record<string, boolean[]> = {};
  metadata.row_groups.forEach((group, g) => {
    for (const chunk of group.columns) {
      const name = chunk.meta_data!.path_in_schema[0]!;
      if (!(name in columns)) continue;
      const rows = columns[name]!.slice(g * ROW_GROUP, (g + 1) * ROW_GROUP);
      const dictionary = chunk.meta_data!.encodings.includes("RLE_DICTIONARY");
      used[name] = [...(used[name] ?? []), dictionary];
      expect(dictionary, `${name} row group ${g}`).toBe(wantsDictionary(rows));
      expect(chunk.meta_data!.dictionary_page_offset !== undefined, name).toBe(dictionary);
      const expected = bounds(rows);
      const stats = chunk.meta_data!.statistics!;
      expect(stats.null_count, name).toBe(BigInt(rows.filter((v) => v === null).length));
      if (expected) {
        expect(isBound(stats.min_value, expected[0], false), `${name} min, group ${g}`).toBe(true);
        expect(isBound(stats.max_value, expected[1], true), `${name} max, group ${g}`).toBe(true);
      }
      const offsetIndex = readOffsetIndex({
        view: new DataView(buffer, Number(chunk.offset_index_offset), chunk.offset_index_length!),
        offset: 0,
      });
      const columnIndex = readColumnIndex(
        {
          view: new DataView(buffer, Number(chunk.column_index_offset), chunk.column_index_length!),
          offset: 0,
        },
        metadata.schema.find((e) => e.name === name)!,
        parsers,
      );
      const starts = offsetIndex.page_locations.map((p) => Number(p.first_row_index));
      starts.forEach((first, p) => {
        const page = rows.slice(first, starts[p + 1] ?? rows.length);
        const pageBounds = bounds(page);
        expect(columnIndex.null_pages[p], `${name} page ${p}`).toBe(pageBounds === undefined);
        if (!pageBounds) return;
        expect(isBound(columnIndex.min_values[p], pageBounds[0], false), `${name} page ${p} min`).toBe(true);
        expect(isBound(columnIndex.max_values[p], pageBounds[1], true), `${name} page ${p} max`).toBe(true);
      });
    }
  });
  return used;
}

describe("dictionary-encoded text and binary", () => {
  const schema: Schema = {
    fields: [
      t.field("id", t.int32(), false),
      t.field("one", t.string()),
      t.field("few", t.string()),
      t.field("many", t.string()),
      t.field("unique", t.string()),
      t.field("wide", t.string()),
      t.field("required", t.string(), false),
      t.field("blob", t.binary()),
    ],
  };

  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: every value back through ferry, DuckDB and Polars; encodings and statistics as the rule says`, async () => {
      const next = createRandom(`dictionary-${seed}`);
      const blobWords = Array.from({ length: 40 }, (_, i) =>
        Uint8Array.from({ length: i % 7 }, (_, k) => (k % 2 ? 0xff : 0) ^ (i * 37 + k)),
      );
      const columns = {
        id: Array.from({ length: ROWS }, (_, i) => i),
        one: draw(["same"], next, 3),
        few: draw(vocabulary(12, next), next, 10),
        many: draw(vocabulary(1_500, next), next, 50),
        unique: Array.from({ length: ROWS }, (_, i) =>
          i % 97 === 0 ? null : `u${i}-${next().toString(36)}`,
        ),
        // 700 values of 2,000 bytes: a dictionary of 1.4 MB, over the limit.
        wide: draw(vocabulary(700, next, 2_000), next, 0),
        required: draw(vocabulary(30, next), next, 0),
        blob: Array.from({ length: ROWS }, () =>
          next() < 0.05 ? null : blobWords[Math.floor(next() * blobWords.length)]!,
        ),
      };
      const location = join(dir, `seed-${seed}`);
      await table(columns, location, { schema, rowGroupSize: ROW_GROUP, pageSize: 4_096 }).write();
      const file = await onlyFile(location);

      const { id: _, ...text } = columns;
      const used = await checkChunks(file, text);
      // The cases the rule is about, whatever the seed draws.
      expect(used.few!.every(Boolean)).toBe(true);
      expect(used.many!.every(Boolean)).toBe(true);
      expect(used.required!.every(Boolean)).toBe(true);
      expect(used.blob!.every(Boolean)).toBe(true);
      expect(used.unique!.some(Boolean)).toBe(false);
      expect(used.wide!.some(Boolean)).toBe(false);

      const back = await Table.from(location).fetchBatch();
      for (const [name, values] of Object.entries(columns)) {
        if (name === "blob")
          expect(back.columns.blob!.map((v) => (v === null ? null : Buffer.from(v as Uint8Array)))).toEqual(
            values.map((v) => (v === null ? null : Buffer.from(v as Uint8Array))),
          );
        else expect(back.columns[name], name).toEqual(values);
      }

      const strings = ["one", "few", "many", "unique", "wide", "required"] as const;
      const duckRows = (
        await duck.runAndReadAll(
          `select ${strings.map((s) => `"${s}"`).join(", ")} from read_parquet('${file}') order by id`,
        )
      ).getRowObjectsJS();
      for (const name of strings)
        expect(
          duckRows.map((row) => row[name] ?? null),
          `DuckDB ${name}`,
        ).toEqual(columns[name]);

      const frame = pl.readParquet(file);
      for (const name of strings)
        expect(frame.getColumn(name).toArray(), `Polars ${name}`).toEqual(columns[name]);

      // Filters prune on the statistics and decode the dictionary pages they keep.
      const pick = columns.many.find((v) => v !== null)!;
      const hits = await Table.from(location).fetchBatch({ filter: ["many", "=", pick], columns: ["id"] });
      expect(hits.columns.id).toEqual(columns.id.filter((i) => columns.many[i] === pick));
      const range = await Table.from(location).fetchBatch({
        filter: [
          ["few", ">=", "ab"],
          ["few", "<", "é"],
        ],
        columns: ["id"],
      });
      expect(range.columns.id).toEqual(
        columns.id.filter((i) => {
          const v = columns.few[i];
          return (
            v !== null &&
            Buffer.compare(asBuffer(v), asBuffer("ab")) >= 0 &&
            Buffer.compare(asBuffer(v), asBuffer("é")) < 0
          );
        }),
      );
    });
  }

  it("a file of DuckDB's dictionary pages with nulls reads the same through ferry as through DuckDB", async () => {
    const file = join(dir, "duck.parquet");
    await duck.run(
      `copy (select i as id, case when i % 7 = 0 then null else 'k' || (i % 300)::varchar end as key
             from range(50000) t(i)) to '${file}' (format parquet, row_group_size 10000)`,
    );
    const expected = (await duck.runAndReadAll(`select key from read_parquet('${file}') order by id`))
      .getRowObjectsJS()
      .map((row) => row.key ?? null);
    const back = await Table.from(file).fetchBatch();
    expect(back.columns.key).toEqual(expected);
  });
});
