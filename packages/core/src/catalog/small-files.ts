/**
 * Small local files captured in synchronous batches (see capturer.ts), on this thread and, for many
 * files, on a worker thread beside it; copies into a local catalog are staged and moved into place
 * together (local/staged-tree.ts).
 */
import { availableParallelism } from "node:os";
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

function aborted(): SmallFileOutcome {
  return { kind: "failed", message: "operation aborted", code: "ABORT_ERR" };
}
