import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { readRowGroup } from "@ferry/parquet";
import { FerryError, type Schema, t } from "@ferry/plugin-kit";
import { parquetCorpusFiles, sharedData } from "@ferry/test-harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Table, table } from "../../src/index.ts";

const corpusRoot = sharedData("parquet-testing");

let dir: string;
let duck: Awaited<ReturnType<DuckDBInstance["connect"]>>;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-columnar-values-"));
  duck = await (await DuckDBInstance.create(":memory:")).connect();
});
afterAll(async () => {
  duck.closeSync();
  await rm(dir, { recursive: true, force: true });
});

/** Every parquet file of the corpus, in data/ and its subfolders (geospatial/) and in bad_data/. */
const files = parquetCorpusFiles();

/** The value path's columns of the whole file (every row group in order); throws what it refuses the file with. */
async function valuePath(location: string): Promise<{ schema: Schema; columns: Record<string, unknown[]> }> {
  const reader = await Table.from(location).reader();
  const schema = await reader.schema();
  const columns: Record<string, unknown[]> = Object.fromEntries(schema.fields.map((f) => [f.name, []]));
  for (const part of await reader.parts()) {
    const open = await reader.open(part);
    for (let g = 0; g < open.rowGroups.length; g++) {
      const values = await readRowGroup(
        open,
        g,
        schema.fields.map((f) => f.name),
        location,
      );
      for (const f of schema.fields) for (const v of values[f.name]!) columns[f.name]!.push(v);
    }
  }
  return { schema, columns };
}

/**
 * fetch() and stream() of `location` give exactly (toStrictEqual: -0 is not 0, a bigint is not a
 * number) the value path's values; true once compared, so a caller can insist the file was read.
 */
async function expectSameValues(
  location: string,
  reference?: Awaited<ReturnType<typeof valuePath>>,
): Promise<boolean> {
  const expected = reference ?? (await valuePath(location));
  const names = expected.schema.fields.map((f) => f.name);
  const fetched = await (await Table.from(location).reader()).fetch();
  expect(fetched.schema).toStrictEqual(expected.schema);
  for (const name of names)
    expect(fetched.columns[name], `fetch: column ${name}`).toStrictEqual(expected.columns[name]);
  const streamed: Record<string, unknown[]> = Object.fromEntries(names.map((name) => [name, []]));
  for await (const batch of (await Table.from(location).reader()).stream({ batchSize: 97 }))
    for (const name of names) for (const v of batch.columns[name]!) streamed[name]!.push(v);
  for (const name of names)
    expect(streamed[name], `stream: column ${name}`).toStrictEqual(expected.columns[name]);
  return true;
}

