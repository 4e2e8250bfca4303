/**
 * Table benchmark: write and read N rows × 6 columns (int32, int64, float64, string, bool,
 * timestamp[ms]) with ferry (plain data, table-arrow, table-polars, table-danfo) next to DuckDB,
 * Polars and parquet-wasm (arrow-rs in WebAssembly, with apache-arrow on the JS side) directly, then
 * the peak RSS of streaming a large table from S3 (s3rver) in batches of 10 000 rows.
 *
 *   node --conditions=@ferry/source bench/tables.ts           # 1 000 000 rows; a 300 MiB table streamed from S3 (a few minutes)
 *   node --conditions=@ferry/source bench/tables.ts --full    # 5 000 000 rows; a 1 GiB table streamed from S3
 *   node --conditions=@ferry/source bench/tables.ts --rows 200000 --stream-mib 64 --repeat 5
 *   node --conditions=@ferry/source bench/tables.ts --stream-only --stream-mib 300 --stream-runs 3 --built
 *
 * --stream-runs N streams the same table in N fresh processes one after the other. --built (after
 * `pnpm build`) also streams it, in each run, with the built packages as an installed ferry runs: plain
 * JavaScript, no TypeScript stripped as modules load (which alone costs ~15 MiB of RSS).
 *
 * With --expose-gc the danfo frame (a large JS object graph) is collected before the rows after it run.
 *
 * Prints a markdown table and writes it to bench/results/tables.md. Timings are wall-clock medians of
 * --repeat runs (default 3) after a warm-up of every path on a small table (--warmup-rows N: on N rows),
 * on whatever machine runs this.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DuckDBInstance } from "@duckdb/node-api";
import { PluginRegistry, parseLocation, Table, table } from "@ferry/core";
import type { PlainData } from "@ferry/parquet";
import type { BatchSource, ColumnBatch } from "@ferry/plugin-kit";
import s3 from "@ferry/storage-s3";
import arrow from "@ferry/table-arrow";
import danfo from "@ferry/table-danfo";
import polars from "@ferry/table-polars";
import { startS3rver } from "@ferry/test-harness";
import * as A from "apache-arrow";
import pl from "nodejs-polars";
import * as wasm from "parquet-wasm";
import { columns, schema } from "./table-data.ts";

const { values: args } = parseArgs({
  options: {
    full: { type: "boolean", default: false },
    rows: { type: "string" },
    "stream-mib": { type: "string" },
    prefetch: { type: "string" },
    repeat: { type: "string" },
    "stream-only": { type: "boolean", default: false },
    "stream-runs": { type: "string" },
    built: { type: "boolean", default: false },
    "warmup-rows": { type: "string" },
  },
});

const ROWS = Number(args.rows ?? (args.full ? 5_000_000 : 1_000_000));
/** Size of the table streamed from S3 (the target: 1 GiB with peak RSS ≤ 300 MiB). */
const STREAM_MIB = Number(args["stream-mib"] ?? (args.full ? 1024 : 300));
const STREAM_RSS_TARGET_MIB = 256;
/** Row groups of the streamed table: ~10 MiB each (10 000 rows of ~1 KiB), the memory knob. */
const STREAM_ROW_GROUP = 10_000;
/** Random hex per row of the streamed table, so that its size on S3 is real (incompressible). */
const PAYLOAD_BYTES = 1_000;
const STREAM_BATCH = 10_000;
const REPEAT = Number(args.repeat ?? 3);
/**
 * Rows of the warm-up run of every path. The default warms the code; `--warmup-rows 1000000` also gets
 * what a long-running process has by then (ferry's worker threads started and their code optimised,
 * each tool's buffers grown): the steady state rather than a process's first big table.
 */
const WARMUP_ROWS = Number(args["warmup-rows"] ?? 2_000);
/** Fresh streaming processes run one after the other over the same table (peak RSS varies run to run). */
const STREAM_RUNS = Number(args["stream-runs"] ?? 1);
const ROW_GROUP = 100_000;

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

