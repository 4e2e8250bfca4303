/**
 * Table benchmark: write and read N rows × 6 columns (int32, int64, float64, string, bool,
 * timestamp[ms]) with ferry (plain data, table-arrow, table-polars) next to DuckDB and Polars
 * directly, then the peak RSS of streaming a large table in batches of 10 000 rows.
 *
 *   node --conditions=@ferry/source bench/tables.ts           # 200 000 rows; streaming 1 000 000 (a few minutes)
 *   node --conditions=@ferry/source bench/tables.ts --full    # 1 000 000 rows; streaming 5 000 000
 *   node --conditions=@ferry/source bench/tables.ts --rows 500000 --stream-rows 2000000
 *
 * Prints a markdown table and writes it to bench/results/tables.md. Timings are wall-clock, one run
 * each after a warm-up of every path on a small table, on whatever machine runs this.
 */
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
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
  },
});

const ROWS = Number(args.rows ?? (args.full ? 1_000_000 : 200_000));
const STREAM_ROWS = Number(args["stream-rows"] ?? (args.full ? 5_000_000 : 1_000_000));
const STREAM_BATCH = 10_000;
const ROW_GROUP = 100_000;

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

/** Child mode: stream a table and report the peak RSS (a fresh process, so nothing else is resident). */
async function streamChild(location: string): Promise<void> {
  const baseline = process.resourceUsage().maxRSS;
  let rows = 0;
  const started = performance.now();
  for await (const batch of Table.from(location).streamBatches({ batchSize: STREAM_BATCH }))
    rows += batch.numRows;
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(
    JSON.stringify({ rows, seconds, baselineKiB: baseline, peakKiB: process.resourceUsage().maxRSS }),
  );
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
      const record = async (operation: Row["operation"], tool: string, work: () => Promise<unknown>) => {
        rows.push({ operation, tool, seconds: (await timed(work)).seconds });
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

    // Streaming a large table: written once with ferry, streamed by a fresh process.
    const large = join(dir, "large");
    const written = await timed(() =>
      table(columns(STREAM_ROWS), large, { rowGroupSize: ROW_GROUP }).write(),
    );
    const bytes = (
      await Promise.all((written.value.files as string[]).map((file) => stat(`/${file}`)))
    ).reduce((sum, s) => sum + s.size, 0);
    const child = spawnSync(
      process.execPath,
      [
        ...process.execArgv,
        new URL(import.meta.url).pathname,
        "--stream-child",
        large,
        ...(args.full ? ["--full"] : []),
      ],
      {
        encoding: "utf8",
        maxBuffer: 1 << 20,
      },
    );
    if (child.status !== 0) throw new Error(`streaming child failed: ${child.stderr}`);
    const streamed = JSON.parse(child.stdout) as {
      rows: number;
      seconds: number;
      baselineKiB: number;
      peakKiB: number;
    };

    const report = render(results, streamed, bytes, written.seconds);
    process.stdout.write(report);
    const resultsDir = new URL("./results/", import.meta.url);
    await mkdir(resultsDir, { recursive: true });
    await writeFile(new URL("tables.md", resultsDir), report);
  } finally {
    duck.closeSync();
    await rm(dir, { recursive: true, force: true });
  }
}

function render(
  rows: Row[],
  streamed: { rows: number; seconds: number; baselineKiB: number; peakKiB: number },
  bytes: number,
  writeSeconds: number,
): string {
  const mib = (kib: number) => (kib / 1024).toFixed(0);
  const lines = [
    `# Tables: ${ROWS.toLocaleString("en")} rows × 6 columns`,
    "",
    `Node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? "unknown CPU"}), ${new Date().toISOString().slice(0, 10)}.`,
    "Columns: int32, int64, float64, string, bool, timestamp[ms]; snappy; ferry row groups of 100 000 rows.",
    "Each path ran once after a warm-up on 2 000 rows. ×Polars / ×DuckDB: time relative to that tool doing the same operation directly.",
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
    `## Streaming ${streamed.rows.toLocaleString("en")} rows in batches of ${STREAM_BATCH.toLocaleString("en")}`,
    "",
    "| table on disk | written by ferry in | streamed in | process RSS before | peak RSS while streaming |",
    "|---:|---:|---:|---:|---:|",
    `| ${(bytes / 1024 / 1024).toFixed(1)} MiB | ${writeSeconds.toFixed(1)} s | ${streamed.seconds.toFixed(1)} s | ${mib(streamed.baselineKiB)} MiB | ${mib(streamed.peakKiB)} MiB |`,
    "",
    "Peak RSS is measured in a fresh process that only streams (Node's own footprint included); it is bounded by",
    "one row group, not by the table size.",
    "",
  );
  return lines.join("\n");
}

if (args["stream-child"]) await streamChild(args["stream-child"]);
else await main();