describe("columnar decoding gives the value path's values", () => {
  it("the corpus is there (every file of it is compared below)", () => {
    expect(files.length).toBeGreaterThan(80);
    expect(files).toContain("data/geospatial/geography-points.parquet");
    expect(files).toContain("bad_data/ARROW-GH-43605.parquet");
  });

  // The value path is the reference: a file it reads, fetch() and stream() read to exactly the same values
  // (no normalisation: -0 is not 0, a bigint is not a number); a file it refuses, they refuse, typed.
  it.each(files)("parquet-testing %s: fetch and stream, value for value", async (file) => {
    const location = join(corpusRoot, file);
    let expected: Awaited<ReturnType<typeof valuePath>>;
    try {
      expected = await valuePath(location);
    } catch (error) {
      expect(error).toBeInstanceOf(FerryError);
      await expect(Table.from(location).fetch()).rejects.toBeInstanceOf(FerryError);
      return;
    }
    await expectSameValues(location, expected);
  });

  it("a table ferry wrote: nulls in every type, many pages, several row groups, non-ASCII strings", async () => {
    const n = 3_000;
    const schema: Schema = {
      fields: [
        t.field("i8", t.int8()),
        t.field("u32", t.uint32()),
        t.field("i64", t.int64()),
        t.field("u64", t.uint64()),
        t.field("f16", { type: "float", bits: 16 }),
        t.field("f64", t.float64()),
        t.field("s", t.string()),
        t.field("ascii", t.string(), false),
        t.field("b", t.binary()),
        t.field("flag", t.bool()),
        t.field("day", t.date()),
        t.field("ms", t.timestamp("ms", "UTC")),
        t.field("ns", t.timestamp("ns")),
      ],
    };
    const column = <T>(make: (i: number) => T) =>
      Array.from({ length: n }, (_, i) => (i % 7 === 3 ? null : make(i)));
    const data = {
      i8: column((i) => (i % 256) - 128),
      u32: column((i) => 4_294_967_295 - i),
      i64: column((i) => BigInt(i) * -3_074_457_345_618_258n),
      u64: column((i) => 2n ** 64n - 1n - BigInt(i)),
      f16: column((i) => [0, -2, 0.5, 65504, Number.POSITIVE_INFINITY, Number.NaN, 2 ** -24][i % 7]!),
      f64: column((i) => (i % 11 === 0 ? Number.NaN : i / 7)),
      s: column((i) => (i % 3 === 0 ? `ünïcode ${i % 50} 🚢` : `s${i % 40}`)),
      ascii: Array.from({ length: n }, (_, i) => `row ${i}`),
      b: column((i) => Uint8Array.of(i % 256, 0, 255)),
      flag: column((i) => i % 3 === 0),
      day: column((i) => new Date(Date.UTC(1960, 0, 1 + i))),
      ms: column((i) => new Date(-1_700_000_000_000 + i * 1_001)),
      ns: column((i) => 1_700_000_000_000_000_000n + BigInt(i)),
    };
    // Every codec: zstd and brotli pages come from node:zlib as Buffers, small ones views of its shared pool.
    for (const codec of ["SNAPPY", "GZIP", "BROTLI", "ZSTD", "UNCOMPRESSED"] as const) {
      const encoded = join(dir, `ferry-${codec}`);
      await table(data, encoded, { schema, rowGroupSize: 1_100, pageSize: 2_048, codec }).write();
      expect(await expectSameValues(encoded), codec).toBe(true);
    }
    const location = join(dir, "ferry");
    await table(data, location, { schema, rowGroupSize: 1_100, pageSize: 2_048 }).write();
    const back = await Table.from(location).fetchBatch();
    for (const [name, values] of Object.entries(data)) expect(back.columns[name], name).toEqual(values);
    // Every column here is decoded into buffers, none through hyparquet's values.
    const { groups } = await (await Table.from(location).reader()).columnar();
    for await (const group of groups)
      for (const [name, column] of Object.entries(group.columns))
        expect(column.kind, name).not.toBe("values");
  });

  it.each(["zstd", "brotli", "gzip", "snappy", "uncompressed"])(
    "tables DuckDB wrote with dictionary, v1 and v2 pages and nulls (%s)",
    async (codec) => {
      for (const version of ["V1", "V2"]) {
        const file = join(dir, `duck-${version}-${codec}.parquet`);
        await duck.run(`copy (select
          case when i % 5 = 0 then null else i::int end as id,
          i * 1000003 as big,
          case when i % 9 = 0 then null else 'name-' || (i % 300) end as name,
          'v' || i as unique_name,
          case when i % 4 = 0 then null else i % 3 = 0 end as flag,
          i / 7 as score,
          make_timestamp(1700000000000000 + i * 1000000) as at,
          (date '2020-01-01' + (i % 1000)::int) as day
        from range(0, 30000) t(i))
        to '${file}' (format parquet, compression ${codec}, row_group_size 10000, parquet_version ${version})`);
        expect(await expectSameValues(file)).toBe(true);
      }
    },
  );
});

