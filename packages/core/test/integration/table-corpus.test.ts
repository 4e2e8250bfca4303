/**
 * apache/parquet-testing: every readable file reads (values checked against the *_expect.csv files and
 * spot values from the corpus README), every encrypted and every bad_data file fails with a typed error.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { type ColumnBatch, FerryError } from "@ferry/plugin-kit";
import { sharedData } from "@ferry/test-harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Table } from "../../src/index.ts";
import { canonDuck, canonFerry } from "../table-values.ts";

const corpus = sharedData("parquet-testing");

/** The corpus is test data checked out beside the repository; without it these tests say so and skip. */
const present = existsSync(join(corpus, "data")) && existsSync(join(corpus, "bad_data"));

function parquetFiles(dir: string): string[] {
  if (!present) return [];
  return (readdirSync(join(corpus, dir), { recursive: true }) as string[])
    .filter((f) => /\.parquet(\.encrypted)?$/.test(f))
    .sort();
}

/**
 * The files of data/ ferry refuses, each for its reason (the tests below check each refusal):
 * - large_string_map.brotli.parquet: a 1.6 KB brotli page claims 1 GiB decompressed, past
 *   maxPageExpansion (table-corrupt.test.ts); allowed, its one value is beyond V8's string limit anyway;
 * - the encrypted files: Parquet Modular Encryption (Unsupported);
 * - nation.dict-malformed.parquet: malformed on purpose (its dictionary page is corrupt);
 * - the two corrupt-checksum files: a page fails its CRC (Integrity; DuckDB does not check CRCs).
 */
const BEYOND_JS_LIMITS = new Set(["large_string_map.brotli.parquet"]);
/**
 * The one malformed-on-purpose file in data/ (its dictionary page is corrupt), and the bad_data file
 * that is valid after the Arrow fix it reproduces (RLE bit width 0 with a one-entry dictionary): ferry
 * reads it exactly as DuckDB does.
 */
const MALFORMED_IN_DATA = new Set(["nation.dict-malformed.parquet"]);
/** Pages whose recorded CRC does not match their bytes: ferry checks CRCs, so these fail with Integrity. */
const CORRUPT_CHECKSUM = [
  "datapage_v1-corrupt-checksum.parquet",
  "rle-dict-uncompressed-corrupt-checksum.parquet",
];
const VALID_IN_BAD_DATA = "ARROW-GH-43605.parquet";

const bssPairs = ["float16", "float", "double", "int32", "int64", "flba5", "decimal"];

/**
 * Files DuckDB refuses (with part of its reason), and a query by which DuckDB gives the values the file
 * holds: the same data in a form it reads, or the values the file's own documentation lists.
 */
const DUCKDB_CANNOT_READ: Record<string, { reason: string; sameValues: string }> = {
  "hadoop_lz4_compressed.parquet": {
    reason: 'Unsupported compression codec "LZ4"',
    sameValues: "select * from '{data}/lz4_raw_compressed.parquet'",
  },
  "non_hadoop_lz4_compressed.parquet": {
    reason: 'Unsupported compression codec "LZ4"',
    sameValues: "select * from '{data}/lz4_raw_compressed.parquet'",
  },
  "hadoop_lz4_compressed_larger.parquet": {
    reason: 'Unsupported compression codec "LZ4"',
    sameValues: "select * from '{data}/lz4_raw_compressed_larger.parquet'",
  },
  // Each *_byte_stream_split column holds what its *_plain neighbour holds, which DuckDB reads.
  "byte_stream_split_extended.gzip.parquet": {
    reason: "BYTE_STREAM_SPLIT encoding is only supported for FLOAT or DOUBLE",
    sameValues: `select ${bssPairs.map((p) => `${p}_plain, ${p}_plain`).join(", ")} from '{data}/byte_stream_split_extended.gzip.parquet'`,
  },
  // A MAP without a value field; map_no_value.md: keys mapped to null, then the keys as lists.
  "map_no_value.parquet": {
    reason: "MAP_KEY_VALUE requires two children",
    sameValues:
      "select map(k, [null::int, null, null]), k, k from (values ([1, 2, 3]), ([4, 5, 6]), ([7, 8, 9])) t(k)",
  },
};

/**
 * Values DuckDB reads wrong, with the value the file's own documentation gives: int96_from_spark.md
 * lists row 5 as 9089380393200000000 microseconds (year 290000); DuckDB wraps it into 226414 BC.
 */
