/**
 * Table benchmark: write and read N rows × 6 columns (int32, int64, float64, string, bool,
 * timestamp[ms]) with ferry (plain data, table-arrow, table-polars) next to DuckDB and Polars
 * directly, then the peak RSS of streaming a large table in batches of 10 000 rows.
 *
 *   node --conditions=@ferry/source bench/tables.ts           # 1 000 000 rows; streaming 500 000 and 2 000 000 (a few minutes)
 *   node --conditions=@ferry/source bench/tables.ts --full    # 5 000 000 rows; streaming 2 500 000 and 10 000 000
 *   node --conditions=@ferry/source bench/tables.ts --rows 200000 --stream-rows 1000000 --repeat 5
 *
 * Prints a markdown table and writes it to bench/results/tables.md. Timings are wall-clock medians of
 * --repeat runs (default 3) after a warm-up of every path on a small table, on whatever machine runs this.
 */
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DuckDBInstance } from "@duckdb/node-api";
import { type PlainData, Table, table } from "@ferry/core";
import arrow from "@ferry/table-arrow";
import polars from "@ferry/table-polars";
import * as A from "apache-arrow";
import pl from "nodejs-polars";

const { values: args } = parseArgs({
  options: {
    full: { type: "boolean", default: false },
    rows: { type: "string" },
    "stream-rows": { type: "string" },
    "stream-child": { type: "string" },
    repeat: { type: "string" },
  },
});

const ROWS = Number(args.rows ?? (args.full ? 5_000_000 : 1_000_000));
const STREAM_ROWS = Number(args["stream-rows"] ?? (args.full ? 10_000_000 : 2_000_000));
const STREAM_BATCH = 10_000;
const REPEAT = Number(args.repeat ?? 3);
const ROW_GROUP = 100_000;
/** V8 old-space cap for the streaming process: streaming must fit in it whatever the table size. */
const STREAM_HEAP_MIB = 128;

function columns(n: number) {
  const id = new Array<number>(n);
  const big = new Array<bigint>(n);
  const score = new Array<number>(n);
  const name = new Array<string>(n);
  const flag = new Array<boolean>(n);
  const at = new Array<Date>(n);
  for (let i = 0; i < n; i++) {
    id[i] = i;
    big[i] = BigInt(i) * 1_000_003n;
    score[i] = i / 7;
    name[i] = `name-${i % 5000}`;
    flag[i] = i % 3 === 0;
    at[i] = new Date(1_700_000_000_000 + i * 1000);
  }
  return { id, big, score, name, flag, at };
}

async function timed<T>(run: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const started = performance.now();
  const value = await run();
  return { seconds: (performance.now() - started) / 1000, value };
}

interface Row {
  operation: "write" | "read";
  tool: string;
  seconds: number;
}

/**
 * Resident and peak resident memory of this process, in KiB. Read from /proc because on Linux the
 * getrusage peak (process.resourceUsage().maxRSS) survives exec: a child would report its parent's peak.
 */
async function memoryKiB(): Promise<{ rss: number; peak: number }> {
  try {
    const status = await readFile("/proc/self/status", "utf8");
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
    return { rss: field("VmRSS"), peak: field("VmHWM") };
  } catch {
    const rss = Math.round(process.memoryUsage.rss() / 1024);
    return { rss, peak: process.resourceUsage().maxRSS };
  }
}

