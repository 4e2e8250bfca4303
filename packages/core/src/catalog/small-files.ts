/**
 * Small local files captured in synchronous batches (see capturer.ts), on this thread and, for many
 * files, on a worker thread beside it; copies into a local catalog are staged and moved into place
 * together.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, renameSync, rmSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { setImmediate } from "node:timers/promises";
import { type BatchQueue, onWorker } from "./capture-worker.ts";
import { SmallFileCapturer, type SmallFileOutcome, type SmallFileTask } from "./capturer.ts";

/** Files per batch: large enough to amortise a hand-over, small enough to keep the event loop responsive. */
const BATCH_FILES = 64;
/** Below this many files, starting a second thread costs more than it saves. */
const WORKER_MIN_FILES = 1024;

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
      return SmallFileCapturer.failed(error);
    }
  }
}

function aborted(): SmallFileOutcome {
  return { kind: "failed", message: "operation aborted", code: "ABORT_ERR" };
}
