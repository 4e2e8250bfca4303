import { execFileSync } from "node:child_process";
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { codecThreads, codecThreadsReady, stopCodecThreads } from "@ferry/parquet";
import { type Schema, t } from "@ferry/plugin-kit";
import { parquetCorpusFiles, sharedData } from "@ferry/test-harness";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Table, table } from "../../src/index.ts";

const corpusRoot = sharedData("parquet-testing");

let dir: string;
const threshold = codecThreads.minBytes;
const setting = process.env.FERRY_TABLE_THREADS;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-decode-threads-"));
  // Two workers whatever the machine (one core would otherwise get none).
  process.env.FERRY_TABLE_THREADS = "2";
  await stopCodecThreads();
  expect(await codecThreadsReady()).toBe(2);
});
afterAll(async () => {
  codecThreads.minBytes = threshold;
  if (setting === undefined) delete process.env.FERRY_TABLE_THREADS;
  else process.env.FERRY_TABLE_THREADS = setting;
  await stopCodecThreads();
  await rm(dir, { recursive: true, force: true });
});

type Outcome = { values: unknown } | { error: string };

/** What `read` gives (or the error it fails with, as type and message) on this thread, then on the workers. */
async function bothWays(
  read: () => Promise<unknown>,
): Promise<{ here: Outcome; workers: Outcome; jobs: number }> {
  const settle = async (): Promise<Outcome> =>
    read().then(
      (values) => ({ values }),
      (error: Error) => ({
        error: `${error.constructor.name} ${(error as { code?: string }).code}: ${error.message}`,
      }),
    );
  codecThreads.minBytes = Number.POSITIVE_INFINITY;
  const here = await settle();
  codecThreads.minBytes = 0;
  const before = codecThreads.jobsOffThread;
  const workers = await settle();
  return { here, workers, jobs: codecThreads.jobsOffThread - before };
}

/** fetch() and every columnar() group of `location`. */
async function readAll(location: string): Promise<unknown> {
  const fetched = await Table.from(location).fetch();
  const groups: unknown[] = [];
  for await (const group of (await (await Table.from(location).reader()).columnar()).groups)
    groups.push(group);
  return { fetched, groups };
}

/** Every parquet file of the corpus, in data/ and its subfolders (geospatial/) and in bad_data/. */
const files = parquetCorpusFiles();