/** Child mode: stream a table and report the peak RSS (a fresh process, so nothing else is resident). */
async function streamChild(location: string): Promise<void> {
  const before = await memoryKiB();
  let rows = 0;
  const started = performance.now();
  for await (const batch of Table.from(location).streamBatches({ batchSize: STREAM_BATCH }))
    rows += batch.numRows;
  const seconds = (performance.now() - started) / 1000;
  const after = await memoryKiB();
  process.stdout.write(JSON.stringify({ rows, seconds, baselineKiB: before.rss, peakKiB: after.peak }));
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "ferry-bench-tables-"));
  const duck = await (await DuckDBInstance.create(":memory:")).connect();
  const arrowFlavour = arrow();
  const polarsFlavour = polars();
  try {
    const paths = (n: number, tag: string) => ({
      core: join(dir, `${tag}-core`),
      arrow: join(dir, `${tag}-arrow`),
      polars: join(dir, `${tag}-polars`),
      duckdb: join(dir, `${tag}-duckdb.parquet`),
      polarsDirect: join(dir, `${tag}-polars.parquet`),
      n,
    });

    const run = async (n: number, tag: string): Promise<Row[]> => {
      const p = paths(n, tag);
      const data: PlainData = columns(n);
      const rows: Row[] = [];
      // The median of REPEAT runs: one run on a shared machine says little.
      const record = async (operation: Row["operation"], tool: string, work: () => Promise<unknown>) => {
        const runs: number[] = [];
        for (let i = 0; i < REPEAT; i++) runs.push((await timed(work)).seconds);
        rows.push({ operation, tool, seconds: runs.sort((a, b) => a - b)[Math.floor(runs.length / 2)]! });
      };
      // Inputs in each library's own type, built outside the timings.
      const source = table(data, join(dir, `${tag}-source`), { rowGroupSize: ROW_GROUP });
      await source.write();
      const asArrow = (await Table.from(join(dir, `${tag}-source`), {
        flavour: arrowFlavour,
      }).fetch()) as A.Table;
      const asPolars = pl.readIPCStream(Buffer.from(A.tableToIPC(asArrow, "stream")));

      await record("write", "ferry (plain JS data)", () =>
        table(data, p.core, { rowGroupSize: ROW_GROUP }).write(),
      );
      await record("write", "ferry + table-arrow", () =>
        table(asArrow, p.arrow, { flavour: arrowFlavour, rowGroupSize: ROW_GROUP }).write(),
      );
      await record("write", "ferry + table-polars", () =>
        table(asPolars, p.polars, { flavour: polarsFlavour }).write(),
      );
      await record("write", "Polars directly (writeParquet)", async () =>
        asPolars.writeParquet(p.polarsDirect, { compression: "snappy" }),
      );
      await record("write", "DuckDB directly (COPY, data generated in DuckDB)", () =>
        duck.run(`copy (select i::int as id, i * 1000003 as big, i / 7 as score, 'name-' || (i % 5000) as name, i % 3 = 0 as flag,
                        make_timestamp(1700000000000000 + i * 1000000)::timestamp_ms as at from range(0, ${n}) t(i))
                  to '${p.duckdb}' (format parquet, compression snappy)`),
      );

      await record("read", "ferry (plain JS data)", () => Table.from(p.core).fetch());
      await record("read", "ferry + table-arrow", () =>
        Table.from(p.core, { flavour: arrowFlavour }).fetch(),
      );
      await record("read", "ferry + table-polars", () =>
        Table.from(p.polars, { flavour: polarsFlavour }).fetch(),
      );
      await record("read", "Polars directly (readParquet)", async () => pl.readParquet(p.polarsDirect));
      await record("read", "DuckDB directly (select * materialized)", () =>
        duck.runAndReadAll(`select * from '${p.duckdb}'`),
      );
      return rows;
    };

    await run(2_000, "warm");
    const results = await run(ROWS, "main");

    // Streaming: a table and one four times its size, each written by ferry and streamed by a fresh
    // process; a flat peak RSS across the two shows memory follows the row group, not the table.
    const streams: StreamResult[] = [];
    for (const n of [STREAM_ROWS / 4, STREAM_ROWS]) {
      const location = join(dir, `stream-${n}`);
      const written = await timed(() => table(columns(n), location, { rowGroupSize: ROW_GROUP }).write());
      const sizes = await Promise.all(written.value.files.map((file) => stat(`/${file}`)));
      const child = spawnSync(
        process.execPath,
        [
          ...process.execArgv,
          `--max-old-space-size=${STREAM_HEAP_MIB}`,
          new URL(import.meta.url).pathname,
          "--stream-child",
          location,
        ],
        {
          encoding: "utf8",
          maxBuffer: 1 << 20,
        },
      );
      if (child.status !== 0) throw new Error(`streaming child failed: ${child.stderr}`);
      streams.push({
        ...(JSON.parse(child.stdout) as Omit<StreamResult, "bytes" | "writeSeconds">),
        bytes: sizes.reduce((sum, s) => sum + s.size, 0),
        writeSeconds: written.seconds,
      });
      await rm(location, { recursive: true, force: true });
    }

    const report = render(results, streams);
    process.stdout.write(report);
    const resultsDir = new URL("./results/", import.meta.url);
    await mkdir(resultsDir, { recursive: true });
    await writeFile(new URL("tables.md", resultsDir), report);
  } finally {
    duck.closeSync();
    await rm(dir, { recursive: true, force: true });
  }
}

