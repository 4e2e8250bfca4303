/**
 * Parquet encoded and decoded on worker threads. Decompressing and decoding pages (reads), and
 * encoding, compressing and measuring them (writes), are the CPU-heavy steps of table work; on the
 * calling thread they run one column chunk after another while the machine's other cores idle. Here
 * a job — a row group's fetched bytes to decode, a column chunk to encode — goes to the least busy
 * worker, its buffers handed over and back without a copy (transferred), while the calling thread
 * fetches, converts and writes.
 *
 * The workers start once a process has done some big jobs (startAfterBytes), one per core but one up
 * to MAX_THREADS, and run codec-worker.ts; until one is ready, and wherever none can start (a bundled
 * script without the worker's file, a worker that crashed), jobs run on the calling thread: the
 * answer is the same either way. They hold the process open only while a job is pending.
 * `FERRY_TABLE_THREADS=0` keeps every job on the calling thread; `=n` uses n workers.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { errors } from "@ferry/plugin-kit";

/** More workers than this do not pay: the calling thread has to keep up with them. */
const MAX_THREADS = 4;

/** Tunables and counters, for tests (which send small jobs to the workers too). */
export const codecThreads = {
  /** Bytes below which a job stays on the calling thread (the round trip would cost more). */
  minBytes: 256 * 1024,
  /**
   * Workers start once a process has done this many bytes of big jobs here: a short read or write
   * (a CLI's head, a small table) never pays for starting them; a long one has them soon.
   */
  startAfterBytes: 16 * 1024 * 1024,
  /** Jobs done on a worker so far. */
  jobsOffThread: 0,
  /** Whether the calling thread takes encode jobs while every worker is busy (shareHere). */
  share: true,
  /** Encode jobs the calling thread took that way so far. */
  jobsShared: 0,
};

/**
 * Workers to use: FERRY_TABLE_THREADS, else one per core but one, left to the calling thread (it fetches,
 * converts, assembles and collects garbage; on two cores a second worker slowed reads in a process
 * holding a large heap, BENCHMARKS.md) — none on a single core.
 */
export function threadCount(): number {
  const setting = process.env.FERRY_TABLE_THREADS?.trim();
  if (setting === undefined || setting === "") return Math.min(availableParallelism() - 1, MAX_THREADS);
  const n = Number(setting);
  if (!/^\d+$/.test(setting) || n > 64)
    throw errors.invalidInput(
      `FERRY_TABLE_THREADS must be a number of worker threads from 0 to 64 (0 keeps table work on the calling thread), got ${JSON.stringify(process.env.FERRY_TABLE_THREADS)}`,
    );
  return n;
}

/** What a worker does: decode a row group's chunks, or encode one column chunk. */
export type JobKind = "decode" | "encode";

interface Slot {
  worker: Worker;
  ready: boolean;
  pending: Map<number, (reply: unknown) => void>;
}

let slots: Slot[] | undefined;
let nextId = 0;
/** Bytes of big jobs done here before the workers started. */
let doneHere = 0;

/** The worker's module beside this one: .ts when ferry runs from its sources, .js when built. */
function workerUrl(): URL {
  const source = import.meta.url.endsWith(".ts");
  return new URL(source ? "./codec-worker.ts" : "./codec-worker.js", import.meta.url);
}

const SOURCE_CONDITION = "--conditions=@ferry/source";

/**
 * The Node options a worker starts with: the process's own (inherited), and from the sources the
 * condition that resolves ferry's packages to them, when the process was not started with it (a test
 * runner resolves it itself). Node refuses V8 options in a worker's explicit options
 * (`--max-old-space-size`, `--expose-gc`: ERR_WORKER_INVALID_EXEC_ARGV) though a worker inherits
 * them: so the condition is added to the process's options, and when Node refuses that list, to its
 * module-resolution options alone.
 */
function workerOptions(url: URL, strict: boolean): { execArgv?: string[] } {
  const parent = process.execArgv;
  if (!url.pathname.endsWith(".ts") || parent.includes(SOURCE_CONDITION)) return {};
  if (!strict) return { execArgv: [...parent, SOURCE_CONDITION] };
  const resolution = parent.filter((option) => /^--(conditions|import|require|loader)=/.test(option));
  return { execArgv: [...resolution, SOURCE_CONDITION] };
}

/**
 * A worker running `url` with the options above, or undefined when none can start here (plugins with
 * worker threads of their own start them through this too).
 */
export function startWorker(url: URL): Worker | undefined {
  try {
    return new Worker(url, workerOptions(url, false));
  } catch (error) {
    if ((error as { code?: string }).code !== "ERR_WORKER_INVALID_EXEC_ARGV") return undefined;
  }
  try {
    return new Worker(url, workerOptions(url, true));
  } catch {
    return undefined;
  }
}