describe("row groups decoded on worker threads", () => {
  it("every parquet-testing file: the same values, or the same error, as on the calling thread", async () => {
    expect(files.length, "the parquet-testing corpus is missing").toBeGreaterThan(80);
    let jobs = 0;
    for (const file of files) {
      const outcome = await bothWays(() => readAll(join(corpusRoot, file)));
      expect(outcome.workers, file).toStrictEqual(outcome.here);
      jobs += outcome.jobs;
    }
    // Most of the corpus has flat columns the workers decode.
    expect(jobs).toBeGreaterThan(100);
  });

  it("a table ferry wrote, and 60 corrupt copies of it (seeded flips): the same rows or the same one-line error", async () => {
    const n = 20_000;
    const columns = {
      id: Array.from({ length: n }, (_, i) => i),
      name: Array.from({ length: n }, (_, i) =>
        i % 7 === 0 ? null : `név-${i % 331}-${"x".repeat(i % 13)}`,
      ),
      score: Array.from({ length: n }, (_, i) => (i % 11 === 0 ? null : i / 3)),
      flag: Array.from({ length: n }, (_, i) => i % 3 === 0),
    };
    const location = join(dir, "ferry-table");
    await table(columns, location, { rowGroupSize: 4_000 }).write();
    const clean = await bothWays(() => readAll(location));
    expect(clean.workers).toStrictEqual(clean.here);
    expect(clean.jobs).toBeGreaterThanOrEqual(10);
    expect((clean.here as { values: { fetched: { id: unknown[] } } }).values.fetched.id).toHaveLength(n);

    const [part] = (await readdir(location)).filter((f) => f.endsWith(".parquet"));
    const original = await readFile(join(location, part!));
    let random = 7;
    const next = () => {
      random = (random * 1_103_515_245 + 12_345) % 2 ** 31;
      return random;
    };
    const copy = join(dir, "corrupt.parquet");
    const errors = new Set<string>();
    for (let i = 0; i < 60; i++) {
      const bytes = Buffer.from(original);
      // Inside the data, before the footer: the footer's own corruption never reaches a decoder.
      bytes[4 + (next() % (bytes.byteLength - 2_000))]! ^= 1 << (next() % 8);
      await writeFile(copy, bytes);
      const outcome = await bothWays(() => readAll(copy));
      expect(outcome.workers, `flip ${i}`).toStrictEqual(outcome.here);
      if ("error" in outcome.here) errors.add(outcome.here.error);
    }
    // The flips reach the decoders (not only the page checks before them).
    expect(errors.size).toBeGreaterThan(3);
  });

  it("a decompression bomb is refused on a worker as on the calling thread, naming column, row group and option", async () => {
    const duck = await (await DuckDBInstance.create(":memory:")).connect();
    const bomb = join(dir, "bomb.parquet");
    await duck.run(
      `copy (select repeat('a', 70000000) as s) to '${bomb}' (format parquet, compression brotli)`,
    );
    duck.closeSync();
    const outcome = await bothWays(() => Table.from(bomb).fetch());
    expect(outcome.workers).toStrictEqual(outcome.here);
    expect(outcome.jobs).toBe(1);
    expect((outcome.here as { error: string }).error).toMatch(
      /FerryError InvalidInput: .*bomb\.parquet: column "s", row group 0: refused, .*maxPageExpansion/,
    );
  });

  it("workers stopped in the middle of a read: the read still gives every row", async () => {
    const n = 60_000;
    const location = join(dir, "stopped");
    await table({ id: Array.from({ length: n }, (_, i) => i) }, location, { rowGroupSize: 1_000 }).write();
    codecThreads.minBytes = 0;
    expect(await codecThreadsReady()).toBe(2);
    const reading = Table.from(location).fetch();
    // Stopped while row groups are on them (the first ones are handed over as soon as they are fetched).
    await new Promise((r) => setImmediate(r));
    await stopCodecThreads();
    const rows = (await reading) as { id: number[] };
    expect(rows.id).toStrictEqual(Array.from({ length: n }, (_, i) => i));
    // The next read starts new workers.
    expect(await codecThreadsReady()).toBe(2);
  });

  it("stream() decodes on the calling thread: a stream's memory stays about one row group", async () => {
    const location = join(dir, "streamed");
    await table({ id: Array.from({ length: 20_000 }, (_, i) => i) }, location, {
      rowGroupSize: 2_000,
    }).write();
    codecThreads.minBytes = 0;
    expect(await codecThreadsReady()).toBe(2);
    const before = codecThreads.jobsOffThread;
    let rows = 0;
    const reader = await Table.from(location).reader();
    for await (const batch of reader.stream({ batchSize: 3_000 })) rows += batch.numRows;
    expect(rows).toBe(20_000);
    expect(codecThreads.jobsOffThread).toBe(before);
    await Table.from(location).fetch();
    expect(codecThreads.jobsOffThread).toBe(before + 10);
  });

  it("a FERRY_TABLE_THREADS that is not a number of threads is refused in one line naming it", async () => {
    await stopCodecThreads();
    const location = join(dir, "mistyped");
    await copyFile(join(corpusRoot, "data/alltypes_plain.parquet"), location);
    codecThreads.minBytes = 0;
    try {
      for (const setting of ["two", "-1", "1.5", "65"]) {
        process.env.FERRY_TABLE_THREADS = setting;
        const error = await Table.from(location)
          .fetch()
          .then(
            () => undefined,
            (e: Error) => e,
          );
        expect((error as { code?: string })?.code, setting).toBe("InvalidInput");
        expect((error as Error).message).toBe(
          `FERRY_TABLE_THREADS must be a number of worker threads from 0 to 64 (0 keeps table work on the calling thread), got "${setting}"`,
        );
      }
    } finally {
      process.env.FERRY_TABLE_THREADS = "2";
      await stopCodecThreads();
    }
  });

  it("a process started with V8 options still decodes on workers (Node refuses them in a worker's options)", () => {
    const child = join(import.meta.dirname, "codec-threads-child.ts");
    const spellings = [
      ["--conditions=@ferry/source", "--max-old-space-size=1024", "--expose-gc"],
      ["-C", "@ferry/source", "--expose-gc", "--stack-size=2000"],
    ];
    for (const [i, options] of spellings.entries()) {
      const out = execFileSync(process.execPath, [...options, child, join(dir, `v8-options-${i}`)], {
        encoding: "utf8",
        env: { ...process.env, FERRY_TABLE_THREADS: "1" },
      });
      const { ready, decoded, rows } = JSON.parse(out) as { ready: number; decoded: number; rows: number };
      expect({ ready, rows }, options.join(" ")).toEqual({ ready: 1, rows: 20_000 });
      expect(decoded, options.join(" ")).toBeGreaterThan(0);
    }
  });

  it("with FERRY_TABLE_THREADS=0 nothing is decoded on a worker", async () => {
    await stopCodecThreads();
    process.env.FERRY_TABLE_THREADS = "0";
    try {
      const location = join(dir, "single");
      await copyFile(join(corpusRoot, "data/alltypes_plain.parquet"), location);
      codecThreads.minBytes = 0;
      const before = codecThreads.jobsOffThread;
      await Table.from(location).fetch();
      expect(await codecThreadsReady()).toBe(0);
      expect(codecThreads.jobsOffThread).toBe(before);
    } finally {
      process.env.FERRY_TABLE_THREADS = "2";
      await stopCodecThreads();
    }
  });
});