/** About `mib` MiB of rows with the benchmark's 6 columns, generated batch by batch (never all in memory). */
function largeSource(mib: number): { source: BatchSource; rows: number } {
  // ~980 bytes per row on disk once encoded (measured), so the table comes out at about `mib`.
  const rows = Math.ceil((mib * 1024 * 1024) / (PAYLOAD_BYTES - 20));
  function* batches(): Iterable<ColumnBatch> {
    for (let start = 0; start < rows; start += STREAM_BATCH) {
      const n = Math.min(STREAM_BATCH, rows - start);
      const base = columns(n);
      const offset = (values: number[]) => values.map((v) => v + start);
      yield {
        schema,
        numRows: n,
        columns: {
          ...base,
          id: offset(base.id),
          name: Array.from({ length: n }, () => randomBytes(PAYLOAD_BYTES / 2).toString("hex")),
        },
      };
    }
  }
  return { source: { schema, batches: batches() }, rows };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "ferry-bench-tables-"));
  const duck = await (await DuckDBInstance.create(":memory:")).connect();
  const arrowFlavour = arrow();
  const polarsFlavour = polars();
  const danfoFlavour = danfo();
  const collect = (globalThis as { gc?: () => void }).gc;
  try {
    const paths = (n: number, tag: string) => ({
      core: join(dir, `${tag}-core`),
      arrow: join(dir, `${tag}-arrow`),
      polars: join(dir, `${tag}-polars`),
      danfo: join(dir, `${tag}-danfo`),
      duckdb: join(dir, `${tag}-duckdb.parquet`),
      wasm: join(dir, `${tag}-parquet-wasm.parquet`),
      polarsDirect: join(dir, `${tag}-polars.parquet`),
      polarsArrays: join(dir, `${tag}-polars-arrays.parquet`),
      n,
    });

    type Record = (operation: Row["operation"], tool: string, work: () => Promise<unknown>) => Promise<void>;
    type Paths = ReturnType<typeof paths>;

    const writes = async (n: number, tag: string, p: Paths, record: Record): Promise<void> => {
      const data: PlainData = columns(n);
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
      {
        // Its own scope: a danfo frame of N rows is a large JS object graph that every garbage
        // collection must mark, so it is dropped (and collected, under --expose-gc) before the next row.
        const frame = await danfoFlavour.fromBatches({
          schema,
          batches: [{ schema, columns: columns(n), numRows: n }],
        });
        collect?.();
        await record("write", "ferry + table-danfo (nodejs-polars installed)", () =>
          table(frame, p.danfo, { flavour: danfoFlavour }).write(),
        );
      }
      collect?.();
      await record("write", "parquet-wasm from apache-arrow (tableToIPC → writeParquet)", async () => {
        const properties = new wasm.WriterPropertiesBuilder().setCompression(wasm.Compression.SNAPPY).build();
        const ipc = A.tableToIPC(asArrow, "stream");
        await writeFile(p.wasm, wasm.writeParquet(wasm.Table.fromIPCStream(ipc), properties));
      });
      await record("write", "Polars from the same JS arrays (DataFrame + writeParquet)", async () =>
        pl.DataFrame(data).writeParquet(p.polarsArrays, { compression: "snappy" }),
      );
      await record("write", "Polars directly (writeParquet)", async () =>
        asPolars.writeParquet(p.polarsDirect, { compression: "snappy" }),
      );
      await record("write", "DuckDB directly (COPY, data generated in DuckDB)", () =>
        duck.run(`copy (select i::int as id, i * 1000003 as big, i / 7 as score, 'name-' || (i % 5000) as name, i % 3 = 0 as flag,
                        make_timestamp(1700000000000000 + i * 1000000)::timestamp_ms as at from range(0, ${n}) t(i))
                  to '${p.duckdb}' (format parquet, compression snappy)`),
      );
    };

    const reads = async (p: Paths, record: Record): Promise<void> => {
      await record("read", "ferry (plain JS data)", () => Table.from(p.core).fetch());
      await record("read", "ferry + table-arrow", () =>
        Table.from(p.core, { flavour: arrowFlavour }).fetch(),
      );
      await record("read", "ferry + table-polars", () =>
        Table.from(p.polars, { flavour: polarsFlavour }).fetch(),
      );
      await record("read", "ferry + table-danfo", () =>
        Table.from(p.core, { flavour: danfoFlavour }).fetch(),
      );
      collect?.();
      // parquet-wasm reads a file's bytes: the file Polars reads below, and the part ferry's rows read.
      const readWasm = async (file: string) =>
        A.tableFromIPC(wasm.readParquet(await readFile(file)).intoIPCStream());
      await record("read", "parquet-wasm to apache-arrow, Polars' file (readParquet → tableFromIPC)", () =>
        readWasm(p.polarsDirect),
      );
      const coreReader = await Table.from(p.core).reader();
      const [corePart] = await coreReader.parts();
      await record("read", "parquet-wasm to apache-arrow, ferry's file (readParquet → tableFromIPC)", () =>
        readWasm(join(p.core, corePart!.relative)),
      );
      await record("read", "Polars directly (readParquet)", async () => pl.readParquet(p.polarsDirect));
      await record("read", "DuckDB directly (select * materialized)", () =>
        duck.runAndReadAll(`select * from '${p.duckdb}'`),
      );
      await record("read", "DuckDB → JS values (getColumnsJS)", async () =>
        (await duck.runAndReadAll(`select * from '${p.duckdb}'`)).getColumnsJS(),
      );
    };

    const run = async (n: number, tag: string): Promise<Row[]> => {
      const p = paths(n, tag);
      const rows: Row[] = [];
      // The median of REPEAT runs: one run on a shared machine says little. Under --expose-gc each path
      // starts from a collected heap, so none pays for the garbage of the one before it.
      const record = async (operation: Row["operation"], tool: string, work: () => Promise<unknown>) => {
        collect?.();
        const runs: number[] = [];
        for (let i = 0; i < REPEAT; i++) runs.push((await timed(work)).seconds);
        rows.push({ operation, tool, seconds: runs.sort((a, b) => a - b)[Math.floor(runs.length / 2)]! });
      };
      // The writes' inputs live in this function only: the reads run without them pinned in the heap
      // (every collection would mark a million JS rows, as it would not in a program that only reads).
      await writes(n, tag, p, record);
      collect?.();
      await reads(p, record);
      return rows;
    };

    let results: Row[] = [];
    if (!args["stream-only"]) {
      await run(WARMUP_ROWS, "warm");
      results = await run(ROWS, "main");
    }

    // Streaming from S3 (s3rver on 127.0.0.1): a table of STREAM_MIB written by ferry, streamed by a fresh process.
    const server = await startS3rver();
    const streamed: StreamResult[] = [];
    try {
      const registry = new PluginRegistry({ lazy: false }).use(
        s3({ endpoint: server.endpoint, region: server.region, credentials: { ...server.credentials } }),
      );
      const url = `s3://${await server.createBucket()}/bench/large`;
      const { source } = largeSource(STREAM_MIB);
      const written = await timed(() =>
        Table.from(url, { registry }).writeBatches(source, { rowGroupSize: STREAM_ROW_GROUP }),
      );
      const storage = await registry.storageFor(parseLocation(url));
      const sizes = await Promise.all(written.value.files.map((file) => storage.stat(file)));
      await registry.close();
      const bytes = sizes.reduce((sum, entry) => sum + entry.size, 0);
      const childArgs = [
        JSON.stringify({ endpoint: server.endpoint, url }),
        ...(args.prefetch === undefined ? [] : ["--prefetch", args.prefetch]),
      ];
      const sources = [...process.execArgv, new URL("./tables-stream.ts", import.meta.url).pathname];
      const built = args.built ? await builtChild() : undefined;
      for (let run = 0; run < STREAM_RUNS; run++) {
        for (const [packages, argv] of built
          ? [["sources", sources] as const, ["built", built] as const]
          : [["sources", sources] as const]) {
          const child = spawnSync(process.execPath, [...argv, ...childArgs], {
            encoding: "utf8",
            maxBuffer: 1 << 20,
          });
          if (child.status !== 0) throw new Error(`streaming child failed: ${child.stderr}`);
          streamed.push({
            ...(JSON.parse(child.stdout) as Omit<StreamResult, "bytes" | "writeSeconds" | "packages">),
            packages,
            bytes,
            writeSeconds: written.seconds,
          });
        }
      }
    } finally {
      await server.stop();
    }

    const report = render(results, streamed);
    process.stdout.write(report);
    const resultsDir = new URL("./results/", import.meta.url);
    await mkdir(resultsDir, { recursive: true });
    await writeFile(new URL("tables.md", resultsDir), report);
  } finally {
    duck.closeSync();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The streaming child as an installed ferry runs it: tables-stream.ts with its types stripped into
 * bench/.work (next to bench's node_modules) and run without the @ferry/source condition, so that
 * ferry loads from the packages' dist/ folders.
 */
async function builtChild(): Promise<string[]> {
  const { stripTypeScriptTypes } = await import("node:module");
  const work = new URL("./.work/", import.meta.url);
  await mkdir(work, { recursive: true });
  const source = await readFile(new URL("./tables-stream.ts", import.meta.url), "utf8");
  const script = new URL("tables-stream.mjs", work);
  await writeFile(script, stripTypeScriptTypes(source));
  return [...process.execArgv.filter((arg) => !arg.startsWith("--conditions")), script.pathname];
}

interface StreamResult {
  /** "sources" (TypeScript, as in the repository) or "built" (dist/, as installed). */
  packages: string;
  rows: number;
  seconds: number;
  baselineKiB: number;
  peakKiB: number;
  bytesRead: number;
  largestRead: number;
  heapKiB: number;
  arrayBuffersKiB: number;
  bytes: number;
  writeSeconds: number;
}

function render(rows: Row[], runs: readonly StreamResult[]): string {
  const mib = (kib: number) => (kib / 1024).toFixed(0);
  const lines = [
    `# Tables: ${ROWS.toLocaleString("en")} rows × 6 columns`,
    "",
    `Node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? "unknown CPU"}), ${new Date().toISOString().slice(0, 10)}.`,
    "Columns: int32, int64, float64, string, bool, timestamp[ms]; snappy; ferry row groups of 100 000 rows.",
    `Median of ${REPEAT} runs of each path, after a warm-up on ${WARMUP_ROWS.toLocaleString("en")} rows. × Polars / × DuckDB: time relative to that tool doing the same operation directly.`,
    "DuckDB's write generates the rows inside DuckDB (no JS data crosses over); its read materializes the result without converting to JS objects.",
    "parquet-wasm 0.8 (arrow-rs in WebAssembly) goes through Arrow IPC to and from apache-arrow, as a JS user would; it reads both Polars' file and ferry's.",
    "",
    "| operation | tool | seconds | rows/s | × Polars | × DuckDB |",
    "|---|---|---:|---:|---:|---:|",
  ];
  for (const operation of ["write", "read"] as const) {
    const group = rows.filter((r) => r.operation === operation);
    if (group.length === 0) continue;
    const polarsTime = group.find((r) => r.tool.startsWith("Polars directly"))!.seconds;
    const duckTime = group.find((r) => r.tool.startsWith("DuckDB directly"))!.seconds;
    for (const r of group) {
      lines.push(
        `| ${operation} | ${r.tool} | ${r.seconds.toFixed(3)} | ${Math.round(ROWS / r.seconds).toLocaleString("en")} | ${(r.seconds / polarsTime).toFixed(1)} | ${(r.seconds / duckTime).toFixed(1)} |`,
      );
    }
  }
  // ferry against its peers, row by row: below 1.0 ferry is ahead.
  const seconds = (operation: Row["operation"], prefix: string) =>
    rows.find((r) => r.operation === operation && r.tool.startsWith(prefix))?.seconds;
  const versus = (label: string, ours: number | undefined, theirs: number | undefined) =>
    ours !== undefined && theirs !== undefined
      ? [`- ${label}: ${(ours / theirs).toFixed(2)}× (${ours <= theirs ? "ferry ahead" : "ferry behind"})`]
      : [];
  const wasmRead = seconds("read", "parquet-wasm to apache-arrow, ferry's file");
  lines.push(
    "",
    ...versus(
      "read to Arrow, ferry + table-arrow ÷ parquet-wasm on the same file",
      seconds("read", "ferry + table-arrow"),
      wasmRead,
    ),
    ...versus(
      "write from Arrow, ferry + table-arrow ÷ parquet-wasm",
      seconds("write", "ferry + table-arrow"),
      seconds("write", "parquet-wasm"),
    ),
    ...versus(
      "write, ferry + table-danfo ÷ ferry + table-polars",
      seconds("write", "ferry + table-danfo"),
      seconds("write", "ferry + table-polars"),
    ),
  );
  const mibOf = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);
  lines.push(
    "",
    `## Streaming a ${mibOf(runs[0]!.bytes)} MiB table from S3 in batches of ${STREAM_BATCH.toLocaleString("en")} rows`,
    "",
    "| packages | rows | table on S3 | written by ferry in | streamed in | fetched from S3 | largest request | RSS before | JS heap high | ArrayBuffers high | peak RSS | target |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
  );
  for (const streamed of runs) {
    const peak = streamed.peakKiB / 1024;
    lines.push(
      `| ${streamed.packages} | ${streamed.rows.toLocaleString("en")} | ${mibOf(streamed.bytes)} MiB | ${streamed.writeSeconds.toFixed(1)} s | ${streamed.seconds.toFixed(1)} s (${(streamed.bytes / 1024 / 1024 / streamed.seconds).toFixed(0)} MiB/s) | ${mibOf(streamed.bytesRead)} MiB | ${mibOf(streamed.largestRead)} MiB | ${mib(streamed.baselineKiB)} MiB | ${mib(streamed.heapKiB)} MiB | ${mib(streamed.arrayBuffersKiB)} MiB | ${peak.toFixed(0)} MiB | ≤ ${STREAM_RSS_TARGET_MIB} MiB: ${peak <= STREAM_RSS_TARGET_MIB ? "met" : "NOT met"} |`,
    );
  }
  lines.push(
    "",
    `s3rver on 127.0.0.1 serves the table; rows carry ${PAYLOAD_BYTES} random hex characters so its size is real, in row groups of`,
    `${STREAM_ROW_GROUP.toLocaleString("en")} rows (~10 MiB). A fresh process streams it by ranged reads, one row group at a time`,
    "(row groups this big are not read ahead by default): memory follows the row group, not the table. It runs with",
    "Node's default flags (no heap or young-generation settings).",
    "",
  );
  return lines.join("\n");
}

await main();
