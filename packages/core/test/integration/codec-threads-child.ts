/**
 * Run by table-codec-threads.test.ts in a process started with Node options of its own: writes and
 * reads a table with every job big enough for a worker, and prints how many workers started and how
 * many jobs they did.
 */
import { codecThreads, codecThreadsReady } from "@ferry/parquet";
import { Table, table } from "../../src/index.ts";

const location = process.argv[2]!;
process.env.FERRY_TABLE_THREADS = "1";
codecThreads.minBytes = 0;
codecThreads.startAfterBytes = 0;
const n = 20_000;
const columns = {
  id: Array.from({ length: n }, (_, i) => i),
  name: Array.from({ length: n }, (_, i) => `name-${i % 100}`),
};
await table(columns, location, { rowGroupSize: 5_000 }).write();
const ready = await codecThreadsReady();
const before = codecThreads.jobsOffThread;
const rows = (await Table.from(location).fetch()) as { id: number[] };
console.log(JSON.stringify({ ready, decoded: codecThreads.jobsOffThread - before, rows: rows.id.length }));
