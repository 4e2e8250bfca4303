/**
 * MD5 of a file while it is being written, on a second thread: the worker reads back what the writer
 * has already put on disk (from the page cache) and hashes it, so receiving, writing and hashing run
 * side by side instead of one after another on the event loop. What it checks is the file itself, not
 * the bytes on their way to it.
 *
 * The worker runs from source text (`eval`): loading a module file would start the ES module loader
 * (and the type stripper, from ferry's TypeScript source) — tens of milliseconds more before it can hash.
 */
import { Worker } from "node:worker_threads";

const WORKER_SOURCE = `// process.getBuiltinModule: the same whether the worker is run as a script or as a module.
const { parentPort, workerData } = process.getBuiltinModule("node:worker_threads");
const { openSync, readSync, closeSync } = process.getBuiltinModule("node:fs");
const hash = process.getBuiltinModule("node:crypto").createHash("md5");
const buffer = Buffer.allocUnsafe(1024 * 1024);
let fd;
let hashed = 0;
parentPort.on("message", ({ upTo, end }) => {
  fd ??= openSync(workerData.path, "r");
  while (hashed < upTo) {
    const read = readSync(fd, buffer, 0, Math.min(buffer.length, upTo - hashed), hashed);
    if (read === 0) throw new Error("the file is shorter than what was written to it");
    hash.update(buffer.subarray(0, read));
    hashed += read;
  }
  if (end) {
    closeSync(fd);
    parentPort.postMessage(hash.digest("hex"));
  }
});
`;

/** The worker is told about progress in steps of this much, not on every write. */
const ADVANCE_STEP_BYTES = 1024 * 1024;

export interface TrailingHasher {
  /** Everything before `bytes` is on disk (written and acknowledged): hash up to there. */
  advance(bytes: number): void;
  /** The file is complete at `bytes`: its MD5 (lower-case hex). */
  finish(bytes: number): Promise<string>;
  /** Stop, whatever state it is in. */
  stop(): Promise<void>;
}

export function startTrailingHasher(path: string): TrailingHasher {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path } });
  const digest = new Promise<string>((resolve, reject) => {
    worker.once("message", (message: string) => resolve(message));
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`the hashing thread stopped (exit code ${code})`)));
  });
  digest.catch(() => undefined); // seen by finish(); a write that fails first never asks
  let posted = 0;
  return {
    advance(bytes) {
      if (bytes - posted < ADVANCE_STEP_BYTES) return;
      posted = bytes;
      worker.postMessage({ upTo: bytes, end: false });
    },
    async finish(bytes) {
      worker.postMessage({ upTo: bytes, end: true });
      try {
        return await digest;
      } finally {
        await worker.terminate();
      }
    },
    async stop() {
      await worker.terminate();
    },
  };
}