function startWorkers(count: number): Slot[] {
  const url = workerUrl();
  const started: Slot[] = [];
  for (let i = 0; i < count; i++) {
    const worker = startWorker(url);
    if (!worker) break;
    const slot: Slot = { worker, ready: false, pending: new Map() };
    worker.on("message", (message: { ready?: true; id?: number; reply?: unknown }) => {
      if (message.ready) {
        slot.ready = true;
        return;
      }
      const done = slot.pending.get(message.id!);
      slot.pending.delete(message.id!);
      if (slot.pending.size === 0) worker.unref();
      done?.(message.reply);
    });
    // A worker that cannot start or dies: its jobs are done on the calling thread instead.
    const retire = () => {
      slot.ready = false;
      if (slots) slots = slots.filter((s) => s !== slot);
      for (const done of slot.pending.values()) done(undefined);
      slot.pending.clear();
    };
    worker.on("error", retire);
    worker.on("exit", retire);
    worker.unref();
    started.push(slot);
  }
  return started;
}

/** Start the workers if they are not, and wait until they are ready (for tests): how many are. */
export async function codecThreadsReady(): Promise<number> {
  slots ??= startWorkers(threadCount());
  const waiting = slots.map(
    (slot) =>
      new Promise<void>((resolve) => {
        if (slot.ready) return resolve();
        // Held open while it starts: waiting on it alone must not let the process end first.
        slot.worker.ref();
        const started = () => {
          if (slot.pending.size === 0) slot.worker.unref();
          resolve();
        };
        slot.worker.once("message", started);
        slot.worker.once("exit", started);
      }),
  );
  await Promise.all(waiting);
  return (slots ?? []).filter((s) => s.ready).length;
}

/** Stop the workers (jobs pending on them are done on the calling thread); later big jobs start new ones. */
export async function stopCodecThreads(): Promise<void> {
  const stopping = slots ?? [];
  slots = undefined;
  await Promise.all(stopping.map((slot) => slot.worker.terminate()));
}

/** Whether a job of `bytes` can go to a worker now (false: do it here). */
export function offThreadFor(bytes: number): boolean {
  if (bytes < codecThreads.minBytes) return false;
  if (!slots) {
    // Read on every big job until the workers start: a mistyped setting is reported at once.
    const count = threadCount();
    doneHere += bytes;
    if (doneHere < codecThreads.startAfterBytes) return false;
    slots = startWorkers(count);
  }
  return slots.some((s) => s.ready);
}

/** Encode jobs sent to workers and kept here while they were busy (sharing, below). */
let sentOff = 0;
let keptHere = 0;

/**
 * Whether a job that could go to a worker is better done here: when every ready worker already has
 * one pending, and this thread has taken fewer such jobs than each worker was sent. For writes, where
 * the calling thread would otherwise wait idle while one worker on two cores encodes every chunk (a
 * write from Arrow of 1M × 6 took as long with one worker as with none, BENCHMARKS.md); the answer is
 * the same wherever a job runs.
 */
export function shareHere(): boolean {
  if (!codecThreads.share) return false;
  const ready = (slots ?? []).filter((s) => s.ready);
  if (ready.length === 0 || ready.some((s) => s.pending.size === 0)) return false;
  if (keptHere * ready.length >= sentOff) return false;
  keptHere++;
  codecThreads.jobsShared++;
  return true;
}

/**
 * `job` done on the least busy ready worker; undefined when none is ready or it failed (then the
 * caller does it itself). The buffers in `transfer` are handed over: the caller must not touch them
 * again (a decode job's bytes come back with its reply).
 */
export function runOffThread<R>(
  kind: JobKind,
  job: unknown,
  transfer: ArrayBuffer[],
): Promise<R | undefined> {
  const ready = (slots ?? []).filter((s) => s.ready);
  if (ready.length === 0) return Promise.resolve(undefined);
  const slot = ready.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
  const id = nextId++;
  if (kind === "encode") sentOff++;
  return new Promise((resolve) => {
    slot.pending.set(id, (reply) => {
      if (reply) codecThreads.jobsOffThread++;
      resolve(reply as R | undefined);
    });
    slot.worker.ref();
    slot.worker.postMessage({ id, kind, job }, transfer);
  });
}

/** The distinct ArrayBuffers under these views (to hand them over without copying). */
export function buffersOf(views: readonly (ArrayBufferView | undefined)[]): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const view of views) if (view && view.buffer instanceof ArrayBuffer) buffers.add(view.buffer);
  return [...buffers];
}