describe("plain data written from buffers", () => {
  async function createdBy(location: string): Promise<string | undefined> {
    const reader = await Table.from(location).reader();
    return (await reader.open((await reader.parts())[0]!)).metadata.created_by;
  }

  it("flat columns are encoded from typed buffers, read back exactly by ferry and DuckDB", async () => {
    const n = 1_234;
    const maybe = <T>(make: (i: number) => T) =>
      Array.from({ length: n }, (_, i) => (i % 5 === 2 ? null : make(i)));
    const data = {
      id: Array.from({ length: n }, (_, i) => i),
      big: maybe((i) => BigInt(i) * 1_000_000_007n - 2n ** 62n),
      score: maybe((i) => i / 3),
      name: maybe((i) => (i % 4 === 0 ? `naïve ${i}` : `n${i}`)),
      flag: maybe((i) => i % 3 === 0),
      at: maybe((i) => new Date(1_700_000_000_000 + i * 61_001)),
      blob: maybe((i) => Uint8Array.of(i & 255, 7)),
    };
    const location = join(dir, "plain-columnar");
    await table(data, location, { rowGroupSize: 500, pageSize: 1_000 }).write();
    expect(await createdBy(location)).toBe("ferry (columnar)");
    expect((await Table.from(location).fetchBatch()).columns).toEqual(data);
    // min/max per row group, so readers can skip row groups by value: 500 rows per group.
    const reader = await Table.from(location).reader();
    const open = await reader.open((await reader.parts())[0]!);
    const stats = open.metadata.row_groups.map((group) => group.columns[0]!.meta_data!.statistics);
    expect(stats.map((s) => [s?.min_value, s?.max_value, s?.null_count])).toEqual([
      [0, 499, 0n],
      [500, 999, 0n],
      [1000, 1233, 0n],
    ]);
    const big = open.metadata.row_groups[0]!.columns[1]!.meta_data!.statistics;
    expect([big?.min_value, big?.null_count]).toEqual([-(2n ** 62n), 100n]);
    const [part] = await (await Table.from(location).reader()).parts();
    const [row] = (
      await duck.runAndReadAll(
        `select count(*) as n, count(name) as names, sum(big)::varchar as big, string_agg(name, '|' order by id) as text
         from '${join(location, part!.relative)}'`,
      )
    ).getRowObjectsJS();
    expect(row).toEqual({
      n: BigInt(n),
      names: BigInt(data.name.filter((v) => v !== null).length),
      big: String(data.big.reduce<bigint>((a, v) => a + (v ?? 0n), 0n)),
      text: data.name.filter((v) => v !== null).join("|"),
    });
  });

  it("int64 and uint64 min/max per row group agree with a model (seeded values across every 32-bit boundary, nulls)", async () => {
    let state = 11n;
    const next = () => {
      state = (state * 6_364_136_223_846_793_005n + 1_442_695_040_888_963_407n) & (2n ** 64n - 1n);
      return state;
    };
    // Values near the edges and halves that only differ in the low word (whose top bit is set or not).
    const edges = [-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n, 2n ** 32n, 2n ** 32n - 1n, -(2n ** 32n), 2n ** 31n];
    const n = 3_000;
    const signed = Array.from({ length: n }, () => {
      const r = next();
      if (r % 9n === 0n) return null;
      if (r % 7n === 0n) return edges[Number(r % 8n)]!;
      return BigInt.asIntN(64, r >> BigInt(Number(r % 40n)));
    });
    const unsigned = Array.from({ length: n }, () => {
      const r = next();
      return r % 11n === 0n ? null : r >> BigInt(Number(r % 50n));
    });
    const schema: Schema = {
      fields: [t.field("s", t.int64(), true), t.field("u", t.uint64(), true)],
    };
    const location = join(dir, "int64-stats");
    await table({ s: signed, u: unsigned }, location, { schema, rowGroupSize: 700, pageSize: 2_000 }).write();
    expect(await createdBy(location)).toBe("ferry (columnar)");
    const reader = await Table.from(location).reader();
    const open = await reader.open((await reader.parts())[0]!);
    open.metadata.row_groups.forEach((group, g) => {
      for (const [c, values] of [signed, unsigned].entries()) {
        const rows = values.slice(g * 700, (g + 1) * 700).filter((v): v is bigint => v !== null);
        const sorted = rows.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        const stats = group.columns[c]!.meta_data!.statistics;
        expect([stats?.min_value, stats?.max_value], `row group ${g}, column ${c}`).toEqual([
          sorted[0],
          sorted.at(-1),
        ]);
      }
    });
    // Every filter on them keeps exactly the rows the model keeps (the page index prunes by the same bounds).
    for (const bound of [...edges, 2n ** 40n + 5n, -(2n ** 50n)]) {
      const kept = await Table.from(location).fetch({ columns: ["s"], filter: ["s", ">=", bound] });
      expect((kept as { s: bigint[] }).s).toEqual(signed.filter((v) => v !== null && v >= bound));
    }
  });

  it("a value that does not fit is the value path's InvalidInput, naming the column and row", async () => {
    const location = join(dir, "plain-bad");
    const schema: Schema = { fields: [t.field("id", t.int32())] };
    const failure = await table({ id: [1, 2, 2.5] }, location, { schema })
      .write()
      .catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: "InvalidInput" });
    expect((failure as Error).message).toMatch(
      /column "id" \(int32\), row 2: expected an integer \(got 2.5\)/,
    );
    expect(await Table.from(location).exists()).toBe(false);
  });

  it("values only the value path takes as they are (a number in an int64 column) are written by it", async () => {
    const location = join(dir, "plain-value-path");
    const schema: Schema = { fields: [t.field("n", t.int64())] };
    await table({ n: [1, 2n, null] }, location, { schema }).write();
    expect(await createdBy(location)).not.toBe("ferry (columnar)");
    expect((await Table.from(location).fetchBatch()).columns).toEqual({ n: [1n, 2n, null] });
  });
});

describe("maxPageExpansion on the columnar path", () => {
  it("a brotli page of a flat string column claiming 70 MB from a few hundred bytes is refused by fetch, stream and columnar()", async () => {
    const bomb = join(dir, "bomb.parquet");
    await duck.run(
      `copy (select repeat('a', 70000000) as s) to '${bomb}' (format parquet, compression brotli)`,
    );
    // The same shape, small: the column is one the columnar decoder reads into buffers (not the value path).
    const small = join(dir, "small-brotli.parquet");
    await duck.run(`copy (select repeat('a', 1000) as s) to '${small}' (format parquet, compression brotli)`);
    const { groups } = await (await Table.from(small).reader()).columnar();
    for await (const group of groups) expect(group.columns.s!.kind).toBe("bytes");

    const refused =
      /bomb\.parquet: column "s", row group 0: refused, a BROTLI page of \d+ bytes claims \d{8} bytes decompressed, more than maxPageExpansion \(1000\) times its size/;
    const before = process.memoryUsage().arrayBuffers;
    const reader = await Table.from(bomb).reader();
    const attempts = [
      () => Table.from(bomb).fetch(),
      () => Table.from(bomb).fetchBatch(),
      async () => {
        for await (const _ of reader.stream()) {
        }
      },
      async () => {
        for await (const _ of (await reader.columnar()).groups) {
        }
      },
    ];
    for (const attempt of attempts) {
      const error = await attempt().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(FerryError.isInstance(error, "InvalidInput"), String(error)).toBe(true);
      expect((error as Error).message).toMatch(refused);
    }
    // Nothing near the claimed 70 MB was allocated.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(32 * 1024 * 1024);
  });
});
