/**
 * A worker thread for codec-threads.ts: decodes a row group's chunks or encodes a column chunk; the
 * answer's buffers (and a decode job's bytes) go back transferred. A job it cannot do is answered
 * with nothing, and the calling thread does it.
 */
import { parentPort } from "node:worker_threads";
import { buffersOf, type JobKind } from "./codec-threads.ts";
import { type DecodeJob, type DecodeReply, decodeJob, replyBuffers } from "./columnar.ts";
import { type EncodeJob, encodeJob } from "./columnar-writer.ts";

const port = parentPort!;
port.on("message", async ({ id, kind, job }: { id: number; kind: JobKind; job: unknown }) => {
  try {
    if (kind === "decode") {
      const decode = job as DecodeJob;
      const reply: DecodeReply = { outcomes: decodeJob(decode), bytes: decode.bytes };
      port.postMessage({ id, reply }, replyBuffers(reply));
    } else {
      const reply = await encodeJob(job as EncodeJob);
      port.postMessage({ id, reply }, buffersOf([reply.bytes]));
    }
  } catch {
    port.postMessage({ id, reply: undefined });
  }
});
port.postMessage({ ready: true });
