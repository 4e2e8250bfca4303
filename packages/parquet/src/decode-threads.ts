/**
 * Column chunks decoded on worker threads. Decompressing and decoding pages is the CPU-heavy step of a
 * table read; on the calling thread it runs one chunk after another, while the machine's other cores
 * idle. Here a row group's chunks are split between a few workers (by their compressed size), each
 * given a copy of its chunks' bytes and handing the decoded buffers back without a copy (transferred).
 * The next row group is fetched meanwhile, and the caller turns the last one into values or Arrow.
 *
 * The workers start once a process has decoded a few big row groups (startAfterBytes), one per core up
 * to MAX_THREADS, and run decode-worker.ts; until one is ready, and wherever none can start (a bundled script without the
 * worker's file, a worker that crashed), chunks are decoded on the calling thread: the answer is the
 * same either way. They hold the process open only while a decode is pending.
 * `FERRY_DECODE_THREADS=0` keeps every decode on the calling thread; `=n` uses n workers.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { ColumnVector, DataType } from "@ferry/plugin-kit";
import type { ColumnChunk, SchemaElement } from "hyparquet";

/** One column chunk of a job: where it is in the job's bytes, and what the decoder needs to know. */
export interface DecodeTask {
  name: string;
  start: number;
  end: number;
  meta: Pick<NonNullable<ColumnChunk["meta_data"]>, "type" | "codec" | "total_uncompressed_size">;
  element: SchemaElement;
  type: DataType;
  nullable: boolean;
}

export interface DecodeJob {
  bytes: Uint8Array;
  rows: number;
  maxPageExpansion: number;
  tasks: DecodeTask[];
}

/** A failure as it crosses threads: its message, a FerryError's code, whether a decompression limit. */
export interface WireError {
  message: string;
  code?: string | undefined;
  limit?: boolean | undefined;
}

/** What became of one task (a worker's error is a WireError; one on this thread, what was thrown). */
export type Outcome =
  | { name: string; column: ColumnVector }
  | { name: string; notColumnar: true }
  | { name: string; error: unknown };

/** More workers than this do not pay: the calling thread has to keep up with what they decode. */
const MAX_THREADS = 4;

/** Tunables and counters, for tests (which decode small tables on workers too). */
export const decodeThreads = {
  /** Compressed bytes below which a job stays on the calling thread (the round trip would cost more). */
  minBytes: 256 * 1024,
  /**
   * Workers start once a process has decoded this many compressed bytes of big jobs here: a short
   * read (a CLI's head, a small table) never pays for starting them; a long one has them soon.
   */
  startAfterBytes: 16 * 1024 * 1024,
  /** Jobs decoded on a worker so far. */
  jobsOffThread: 0,
};

/** Workers to use: FERRY_DECODE_THREADS, else one per core (none on a single core). */
function threadCount(): number {
  const setting = process.env.FERRY_DECODE_THREADS;
  if (setting !== undefined && setting !== "") {
    const n = Number(setting);
    if (Number.isInteger(n) && n >= 0) return Math.min(n, 16);
  }
  const cores = availableParallelism();
  return cores > 1 ? Math.min(cores, MAX_THREADS) : 0;
}

/** A worker's answer: the outcomes, and the job's bytes handed back. */
export interface Reply {
  outcomes: Outcome[];
  bytes: Uint8Array;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  pending: Map<number, (reply: Reply | undefined) => void>;
}

let slots: Slot[] | undefined;
let nextId = 0;
/** Compressed bytes of big jobs decoded here before the workers started. */
let decodedHere = 0;

/** The worker's module beside this one: .ts when ferry runs from its sources, .js when built. */
function workerUrl(): URL {
  const source = import.meta.url.endsWith(".ts");
  return new URL(source ? "./decode-worker.ts" : "./decode-worker.js", import.meta.url);
}

function startWorkers(count: number): Slot[] {
  const url = workerUrl();
  // From the sources, the worker resolves ferry's packages to their sources as this thread does.
  const execArgv = url.pathname.endsWith(".ts")
    ? [...process.execArgv, "--conditions=@ferry/source"]
    : process.execArgv;
  const started: Slot[] = [];
  for (let i = 0; i < count; i++) {
    let worker: Worker;
    try {
      worker = new Worker(url, { execArgv });
    } catch {
      break;
    }
    const slot: Slot = { worker, ready: false, pending: new Map() };
    worker.on("message", (message: { ready?: true; id?: number; reply?: Reply }) => {
      if (message.ready) {
        slot.ready = true;
        return;
      }
      const done = slot.pending.get(message.id!);
      slot.pending.delete(message.id!);
      if (slot.pending.size === 0) worker.unref();
      done?.(message.reply);
    });
    // A worker that cannot start or dies: its jobs are decoded on the calling thread instead.
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
export async function decodeThreadsReady(): Promise<number> {
  slots ??= startWorkers(threadCount());
  const waiting = slots.map(
    (slot) =>
      new Promise<void>((resolve) => {
        if (slot.ready) return resolve();
        slot.worker.once("message", () => resolve());
        slot.worker.once("exit", () => resolve());
      }),
  );
  await Promise.all(waiting);
  return (slots ?? []).filter((s) => s.ready).length;
}

/** Stop the workers (jobs pending on them are decoded on the calling thread); the next big read starts new ones. */
export async function stopDecodeThreads(): Promise<void> {
  const stopping = slots ?? [];
  slots = undefined;
  await Promise.all(stopping.map((slot) => slot.worker.terminate()));
}

/** Workers ready for a job of `bytes` compressed bytes (0: decode it here). */
export function threadsFor(bytes: number): number {
  if (bytes < decodeThreads.minBytes) return 0;
  if (!slots) {
    decodedHere += bytes;
    if (decodedHere < decodeThreads.startAfterBytes) return 0;
    slots = startWorkers(threadCount());
  }
  return slots.filter((s) => s.ready).length;
}

/**
 * `job` decoded on the least busy ready worker; undefined when none is ready or it failed (then the
 * caller decodes it itself). `job.bytes`' buffer is handed over, and back with the reply: the caller
 * must not touch it meanwhile, and has lost it when the answer is undefined.
 */
export function decodeOffThread(job: DecodeJob): Promise<Reply | undefined> {
  const ready = (slots ?? []).filter((s) => s.ready);
  if (ready.length === 0) return Promise.resolve(undefined);
  const slot = ready.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
  const id = nextId++;
  return new Promise((resolve) => {
    slot.pending.set(id, (reply) => {
      if (reply) decodeThreads.jobsOffThread++;
      resolve(reply);
    });
    slot.worker.ref();
    slot.worker.postMessage({ id, job }, [job.bytes.buffer as ArrayBuffer]);
  });
}

/** The buffers of a reply, each once (to hand them back without copying). */
export function transferables({ outcomes, bytes }: Reply): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>([bytes.buffer as ArrayBuffer]);
  for (const outcome of outcomes) {
    if (!("column" in outcome)) continue;
    const column = outcome.column;
    const views = [column.validity, "values" in column ? column.values : undefined];
    if (column.kind === "bytes") views.push(column.offsets, column.data);
    for (const view of views)
      if (view && ArrayBuffer.isView(view) && view.buffer instanceof ArrayBuffer) buffers.add(view.buffer);
  }
  return [...buffers];
}
