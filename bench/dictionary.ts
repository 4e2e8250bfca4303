/**
 * Dictionary-encoded text, read and written: 1,000,000 rows of an int id, a `label` of 20 values and a
 * `path` of 10,000 values (the shape of an image dataset's index). DuckDB writes the file; ferry reads
 * it to Arrow and to JS values, next to Polars' `readParquet` and DuckDB's own scan in the same run.
 * Then ferry, Polars and DuckDB each write the same rows, and the file sizes are compared.
 *
 *   node --conditions=@ferry/source bench/dictionary.ts [--rows 1000000] [--repeat 7]
 */
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DuckDBInstance } from "@duckdb/node-api";
import { Table, table } from "@ferry/core";
import arrow from "@ferry/table-arrow";
import pl from "nodejs-polars";

const { values: args } = parseArgs({ options: { rows: { type: "string" }, repeat: { type: "string" } } });
const ROWS = Number(args.rows ?? 1_000_000);
const REPEAT = Number(args.repeat ?? 7);

/** Median seconds of `REPEAT` runs after one warm-up. */
async function median(run: () => Promise<unknown> | unknown): Promise<number> {
  await run();
  const times: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const started = performance.now();
    await run();
    times.push((performance.now() - started) / 1000);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

async function sizeOf(path: string): Promise<number> {
  const info = await stat(path);
  if (info.isFile()) return info.size;
  let total = 0;
  for (const name of await readdir(path)) total += (await stat(join(path, name))).size;
  return total;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "ferry-bench-dictionary-"));
  const duck = await (await DuckDBInstance.create(":memory:")).connect();
  try {
    const duckFile = join(dir, "duckdb.parquet");
    await duck.run(
      `copy (select i::integer as id, 'label-' || (i % 20)::varchar as label,
                    's3://bucket/images/train/shard-' || (i % 10000)::varchar || '/img.jpg' as path
             from range(${ROWS}) t(i)) to '${duckFile}' (format parquet, row_group_size 100000)`,
    );
    const flavour = arrow();
    const reads = [
      ["ferry + table-arrow", () => Table.from(duckFile, { flavour }).fetch()],
      ["ferry (plain JS data)", () => Table.from(duckFile).fetchBatch()],
      ["Polars directly (readParquet)", () => pl.readParquet(duckFile)],
      ["DuckDB directly (select * materialized)", () => duck.runAndReadAll(`select * from '${duckFile}'`)],
    ] as const;
    const polarsRead = await median(reads[2][1]);
    console.log(
      `# Dictionary-encoded text: ${ROWS.toLocaleString("en")} rows (id, label of 20, path of 10,000)\n`,
    );
    console.log(`Median of ${REPEAT} runs after a warm-up; the file is DuckDB's (row groups of 100,000).\n`);
    console.log("| read DuckDB's file | seconds | × Polars |\n|---|---:|---:|");
    for (const [tool, run] of reads) {
      const seconds = tool.startsWith("Polars") ? polarsRead : await median(run);
      console.log(`| ${tool} | ${seconds.toFixed(3)} | ${(seconds / polarsRead).toFixed(1)} |`);
    }

    const data = (await Table.from(duckFile).fetchBatch()).columns;
    const ferryDir = join(dir, "ferry");
    await table(data, ferryDir, { rowGroupSize: 100_000 }).write();
    const polarsFile = join(dir, "polars.parquet");
    pl.readParquet(duckFile).writeParquet(polarsFile, { compression: "snappy" });
    const sizes = [
      ["ferry", await sizeOf(ferryDir)],
      ["Polars (snappy)", await sizeOf(polarsFile)],
      ["DuckDB (its default, snappy)", await sizeOf(duckFile)],
    ] as const;
    console.log("\n| the same rows written by | bytes |\n|---|---:|");
    for (const [tool, bytes] of sizes) console.log(`| ${tool} | ${bytes.toLocaleString("en")} |`);
  } finally {
    duck.closeSync();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
