/**
 * The danfo flavour's polars thread (polars-thread.ts): encodes a job's buffers with polars and sends
 * the parquet bytes back, transferred; a job polars refuses is answered with its message.
 */
import { parentPort } from "node:worker_threads";
import { encodeJob, type PolarsJob } from "./polars-job.ts";

const port = parentPort!;
port.on("message", async (job: PolarsJob) => {
  try {
    const bytes = await encodeJob(job);
    port.postMessage({ bytes }, [bytes.buffer as ArrayBuffer]);
  } catch (error) {
    port.postMessage({ error: String((error as Error)?.message ?? error) });
  }
});
port.postMessage({ ready: true });
