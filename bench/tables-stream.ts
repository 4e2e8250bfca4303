/**
 * The streaming half of bench/tables.ts, in a process of its own that loads only what a user streaming
 * a table loads (ferry and its S3 plugin; not DuckDB, Polars or Arrow, whose native libraries alone
 * add ~100 MiB of RSS): streams the table at the URL in batches of 10 000 rows and prints its peak RSS.
 *
 *   node --conditions=@ferry/source bench/tables-stream.ts '{"endpoint":"http://127.0.0.1:PORT","url":"s3://b/t"}' [--prefetch N]
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { PluginRegistry, Table } from "@ferry/core";
import s3 from "@ferry/storage-s3";

const STREAM_BATCH = 10_000;
const { values: args, positionals } = parseArgs({
  options: { prefetch: { type: "string" } },
  allowPositionals: true,
});

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

/** Child mode: stream a table from S3 and report the peak RSS (a fresh process, so nothing else is resident). */
async function streamChild(spec: string): Promise<void> {
  const { endpoint, url } = JSON.parse(spec) as { endpoint: string; url: string };
  const registry = new PluginRegistry({ lazy: false }).use(
    s3({ endpoint, region: "us-east-1", credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } }),
  );
  const before = await memoryKiB();
  const reader = await Table.from(url, { registry }).reader();
  let rows = 0;
  const started = performance.now();
  const prefetch = args.prefetch === undefined ? undefined : Number(args.prefetch);
  const high = { heapUsed: 0, arrayBuffers: 0 };
  for await (const batch of reader.stream({ batchSize: STREAM_BATCH, prefetch })) {
    rows += batch.numRows;
    const usage = process.memoryUsage();
    high.heapUsed = Math.max(high.heapUsed, usage.heapUsed);
    high.arrayBuffers = Math.max(high.arrayBuffers, usage.arrayBuffers);
  }

  const seconds = (performance.now() - started) / 1000;
  const after = await memoryKiB();
  await registry.close();
  process.stdout.write(
    JSON.stringify({
      rows,
      seconds,
      baselineKiB: before.rss,
      peakKiB: after.peak,
      bytesRead: reader.stats.bytesRead,
      largestRead: reader.stats.largestRead,
      heapKiB: Math.round(high.heapUsed / 1024),
      arrayBuffersKiB: Math.round(high.arrayBuffers / 1024),
    }),
  );
}

await streamChild(positionals[0]!);