describe("column chunks encoded on worker threads", () => {
  beforeEach(async () => {
    expect(await codecThreadsReady()).toBe(2);
  });
  const n = 5_000;
  const schema: Schema = {
    fields: [
      t.field("i8", t.int8()),
      t.field("u32", t.uint32()),
      t.field("i64", t.int64()),
      t.field("u64", t.uint64()),
      t.field("f64", t.float64()),
      t.field("s", t.string()),
      t.field("ascii", t.string(), false),
      t.field("b", t.binary()),
      t.field("flag", t.bool()),
      t.field("day", t.date()),
      t.field("ns", t.timestamp("ns")),
    ],
  };
  const column = <T>(make: (i: number) => T) =>
    Array.from({ length: n }, (_, i) => (i % 7 === 3 ? null : make(i)));
  const data = {
    i8: column((i) => (i % 256) - 128),
    u32: column((i) => 4_294_967_295 - i),
    i64: column((i) => BigInt(i) * -1_844_674_407_370_955n),
    u64: column((i) => 2n ** 64n - 1n - BigInt(i * i)),
    f64: column((i) => (i % 11 === 0 ? Number.NaN : i % 13 === 0 ? -0 : i / 7)),
    s: column((i) => (i % 3 === 0 ? `ünïcode ${i % 50} 🚢` : `s${i % 40}`)),
    ascii: Array.from({ length: n }, (_, i) => `row ${i}`),
    b: column((i) => Uint8Array.of(i % 256, 0, 255)),
    flag: column((i) => i % 3 === 0),
    day: column((i) => new Date(Date.UTC(1960, 0, 1 + i))),
    ns: column((i) => 1_700_000_000_000_000_000n + BigInt(i)),
  };

  /** The bytes of the one parquet file ferry writes for `data` with these options, here and on the workers. */
  async function written(name: string, options: Record<string, unknown>, values: object = data) {
    const files: Buffer[] = [];
    for (const minBytes of [Number.POSITIVE_INFINITY, 0]) {
      codecThreads.minBytes = minBytes;
      const location = join(dir, `${name}-${minBytes}`);
      await table(values, location, { schema, ...options }).write();
      const [part] = (await readdir(location)).filter((f) => f.endsWith(".parquet"));
      files.push(await readFile(join(location, part!)));
    }
    return files;
  }

  it("every codec, many pages and row groups, nulls in every type: the same file, byte for byte", async () => {
    // Every chunk on a worker first; the calling thread takes none while they are busy.
    codecThreads.share = false;
    try {
      for (const codec of ["SNAPPY", "GZIP", "BROTLI", "ZSTD", "UNCOMPRESSED"] as const) {
        const before = codecThreads.jobsOffThread;
        const [here, workers] = await written(codec, { codec, rowGroupSize: 1_100, pageSize: 2_048 });
        // 5 row groups of 11 columns (float16 from plain data is written by the value path).
        expect(codecThreads.jobsOffThread - before, codec).toBe(55);
        expect(workers!.equals(here!), codec).toBe(true);
        const back = await Table.from(join(dir, `${codec}-0`)).fetchBatch();
        for (const [name, values] of Object.entries(data))
          expect(back.columns[name], `${codec} ${name}`).toEqual(values);
      }
    } finally {
      codecThreads.share = true;
    }
  });

  it("chunks shared between the workers and the calling thread make the same file, byte for byte", async () => {
    for (const codec of ["SNAPPY", "ZSTD"] as const) {
      const [before, shared] = [codecThreads.jobsOffThread, codecThreads.jobsShared];
      const [here, mixed] = await written(`${codec}-shared`, { codec, rowGroupSize: 1_100, pageSize: 2_048 });
      const off = codecThreads.jobsOffThread - before;
      const kept = codecThreads.jobsShared - shared;
      // All 55 chunks, some on the workers and some here (at most one per worker's share).
      expect(off + kept, codec).toBe(55);
      expect(off, codec).toBeGreaterThan(0);
      expect(kept, codec).toBeGreaterThan(0);
      expect(mixed!.equals(here!), codec).toBe(true);
    }
  });

  it("a null in a non-nullable column is refused in the same words, naming the row", async () => {
    const ascii = [...data.ascii] as (string | null)[];
    ascii[3_333] = null;
    const errors: string[] = [];
    for (const minBytes of [Number.POSITIVE_INFINITY, 0]) {
      codecThreads.minBytes = minBytes;
      const location = join(dir, `refused-${minBytes}`);
      const error = await table({ ...data, ascii }, location, { schema, rowGroupSize: 1_000 })
        .write()
        .then(
          () => undefined,
          (e: Error) => e.message,
        );
      errors.push(String(error));
    }
    expect(errors[1]).toBe(errors[0]);
    expect(errors[0]).toMatch(/column "ascii" \(string\), row 3333: null in a non-nullable column/);
  });
});
