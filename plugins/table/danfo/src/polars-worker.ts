/**
 * The danfo flavour's polars thread (polars-thread.ts). A job arrives column by column, each turned
 * into a polars Series as it comes (while the calling thread fills the next), then `done`: the Series
 * are encoded and the parquet bytes sent back, transferred. A job polars refuses is answered with its
 * message; a cancelled one is dropped.
 */
import { parentPort } from "node:worker_threads";
import type { Series } from "nodejs-polars";
import { columnSeries, encodeSeries, type JobColumn, type PolarsJob } from "./polars-job.ts";

export type WorkerMessage =
  | { id: number; index: number; rows: number; column: JobColumn }
  | {
      id: number;
      done: true;
      columns: Pick<JobColumn, "name" | "type">[];
      compression: PolarsJob["compression"];
    }
  | { id: number; cancel: true };

const port = parentPort!;
const jobs = new Map<number, { series: Series[]; error?: string }>();
const failure = (error: unknown) => String((error as Error)?.message ?? error);

async function handle(message: WorkerMessage): Promise<void> {
  if ("column" in message) {
    const job = jobs.get(message.id) ?? { series: [] };
    jobs.set(message.id, job);
    if (job.error !== undefined) return;
    try {
      job.series[message.index] = await columnSeries(message.rows, message.column);
    } catch (error) {
      job.error = failure(error);
    }
    return;
  }
  const job = jobs.get(message.id);
  jobs.delete(message.id);
  if ("cancel" in message) return;
  try {
    if (!job) throw new Error("no columns arrived");
    if (job.error !== undefined) throw new Error(job.error);
    const bytes = await encodeSeries(job.series, message.columns, message.compression);
    port.postMessage({ id: message.id, bytes }, [bytes.buffer as ArrayBuffer]);
  } catch (error) {
    port.postMessage({ id: message.id, error: failure(error) });
  }
}

// One message at a time, in order: a column's buffers are read before the next message is looked at.
let queue: Promise<void> = Promise.resolve();
port.on("message", (message: WorkerMessage) => {
  queue = queue.then(() => handle(message));
});
port.postMessage({ ready: true });
