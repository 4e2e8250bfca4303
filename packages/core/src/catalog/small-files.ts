/**
 * Small local files captured in synchronous batches: open, fstat, read, MD5 and (for a catalog on
 * local disk) temp file + rename, with no promise or thread-pool round trip per file. For thousands
 * of small files those round trips cost more than the I/O itself. Only Node built-ins are imported,
 * so that a worker thread can run the same code (see capture-worker.ts).
 */
import { hash, randomBytes } from "node:crypto";
import { closeSync, fstatSync, mkdirSync, openSync, readSync, renameSync, rmSync, writeSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename, dirname, extname, join } from "node:path";
import { setImmediate } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";

/** Files up to this size are read in one call (bounded memory: one buffer of this size per thread). */
export const SMALL_FILE_BYTES = 1024 * 1024;

export interface SmallFileTask {
  /** Absolute path of the file to capture. */
  source: string;
  /**
   * Absolute path of its copy inside a staging folder (see StagedCopies), written in place: the folder
   * is moved into the catalog as a whole. Absent for hash-only capture.
   */
  target?: string | undefined;
}

export type SmallFileOutcome =
  | { kind: "done"; md5: string; size: number; startedAt: number; durationMs: number }
  /** Larger than SMALL_FILE_BYTES: left to the streaming path. */
  | { kind: "large" }
  | { kind: "failed"; message: string; code?: string | undefined };

/** The state one thread keeps across batches: its read buffer and the directories it has made. */
export class SmallFileCapturer {
  readonly #tempPrefix: string;
  readonly #buffer = Buffer.allocUnsafe(SMALL_FILE_BYTES);
  readonly #madeDirectories = new Set<string>();
  #written = 0;

  constructor(tempPrefix: string) {
    // One random token per thread and a counter per file: unique temp names without a random draw per file.
    this.#tempPrefix = `${tempPrefix}${randomBytes(6).toString("hex")}-`;
  }

  captureAll(tasks: readonly SmallFileTask[]): SmallFileOutcome[] {
    return tasks.map((task) => this.capture(task));
  }

  capture(task: SmallFileTask): SmallFileOutcome {
    const startedAt = Date.now();
    try {
      const bytes = this.#read(task.source);
      if (bytes === undefined) return { kind: "large" };
      const md5 = hash("md5", bytes);
      if (task.target !== undefined) {
        try {
          this.#writeNew(task.target, bytes);
        } catch (error) {
          // A half-written copy must not be moved into the catalog with its folder.
          rmSync(task.target, { force: true });
          throw error;
        }
      }
      return { kind: "done", md5, size: bytes.byteLength, startedAt, durationMs: Date.now() - startedAt };
    } catch (error) {
      return failed(error);
    }
  }

  /** The file's bytes (a view of the thread's buffer, valid until the next read), or undefined when large. */
  #read(path: string): Uint8Array | undefined {
    const fd = openSync(path, "r");
    try {
      const { size } = fstatSync(fd);
      if (size > SMALL_FILE_BYTES) return undefined;
      let filled = 0;
      while (filled < size) {
        const read = readSync(fd, this.#buffer, filled, size - filled, filled);
        if (read === 0) break;
        filled += read;
      }
      return this.#buffer.subarray(0, filled);
    } finally {
      closeSync(fd);
    }
  }

  /** Temp file + rename, as the local storage writes: the copy appears under its name only when complete. */
  write(path: string, bytes: Uint8Array): void {
    const temp = join(
      dirname(path),
      `${this.#tempPrefix}${(this.#written++).toString(36)}-${basename(path)}`,
    );
    try {
      this.#writeNew(temp, bytes);
      renameSync(temp, path);
    } catch (error) {
      rmSync(temp, { force: true });
      throw error;
    }
  }

  /** Create `path` (which must not exist) with `bytes`, making its folder first. */
  #writeNew(path: string, bytes: Uint8Array): void {
    const parent = dirname(path);
    if (!this.#madeDirectories.has(parent)) {
      mkdirSync(parent, { recursive: true });
      this.#madeDirectories.add(parent);
    }
    const fd = openSync(path, "wx");
    try {
      let written = 0;
      while (written < bytes.byteLength) written += writeSync(fd, bytes, written, bytes.byteLength - written);
    } finally {
      closeSync(fd);
    }
  }
}

/** Files per batch: large enough to amortise a hand-over, small enough to keep the event loop responsive. */
const BATCH_FILES = 64;
/** Below this many files, starting a second thread costs more than it saves. */
const WORKER_MIN_FILES = 1024;
/** Batches a worker holds at once, so that it never waits for this thread to hand it the next one. */
const WORKER_DEPTH = 2;

interface CaptureOptions {
  tempPrefix: string;
  signal?: AbortSignal | undefined;
}

/**
 * Capture small files in batches, on this thread and (for many files, with more than one CPU) on a
 * worker thread at the same time: both take the next batch from one queue. The worker gets batches
 * only once it has started, and is not waited for if this thread finishes first, so starting it
 * never delays a capture. This thread yields to the event loop between batches so that timers,
 * aborts and the worker's replies get their turn. After an abort the files not yet started are
 * failed as aborted. Outcomes are in the order of `tasks`.
 */
