/**
 * Reading less with a filter: a table sorted by `id` is written to S3 (s3rver on 127.0.0.1) and read
 * through a proxy that counts the bytes the server sends. Selecting 1 % of the rows by `id` must move
 * ≤ 5 % of the table's bytes (issue #18); the whole read is measured in the same run for comparison.
 *
 *   node --conditions=@ferry/source bench/table-filter.ts            # a 1 GiB table (several minutes to write)
 *   node --conditions=@ferry/source bench/table-filter.ts --mib 64   # quicker
 *
 * Prints a markdown table and writes it to bench/results/table-filter.md (`./dev bench` assembles them).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { local, PluginRegistry, Table } from "@ferry/core";
import { createRandom } from "@ferry/parquet";
import type { ColumnBatch, Schema } from "@ferry/plugin-kit";
import { t } from "@ferry/plugin-kit";
import s3 from "@ferry/storage-s3";
import { startFaultProxy, startS3rver } from "@ferry/test-harness";

const { values: args } = parseArgs({ options: { mib: { type: "string" } } });
const TABLE_MIB = Number(args.mib ?? 1024);
/** Bytes a row takes in the file: an int64 and 96 random hex characters (incompressible for snappy). */
const ROW_BYTES = 98;
const ROWS = Math.round((TABLE_MIB * 1024 * 1024) / ROW_BYTES);
const BATCH = 100_000;
const ROW_GROUP = 100_000;

const schema: Schema = { fields: [t.field("id", t.int64(), false), t.field("payload", t.string(), false)] };

async function* batches(): AsyncGenerator<ColumnBatch> {
  const next = createRandom(18);
  const hex = () =>
    Math.floor(next() * 2 ** 32)
      .toString(16)
      .padStart(8, "0");
  for (let start = 0; start < ROWS; start += BATCH) {
    const rows = Math.min(BATCH, ROWS - start);
    const id = Array.from({ length: rows }, (_, i) => BigInt(start + i));
    const payload = Array.from({ length: rows }, () => {
      let text = "";
      for (let k = 0; k < 12; k++) text += hex();
      return text;
    });
    yield { schema, columns: { id, payload }, numRows: rows };
  }
}

const server = await startS3rver();
const proxy = await startFaultProxy({ port: Number(new URL(server.endpoint).port) });
const registry = new PluginRegistry({ lazy: false }).use(
  local(),
  s3({ endpoint: proxy.endpoint, region: server.region, credentials: { ...server.credentials } }),
);
try {
  const url = `s3://${await server.createBucket()}/sorted`;
  const writing = performance.now();
  const written = await Table.from(url, { registry }).writeBatches(
    { schema, batches: batches() },
    { rowGroupSize: ROW_GROUP },
  );
  const writeSeconds = (performance.now() - writing) / 1000;
  const storage = await Table.from(url, { registry }).storage();
  let size = 0;
  for (const file of written.files) size += (await storage.stat(file)).size;

  const measure = async (label: string, read: (table: Table) => Promise<number>) => {
    const before = proxy.bytes.downstream;
    const started = performance.now();
    const rows = await read(Table.from(url, { registry }));
    const seconds = (performance.now() - started) / 1000;
    const moved = proxy.bytes.downstream - before;
    return { label, rows, seconds, moved, share: moved / size };
  };
  const from = Math.floor(ROWS * 0.6);
  const to = from + Math.floor(ROWS / 100);
  const results = [
    await measure("whole table, `fetchBatch()`", async (table) => (await table.fetchBatch()).numRows),
    await measure(
      `1 % by the sort column, \`fetchBatch({ filter: "id >= ${from} and id < ${to}" })\``,
      async (table) => (await table.fetchBatch({ filter: `id >= ${from} and id < ${to}` })).numRows,
    ),
    await measure("the same, `count({ filter })`", async (table) =>
      table.count({ filter: `id >= ${from} and id < ${to}` }),
    ),
    await measure(
      "no row matches (`id < 0`): footers only",
      async (table) => (await table.fetchBatch({ filter: ["id", "<", 0] })).numRows,
    ),
  ];
  const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
  const lines = [
    `## Filters: reading ${(((to - from) / ROWS) * 100).toFixed(2)} % of a ${mib(size)} MiB table on S3 by its sort column`,
    "",
    `${ROWS.toLocaleString("en")} rows (int64 \`id\`, sorted; 96 random hex characters), row groups of ${ROW_GROUP.toLocaleString("en")} rows, written by ferry in ${writeSeconds.toFixed(0)} s to s3rver on 127.0.0.1; bytes counted by a proxy in front of it (HTTP headers and the listing included).`,
    "",
    "| read | rows | bytes moved | of the table | time |",
    "|---|---:|---:|---:|---:|",
    ...results.map(
      (r) =>
        `| ${r.label} | ${r.rows.toLocaleString("en")} | ${mib(r.moved)} MiB | ${(r.share * 100).toFixed(2)} % | ${r.seconds.toFixed(1)} s |`,
    ),
    "",
    `Target: the 1 % read moves ≤ 5 % of the table's bytes: ${results[1]!.share <= 0.05 ? "met" : "NOT met"}.`,
    "",
    "`node --conditions=@ferry/source bench/table-filter.ts` (`--mib 64` for a quick run). The selected rows sit",
    `in one or two row groups of ${ROW_GROUP.toLocaleString("en")} rows: their pages of \`id\` and \`payload\` are what moves, with the footer.`,
    "`count({ filter })` decodes only `id`. Inside a row group the page index narrows further where pages are",
    "smaller than the group (the tests read under 5 % of a one-row-group table's data for 1 % of its rows).",
  ];
  const report = `${lines.join("\n")}\n`;
  process.stdout.write(report);
  await mkdir(new URL("./results/", import.meta.url), { recursive: true });
  await writeFile(new URL("./results/table-filter.md", import.meta.url), report);
} finally {
  await registry.close();
  await proxy.stop();
  await server.stop();
}
