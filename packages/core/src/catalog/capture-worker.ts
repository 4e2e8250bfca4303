/**
 * The second thread of a large small-file capture: batches of tasks in, their outcomes out, in order.
 *
 * The worker runs from source text (`eval`), not from a module file. A worker that loads a file first
 * starts the ES module loader and, when ferry runs from its TypeScript source, the type stripper:
 * about 100 ms (80 ms of CPU) before it can take a batch, against 40 ms (34 ms of CPU) from text. The
 * text is the class this thread captures with, SmallFileCapturer, as the runtime holds its source,
 * given the Node modules it calls; it names nothing else (see capturer.ts).
 */
import { rmSync } from "node:fs";
import { Worker } from "node:worker_threads";
import {
  SMALL_FILE_BYTES,
  SmallFileCapturer,
  type SmallFileOutcome,
  type SmallFileTask,
} from "./capturer.ts";

/** What the worker posts once it can take batches. */
const READY = "ready";

function workerSource(): string {
  return `"use strict";
const { parentPort, workerData } = process.getBuiltinModule("node:worker_threads");
const SmallFileCapturer = (${SmallFileCapturer.toString()});
const system = {
  crypto: process.getBuiltinModule("node:crypto"),
  fs: process.getBuiltinModule("node:fs"),
  path: process.getBuiltinModule("node:path"),
};
const capturer = new SmallFileCapturer(workerData.tempPrefix, system, workerData.maxBytes);
parentPort.on("message", (tasks) => parentPort.postMessage(capturer.captureAll(tasks)));
parentPort.postMessage(${JSON.stringify(READY)});
`;
}

/** A started capture worker: `ready` settles when it can take batches (rejects if it cannot start). */
export interface CaptureWorker {
  readonly worker: Worker;
  readonly ready: Promise<void>;
}

export function startCaptureWorker(tempPrefix: string): CaptureWorker {
  const worker = new Worker(workerSource(), {
    eval: true,
    workerData: { tempPrefix, maxBytes: SMALL_FILE_BYTES },
  });
  const ready = new Promise<void>((resolve, reject) => {
    const onMessage = (message: unknown) => {
      if (message !== READY) return;
      worker.off("error", reject);
      worker.off("message", onMessage);
      resolve();
    };
    worker.on("message", onMessage);
    worker.once("error", reject);
  });
  // Whoever waits for it sees the failure; nobody waiting is not an unhandled rejection.
  ready.catch(() => undefined);
  return { worker, ready };
}

export interface BatchQueue {
  /** Batches handed out but given back (by a worker that failed). */
  returned: number[];
  /** The start of the next batch, or undefined when there is none (or after an abort). */
  take(): number | undefined;
  batch(start: number): SmallFileTask[];
  done(start: number, results: readonly SmallFileOutcome[]): void;
}

/** Batches a worker holds at once, so that it never waits for this thread to hand it the next one. */
const WORKER_DEPTH = 2;

/**
 * Feed batches to a worker thread until the queue is empty; if it fails, its batches go back to the
 * queue. A worker still starting when this thread has taken the last batch is not needed: it is
 * stopped without waiting for it.
 */
export async function onWorker(
  queue: BatchQueue,
  tempPrefix: string,
  thisThread: Promise<void>,
): Promise<void> {
  const { worker, ready } = startCaptureWorker(tempPrefix);
  const inFlight: number[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let started = false;
      const send = () => {
        const start = queue.take();
        if (start === undefined) {
          if (inFlight.length === 0) resolve();
          return;
        }
        inFlight.push(start);
        worker.postMessage(queue.batch(start));
      };
      ready.then(() => {
        started = true;
        worker.on("message", (results: SmallFileOutcome[]) => {
          queue.done(inFlight.shift()!, results);
          send();
        });
        worker.once("error", reject);
        worker.once("exit", () => reject(new Error("capture worker exited")));
        for (let index = 0; index < WORKER_DEPTH; index++) send();
      }, reject);
      thisThread.then(() => {
        if (!started) resolve();
      }, reject);
    });
  } catch {
    // Its files are still captured, on this thread, from scratch: a copy it may have left half-written
    // goes first (only once it has surely stopped).
    await worker.terminate().catch(() => undefined);
    for (const start of inFlight)
      for (const task of queue.batch(start))
        if (task.target !== undefined) rmSync(task.target, { force: true });
    queue.returned.push(...inFlight);
  } finally {
    worker.removeAllListeners();
    // A failure from here on has nobody to tell (and an "error" event without a listener would throw).
    worker.on("error", () => undefined);
    // Nothing is in flight any more (or the worker has failed): no write of its can still be under way.
    worker.terminate().catch(() => undefined);
  }
}