const DUCKDB_WRONG: Record<string, { column: string; rows: [number, unknown][] }> = {
  "int96_from_spark.parquet": { column: "a", rows: [[5, 9089380393200000000n * 1000n]] },
};

const dataFiles = parquetFiles("data");
const encrypted = dataFiles.filter((f) => f.endsWith(".encrypted"));
const readable = dataFiles.filter(
  (f) =>
    !f.endsWith(".encrypted") &&
    !BEYOND_JS_LIMITS.has(f) &&
    !MALFORMED_IN_DATA.has(f) &&
    !CORRUPT_CHECKSUM.includes(f),
);

let duck: Awaited<ReturnType<DuckDBInstance["connect"]>>;
beforeAll(async () => {
  duck = await (await DuckDBInstance.create(":memory:")).connect();
});
afterAll(() => {
  duck.closeSync();
});

async function duckRows(sql: string): Promise<Record<string, unknown>[]> {
  return (await duck.runAndReadAll(sql)).getRowObjectsJS();
}

function text(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Uint8Array) return new TextDecoder().decode(value);
  return String(value);
}

describe.skipIf(present)(`parquet-testing: skipped, the corpus is not at ${corpus}`, () => {
  it("needs apache/parquet-testing (data/ and bad_data/) there", () => undefined);
});

describe.runIf(present)("parquet-testing: readable files", () => {
  it.each(readable)(
    "%s: every value equals DuckDB's, count() from footers equals the rows read, batches are exact",
    async (file) => {
      const path = join(corpus, "data", file);
      const table = Table.from(path);
      const batches: ColumnBatch[] = [];
      for await (const batch of table.streamBatches({ batchSize: 7 })) batches.push(batch);
      expect(batches.slice(0, -1).every((b) => b.numRows === 7)).toBe(true);
      const fields = (await table.schema()).fields;
      const rows = batches.reduce((n, b) => n + b.numRows, 0);
      expect(await table.count()).toBe(rows);
      const ours = fields.map((field) =>
        batches.flatMap((b) => b.columns[field.name] as unknown[]).map((v) => canonFerry(field.type, v)),
      );
      let query = `select * from '${path}'`;
      const unreadableByDuckDB = DUCKDB_CANNOT_READ[file];
      if (unreadableByDuckDB) {
        const error = await duck.runAndReadAll(query).catch((e: unknown) => e);
        expect(String(error), `DuckDB now reads ${file}: drop it from the list`).toContain(
          unreadableByDuckDB.reason,
        );
        query = unreadableByDuckDB.sameValues.replaceAll("{data}", join(corpus, "data"));
      }
      const result = await duck.runAndReadAll(query);
      expect(result.columnCount).toBe(fields.length);
      const theirs = result.getColumns().map((column) => column.map(canonDuck));
      const wrong = DUCKDB_WRONG[file];
      fields.forEach((field, c) => {
        const expected = [...(theirs[c] ?? [])];
        if (wrong?.column === field.name) for (const [row, value] of wrong.rows) expected[row] = value;
        expect(ours[c], `${file}: column "${field.name}"`).toEqual(expected);
      });
    },
  );

  const expectFiles = present
    ? readdirSync(join(corpus, "data")).filter((f) => f.endsWith("_expect.csv"))
    : [];
  it.each(expectFiles)("%s: values match", async (csvFile) => {
    const file = join(corpus, "data", csvFile.replace("_expect.csv", ".parquet"));
    const expected = await duckRows(
      `select * from read_csv('${join(corpus, "data", csvFile)}', all_varchar = true, header = true)`,
    );
    const batch = await Table.from(file).fetchBatch();
    expect(batch.numRows).toBe(expected.length);
    const expectedNames = Object.keys(expected[0]!);
    // The csv headers carry stray spaces (and in one file a trailing colon) around the column names.
    const bare = (name: string) => name.trim().replace(/:$/, "");
    expect(expectedNames.map(bare)).toEqual(batch.schema.fields.map((f) => bare(f.name)));
    batch.schema.fields.forEach((field, c) => {
      const csvName = expectedNames[c]!;
      expect((batch.columns[field.name] as unknown[]).map(text), field.name).toEqual(
        expected.map((row) => row[csvName] ?? null),
      );
    });
  });

  it("reads exact values: INT96 as ns, decimals as exact strings, lists, maps and structs", async () => {
    const plain = await Table.from(join(corpus, "data/alltypes_plain.parquet")).fetchBatch();
    expect(plain.columns.id).toEqual([4, 5, 6, 7, 2, 3, 0, 1]);
    expect(plain.columns.bigint_col).toEqual([0n, 10n, 0n, 10n, 0n, 10n, 0n, 10n]);
    expect(plain.schema.fields.find((f) => f.name === "timestamp_col")!.type).toEqual({
      type: "timestamp",
      unit: "ns",
    });
    expect(plain.columns.timestamp_col![0]).toBe(BigInt(Date.UTC(2009, 2, 1)) * 1_000_000n);
    for (const name of ["int32_decimal", "int64_decimal", "byte_array_decimal", "fixed_length_decimal"]) {
      const values = (await Table.from(join(corpus, `data/${name}.parquet`)).fetchBatch()).columns.value;
      expect(values, name).toEqual(Array.from({ length: 24 }, (_, i) => `${i + 1}.00`));
    }
    const lists = await Table.from(join(corpus, "data/list_columns.parquet")).fetchBatch();
    expect(lists.columns.int64_list).toEqual([[1n, 2n, 3n], [null, 1n], [4n]]);
    expect(lists.columns.utf8_list).toEqual([["abc", "efg", "hij"], null, ["efg", null, "hij", "xyz"]]);
    const maps = await Table.from(join(corpus, "data/nested_maps.snappy.parquet")).fetchBatch();
    expect(maps.columns.a![0]).toEqual([
      {
        key: "a",
        value: [
          { key: 1, value: true },
          { key: 2, value: false },
        ],
      },
    ]);
    const nulls = await Table.from(join(corpus, "data/nulls.snappy.parquet")).fetchBatch();
    expect(nulls.columns.b_struct).toEqual(Array(8).fill({ b_c_int: null }));
  });

  it("agrees with DuckDB on ARROW-GH-43605 (RLE bit width 0 over a one-entry dictionary)", async () => {
    const file = join(corpus, "bad_data", VALID_IN_BAD_DATA);
    const batch = await Table.from(file).fetchBatch();
    const [duckCount] = await duckRows(
      `select count(*)::int as n, count(distinct min_fl)::int as d, min(min_fl)::int as v from '${file}'`,
    );
    expect(batch.numRows).toBe(duckCount!.n);
    expect(new Set(batch.columns.min_fl)).toEqual(new Set([duckCount!.v]));
  });
});