interface StreamResult {
  rows: number;
  seconds: number;
  baselineKiB: number;
  peakKiB: number;
  bytes: number;
  writeSeconds: number;
}

function render(rows: Row[], streams: StreamResult[]): string {
  const mib = (kib: number) => (kib / 1024).toFixed(0);
  const lines = [
    `# Tables: ${ROWS.toLocaleString("en")} rows × 6 columns`,
    "",
    `Node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? "unknown CPU"}), ${new Date().toISOString().slice(0, 10)}.`,
    "Columns: int32, int64, float64, string, bool, timestamp[ms]; snappy; ferry row groups of 100 000 rows.",
    `Median of ${REPEAT} runs of each path, after a warm-up on 2 000 rows. × Polars / × DuckDB: time relative to that tool doing the same operation directly.`,
    "DuckDB's write generates the rows inside DuckDB (no JS data crosses over); its read materializes the result without converting to JS objects.",
    "",
    "| operation | tool | seconds | rows/s | × Polars | × DuckDB |",
    "|---|---|---:|---:|---:|---:|",
  ];
  for (const operation of ["write", "read"] as const) {
    const group = rows.filter((r) => r.operation === operation);
    const polarsTime = group.find((r) => r.tool.startsWith("Polars directly"))!.seconds;
    const duckTime = group.find((r) => r.tool.startsWith("DuckDB directly"))!.seconds;
    for (const r of group) {
      lines.push(
        `| ${operation} | ${r.tool} | ${r.seconds.toFixed(3)} | ${Math.round(ROWS / r.seconds).toLocaleString("en")} | ${(r.seconds / polarsTime).toFixed(1)} | ${(r.seconds / duckTime).toFixed(1)} |`,
      );
    }
  }
  lines.push(
    "",
    `## Streaming in batches of ${STREAM_BATCH.toLocaleString("en")} rows`,
    "",
    "| rows | table on disk | written by ferry in | streamed in | process RSS before | peak RSS while streaming |",
    "|---:|---:|---:|---:|---:|---:|",
    ...streams.map(
      (s) =>
        `| ${s.rows.toLocaleString("en")} | ${(s.bytes / 1024 / 1024).toFixed(1)} MiB | ${s.writeSeconds.toFixed(1)} s | ${s.seconds.toFixed(1)} s | ${mib(s.baselineKiB)} MiB | ${mib(s.peakKiB)} MiB |`,
    ),
    "",
    `Each table is streamed by a fresh process that does nothing else, with V8's old space capped at ${STREAM_HEAP_MIB} MiB`,
    "(--max-old-space-size): streaming holds the current row group (100 000 rows) and the next one being read, so it",
    "completes whatever the table size.",
    "RSS includes Node itself, the young generation and WASM/typed-array buffers outside the capped heap.",
    "",
  );
  return lines.join("\n");
}

if (args["stream-child"]) await streamChild(args["stream-child"]);
else await main();
