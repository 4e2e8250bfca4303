/** A worker thread decoding column chunks for decode-threads.ts: a job in; its outcomes and bytes out (transferred). */
import { parentPort } from "node:worker_threads";
import { decodeJob } from "./columnar.ts";
import { type DecodeJob, type Reply, transferables } from "./decode-threads.ts";

const port = parentPort!;
port.on("message", ({ id, job }: { id: number; job: DecodeJob }) => {
  const reply: Reply = { outcomes: decodeJob(job), bytes: job.bytes };
  port.postMessage({ id, reply }, transferables(reply));
});
port.postMessage({ ready: true });