export async function captureSmallFiles(
  tasks: readonly SmallFileTask[],
  options: CaptureOptions,
): Promise<SmallFileOutcome[]> {
  const outcomes: (SmallFileOutcome | undefined)[] = new Array(tasks.length);
  const queue: BatchQueue = {
    returned: [],
    take() {
      if (options.signal?.aborted) return undefined;
      if (this.returned.length > 0) return this.returned.pop();
      if (next >= tasks.length) return undefined;
      const start = next;
      next += BATCH_FILES;
      return start;
    },
    batch: (start) => tasks.slice(start, start + BATCH_FILES),
    done(start, results) {
      results.forEach((outcome, offset) => {
        outcomes[start + offset] = outcome;
      });
    },
  };
  let next = 0;
  const capturer = new SmallFileCapturer(options.tempPrefix);
  const onThisThread = async () => {
    for (let start = queue.take(); start !== undefined; start = queue.take()) {
      queue.done(start, capturer.captureAll(queue.batch(start)));
      await setImmediate();
    }
  };
  const useWorker = tasks.length >= WORKER_MIN_FILES && availableParallelism() > 1;
  const thisThread = onThisThread();
  await Promise.all([thisThread, useWorker ? onWorker(queue, options.tempPrefix, thisThread) : undefined]);
  // Batches a failed worker gave back after this thread had finished.
  await onThisThread();
  return outcomes.map((outcome) => outcome ?? aborted());
}

interface BatchQueue {
  /** Batches handed out but given back (by a worker that failed). */
  returned: number[];
  /** The start of the next batch, or undefined when there is none (or after an abort). */
  take(): number | undefined;
  batch(start: number): SmallFileTask[];
  done(start: number, results: readonly SmallFileOutcome[]): void;
}

/** What the worker posts once it can take batches. */
export const WORKER_READY = "ready";

/**
 * Feed batches to a worker thread until the queue is empty; if it fails, its batches go back to the
 * queue. A worker still starting when this thread has taken the last batch is not needed: it is
 * stopped without waiting for it.
 */
async function onWorker(queue: BatchQueue, tempPrefix: string, thisThread: Promise<void>): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const worker = new Worker(join(dirname(self), `capture-worker${extname(self)}`), {
    workerData: { tempPrefix },
  });
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
      worker.on("message", (message: SmallFileOutcome[] | typeof WORKER_READY) => {
        if (message === WORKER_READY) {
          started = true;
          for (let index = 0; index < WORKER_DEPTH; index++) send();
          return;
        }
        queue.done(inFlight.shift()!, message);
        send();
      });
      worker.once("error", reject);
      worker.once("exit", () => reject(new Error("capture worker exited")));
      thisThread.then(() => {
        if (!started) resolve();
      }, reject);
    });
  } catch {
    // Its files are still captured, on this thread.
    queue.returned.push(...inFlight);
  } finally {
    worker.removeAllListeners();
    // Nothing is in flight any more (or the worker has failed): no write of its can still be under way.
    worker.terminate().catch(() => undefined);
  }
}

/**
 * Copies into a local catalog are written under one temporary folder of the run folder and moved
 * into place when the batch is done: one rename per top-level name instead of one per file (a rename
 * per file costs as much as writing a small file). Each file still appears under its name only
 * complete, and a folder whose name is already taken in the run folder (an earlier step or attempt)
 * is merged file by file, each file replacing its old copy in one rename.
 */
export class StagedCopies {
  readonly folder: string;
  readonly #runDirectory: string;

  constructor(runDirectory: string, tempPrefix: string) {
    this.#runDirectory = runDirectory;
    this.folder = join(runDirectory, `${tempPrefix}${randomBytes(6).toString("hex")}`);
  }

  /** Where the copy of `relative` (a `/`-separated path in the run folder) is written first. */
  stagedPath(relative: string): string {
    return `${this.folder}/${relative}`;
  }

  /** Move the copies that were written into place; a file that cannot be moved gets a failed outcome. */
  publish(relatives: readonly string[], outcomes: SmallFileOutcome[]): void {
    const byTopName = new Map<string, number[]>();
    outcomes.forEach((outcome, index) => {
      if (outcome.kind !== "done") return;
      const top = relatives[index]!.split("/")[0]!;
      const indexes = byTopName.get(top);
      if (indexes) indexes.push(index);
      else byTopName.set(top, [index]);
    });
    try {
      for (const [top, indexes] of byTopName) {
        try {
          renameSync(join(this.folder, top), join(this.#runDirectory, top));
        } catch {
          for (const index of indexes) outcomes[index] = this.#moveOne(relatives[index]!, outcomes[index]!);
        }
      }
    } finally {
      rmSync(this.folder, { recursive: true, force: true });
    }
  }

  #moveOne(relative: string, outcome: SmallFileOutcome): SmallFileOutcome {
    const target = join(this.#runDirectory, ...relative.split("/"));
    try {
      mkdirSync(dirname(target), { recursive: true });
      renameSync(this.stagedPath(relative), target);
      return outcome;
    } catch (error) {
      return failed(error);
    }
  }
}

function failed(error: unknown): SmallFileOutcome {
  return {
    kind: "failed",
    message: error instanceof Error ? error.message : String(error),
    code: (error as { code?: string }).code,
  };
}

function aborted(): SmallFileOutcome {
  return { kind: "failed", message: "operation aborted", code: "ABORT_ERR" };
}