describe.runIf(present)("parquet-testing: files ferry must refuse", () => {
  it.each(encrypted)("%s: Unsupported, naming the file and encryption", async (file) => {
    const error = await Table.from(join(corpus, "data", file))
      .fetchBatch()
      .catch((e: unknown) => e);
    expect(FerryError.isInstance(error, "Unsupported")).toBe(true);
    expect((error as Error).message).toContain(file.split("/").pop());
    expect((error as Error).message).toMatch(/encrypt/i);
  });

  const badData = parquetFiles("bad_data").filter((f) => f !== VALID_IN_BAD_DATA);
  it.each([...badData.map((f) => `bad_data/${f}`), ...[...MALFORMED_IN_DATA].map((f) => `data/${f}`)])(
    "%s: a typed error naming the file, never a crash or rows",
    async (file) => {
      const table = Table.from(join(corpus, file));
      let footerRead = false;
      const error = await (async () => {
        await table.count();
        footerRead = true;
        for await (const _ of table.streamBatches({ batchSize: 1000 })) {
          // reading must fail before the end
        }
      })().catch((e: unknown) => e);
      expect(FerryError.isInstance(error), String(error)).toBe(true);
      expect(["InvalidInput", "Unsupported"]).toContain((error as FerryError).code);
      const message = (error as Error).message;
      expect(message).toContain(file.split("/").pop());
      // Never JavaScript's own words; past the footer, the column and row group that failed.
      expect(message).not.toMatch(/Cannot read propert|Cannot mix BigInt|of undefined|typed array|DataView/);
      if (footerRead) expect(message).toMatch(/column "[^"]+", row group 0: /);
      else expect(message).toMatch(/: not a readable parquet file \((its footer is corrupt|the footer's)/);
    },
  );

  it.each(CORRUPT_CHECKSUM)("%s: Integrity (a page fails its CRC), never wrong rows", async (file) => {
    const error = await Table.from(join(corpus, "data", file))
      .fetchBatch()
      .catch((e: unknown) => e);
    expect(FerryError.isInstance(error, "Integrity"), String(error)).toBe(true);
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).toMatch(/CRC/);
  });
});
