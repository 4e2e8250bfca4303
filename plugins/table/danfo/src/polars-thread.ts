/**
 * A danfo frame written by polars, off the calling thread. A danfo frame is a large graph of JS objects
 * (~470 MB for 1M rows × 6 columns), and V8 marks all of it whenever memory outside its heap grows by
 * 64 MiB since its last full collection: polars' own encoding reports that much, so a write on the
 * calling thread paid for marking the whole frame (0.5–1 s of a 1.1–1.4 s write, BENCHMARKS.md).
 * Here the calling thread only copies the frame's values into buffers it reuses from write to write
 * (one SharedArrayBuffer, grown to the largest frame), column after column, and a worker thread of
 * the flavour's own has polars read each column (as Arrow IPC) while the next is filled, encodes the
 * frame once all are in, and sends the parquet bytes back.
 *
 * Small frames (under minBytes of buffers) are encoded here: the round trip would cost more. The
 * worker starts on the first big write, holds the process open only while a job is pending, and is
 * stopped with the buffers after idleMs without a write. `FERRY_TABLE_THREADS=0` keeps every write on
 * the calling thread; wherever no worker can start, writes are done here too: the bytes are the same.
 */
import type { Worker } from "node:worker_threads";
import { startWorker, threadCount } from "@ferry/parquet";
import type { Field } from "@ferry/plugin-kit";
import { encodeJob, type JobColumn, type JobType, type PolarsJob } from "./polars-job.ts";
import { isMissing, LITTLE_ENDIAN, storeWide } from "./values.ts";

/** Tunables and counters, for tests. */
export const polarsThread = {
  /** Bytes of buffers below which a frame is encoded on the calling thread. */
  minBytes: 4 * 1024 * 1024,
  /** Milliseconds without a write after which the worker and the buffers are let go. */
  idleMs: 10_000,
  /** Frames encoded on the worker so far. */
  jobsOffThread: 0,
};

const DAY_MS = 86_400_000;

/**
 * The type polars writes back as exactly `field`, or undefined. Polars writes every column nullable
 * and no ferry schema, so: nullable fields without metadata, and no seconds unit, named timezone,
 * decimal or null column (those go through ferry's own writer).
 */
export function jobType(field: Field): JobType | undefined {
  if (!field.nullable || field.metadata) return undefined;
  const type = field.type;
  switch (type.type) {
    case "bool":
    case "string":
    case "date":
      return { type: type.type };
    case "float":
      return type.bits === 64 || type.bits === 32 ? { type: "float", bits: type.bits } : undefined;
    case "int":
      return { type: "int", bits: type.bits, signed: type.signed };
    case "timestamp":
      if (type.unit === "s" || (type.timezone !== undefined && type.timezone !== "UTC")) return undefined;
      return { type: "timestamp", unit: type.unit, timezone: type.timezone };
    default:
      return undefined;
  }
}

/** Bytes of a column's values: fixed width, packed bits, or (strings) the offsets. */
function valueBytes(type: JobType, rows: number): number {
  if (type.type === "bool") return Math.ceil(rows / 8);
  if (type.type === "string") return 4 * (rows + 1);
  if (type.type === "int" || type.type === "float") return (type.bits / 8) * rows;
  return (type.type === "date" ? 4 : 8) * rows;
}

const align = (n: number) => Math.ceil(n / 8) * 8;

/** UTF-16 units of a text column (its UTF-8 size when ASCII), or undefined when a value is not text. */
function textUnits(values: readonly unknown[]): number | undefined {
  let units = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === "string") units += v.length;
    else if (!isMissing(v, false)) return undefined;
  }
  return units;
}

/** Exact UTF-8 bytes of a text column. */
function textBytes(values: readonly unknown[]): number {
  let bytes = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === "string") bytes += Buffer.byteLength(v);
  }
  return bytes;
}

/** The one buffer every write fills, kept between writes (grown to the largest). */
let pool: SharedArrayBuffer | undefined;

function poolOf(bytes: number): SharedArrayBuffer {
  if (!pool || pool.byteLength < bytes) pool = new SharedArrayBuffer(align(Math.ceil(bytes * 1.125)));
  return pool;
}

/** Where a column's parts go in the pool. */
interface Slot {
  validity: number;
  values: number;
  /** A text column's UTF-8 bytes: at `data` in the pool, or in a buffer of their own. */
  data: number;
  dataBytes: number;
  text?: SharedArrayBuffer;
}

/**
 * Missing values by their validity bits (cleared; every bit set first) and count: a row whose value
 * did not store is missing, or of the wrong kind (-1: the frame goes to ferry's writer, which converts
 * or refuses it with its own message). Each fill loop below stores the values of its own kind and
 * leaves the rest here, one loop per kind so that each stays monomorphic (a shared loop calling a
 * store function per value took ~1.5× as long).
 */
class Misses {
  count = 0;
  readonly validity: Uint8Array;
  readonly float: boolean;
  constructor(validity: Uint8Array, float: boolean) {
    this.validity = validity.fill(0xff);
    this.float = float;
  }
  /** Row `i` did not store: true when it is missing, false when it is of the wrong kind. */
  missing(v: unknown, i: number): boolean {
    if (!isMissing(v, this.float)) return false;
    this.validity[i >> 3]! &= ~(1 << (i & 7));
    this.count++;
    return true;
  }
}

type IntArray = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;

function intView(
  buffer: SharedArrayBuffer,
  at: number,
  rows: number,
  bits: 8 | 16 | 32,
  signed: boolean,
): IntArray {
  if (bits === 8) return signed ? new Int8Array(buffer, at, rows) : new Uint8Array(buffer, at, rows);
  if (bits === 16) return signed ? new Int16Array(buffer, at, rows) : new Uint16Array(buffer, at, rows);
  return signed ? new Int32Array(buffer, at, rows) : new Uint32Array(buffer, at, rows);
}

function fillInts(values: readonly unknown[], out: IntArray, misses: Misses): boolean {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    out[i] = v as number;
    // Fractions, out of range, NaN and other kinds do not read back.
    if (out[i] !== v && !misses.missing(v, i)) return false;
  }
  return true;
}

/** Safe integers as 64-bit words (`unsigned`: none below 0). */
function fillWide(
  values: readonly unknown[],
  words: Uint32Array,
  unsigned: boolean,
  misses: Misses,
): boolean {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === "number" && Number.isSafeInteger(v) && !(unsigned && v < 0)) storeWide(words, i, v);
    else if (!misses.missing(v, i)) return false;
  }
  return true;
}

function fillFloats(values: readonly unknown[], out: Float32Array | Float64Array, misses: Misses): boolean {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === "number") out[i] = v;
    else if (!misses.missing(v, i)) return false;
  }
  return true;
}

function fillBits(values: readonly unknown[], bits: Uint8Array, misses: Misses): boolean {
  bits.fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === true) bits[i >> 3]! |= 1 << (i & 7);
    else if (v !== false && !misses.missing(v, i)) return false;
  }
  return true;
}

/** Dates at midnight UTC as days; any other Date goes to ferry's writer. */
function fillDays(values: readonly unknown[], days: Int32Array, misses: Misses): boolean {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const ms = v instanceof Date ? v.getTime() : Number.NaN;
    if (ms % DAY_MS === 0) days[i] = ms / DAY_MS;
    else if (!misses.missing(v, i)) return false;
  }
  return true;
}

/** Dates as epoch milliseconds in 64-bit words. */
function fillMillis(values: readonly unknown[], words: Uint32Array, misses: Misses): boolean {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const ms = v instanceof Date ? v.getTime() : Number.NaN;
    if (!Number.isNaN(ms)) storeWide(words, i, ms);
    else if (!misses.missing(v, i)) return false;
  }
  return true;
}

/**
 * Text as UTF-8 behind offsets (a missing value is an empty slice); false also when it needs more
 * than `room` bytes, which `roomy` then says.
 */
function fillText(
  values: readonly unknown[],
  offsets: Int32Array,
  text: Buffer,
  misses: Misses,
): { bytes: number; roomy: boolean } | undefined {
  const room = text.byteLength;
  let at = 0;
  offsets[0] = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === "string") {
      // UTF-8 takes at most 3 bytes per UTF-16 unit: measured only near the end of the room.
      if (at + 3 * v.length > room && at + Buffer.byteLength(v) > room) return { bytes: at, roomy: false };
      at += text.write(v, at);
    } else if (!misses.missing(v, i)) return undefined;
    offsets[i + 1] = at;
  }
  return { bytes: at, roomy: true };
}

/** One column's values into its slot: its job column, or undefined (a value of the wrong kind, text grown past its room). */
function fillColumn(
  buffer: SharedArrayBuffer,
  rows: number,
  field: Field,
  type: JobType,
  values: readonly unknown[],
  slot: Slot,
): JobColumn | undefined {
  const misses = new Misses(
    new Uint8Array(buffer, slot.validity, Math.ceil(rows / 8)),
    type.type === "float",
  );
  const column = (filled: boolean, parts: Partial<JobColumn>): JobColumn | undefined =>
    filled
      ? {
          name: field.name,
          type,
          nullCount: misses.count,
          validity: misses.count > 0 ? misses.validity : undefined,
          ...parts,
        }
      : undefined;
  const words = () => new Uint32Array(buffer, slot.values, 2 * rows);
  switch (type.type) {
    case "int": {
      if (type.bits === 64) {
        const filled = fillWide(values, words(), !type.signed, misses);
        const wide = type.signed
          ? new BigInt64Array(buffer, slot.values, rows)
          : new BigUint64Array(buffer, slot.values, rows);
        return column(filled, { values: wide });
      }
      const out = intView(buffer, slot.values, rows, type.bits, type.signed);
      return column(fillInts(values, out, misses), { values: out });
    }
    case "float": {
      const out =
        type.bits === 32
          ? new Float32Array(buffer, slot.values, rows)
          : new Float64Array(buffer, slot.values, rows);
      return column(fillFloats(values, out, misses), { values: out });
    }
    case "bool": {
      const bits = new Uint8Array(buffer, slot.values, Math.ceil(rows / 8));
      return column(fillBits(values, bits, misses), { values: bits });
    }
    case "date": {
      const days = new Int32Array(buffer, slot.values, rows);
      return column(fillDays(values, days, misses), { values: days });
    }
    case "timestamp":
      return column(fillMillis(values, words(), misses), {
        values: new BigInt64Array(buffer, slot.values, rows),
      });
    case "string": {
      const offsets = new Int32Array(buffer, slot.values, rows + 1);
      const text = slot.text ?? buffer;
      const filled = fillText(values, offsets, Buffer.from(text, slot.data, slot.dataBytes), misses);
      if (!filled?.roomy) return undefined;
      return column(true, { offsets, data: new Uint8Array(text, slot.data, filled.bytes) });
    }
  }
}

/** Where each column goes in the pool: text gets room for its UTF-16 units (its UTF-8 size when ASCII). */
function layout(
  rows: number,
  types: readonly JobType[],
  units: readonly number[],
): { slots: Slot[]; bytes: number } {
  let bytes = 0;
  const slots = types.map((type, i) => {
    const slot: Slot = { validity: bytes, values: 0, data: 0, dataBytes: units[i]! };
    bytes += align(Math.ceil(rows / 8));
    slot.values = bytes;
    bytes += align(valueBytes(type, rows));
    slot.data = bytes;
    bytes += align(slot.dataBytes);
    return slot;
  });
  return { slots, bytes };
}

/**
 * One column filled into its slot, or undefined (a value of the wrong kind: the frame goes to ferry's
 * writer). Text that needs more room than its UTF-16 units (non-ASCII) is measured and filled again,
 * into a buffer of its own.
 */
function fillOne(
  buffer: SharedArrayBuffer,
  rows: number,
  field: Field,
  type: JobType,
  values: readonly unknown[],
  slot: Slot,
): JobColumn | undefined {
  const column = fillColumn(buffer, rows, field, type, values, slot);
  if (column || type.type !== "string") return column;
  const dataBytes = textBytes(values);
  if (dataBytes >= 2 ** 31) return undefined;
  const text = new SharedArrayBuffer(align(Math.max(dataBytes, 1)));
  return fillColumn(buffer, rows, field, type, values, { ...slot, text, data: 0, dataBytes });
}

/** Where a job's columns go as they are filled: the worker, or a list encoded here at the end. */
interface Sink {
  add(index: number, column: JobColumn): void;
  cancel(): void;
  finish(): Promise<Uint8Array | undefined>;
}

type Reply = { bytes?: Uint8Array; error?: string } | undefined;

interface Thread {
  worker: Worker;
  pending: Map<number, (reply: Reply) => void>;
}

let thread: Thread | undefined;
let nextJob = 0;
let idle: ReturnType<typeof setTimeout> | undefined;
/** Writes take turns: each fills the one pool, which the worker reads until it answers. */
let turn: Promise<unknown> = Promise.resolve();

function workerUrl(): URL {
  const source = import.meta.url.endsWith(".ts");
  return new URL(source ? "./polars-worker.ts" : "./polars-worker.js", import.meta.url);
}

function startThread(): Thread | undefined {
  const worker = startWorker(workerUrl());
  if (!worker) return undefined;
  const started: Thread = { worker, pending: new Map() };
  worker.on("message", (message: { ready?: true; id?: number; bytes?: Uint8Array; error?: string }) => {
    if (message.ready) return;
    const done = started.pending.get(message.id!);
    started.pending.delete(message.id!);
    if (started.pending.size === 0) worker.unref();
    done?.(message);
  });
  // A worker that cannot start or dies: its job is done on the calling thread instead.
  const retire = () => {
    if (thread === started) thread = undefined;
    for (const done of started.pending.values()) done(undefined);
    started.pending.clear();
  };
  worker.on("error", retire);
  worker.on("exit", retire);
  worker.unref();
  return started;
}

/** Let the worker and the pool go once no write has come for idleMs. */
function scheduleIdle(): void {
  if (idle) clearTimeout(idle);
  idle = setTimeout(() => {
    idle = undefined;
    pool = undefined;
    const stopping = thread;
    thread = undefined;
    void stopping?.worker.terminate();
  }, polarsThread.idleMs);
  idle.unref();
}

/** The whole job encoded on this thread, or undefined when polars refused it. */
function encodeHere(rows: number, columns: JobColumn[], compression: PolarsJob["compression"]) {
  return encodeJob({ rows, compression, columns }).catch(() => undefined);
}

/**
 * Columns sent to the worker as they are filled (it turns each into a polars Series while the next is
 * filled here), the job encoded there once all are in. The columns are kept here too: if the worker
 * dies, the job is encoded here from the same buffers.
 */
function workerSink(running: Thread, rows: number, compression: PolarsJob["compression"]): Sink {
  const id = nextJob++;
  const columns: JobColumn[] = [];
  const answer = new Promise<Reply>((resolve) => running.pending.set(id, resolve));
  running.worker.ref();
  return {
    add(index, column) {
      columns[index] = column;
      running.worker.postMessage({ id, index, rows, column });
    },
    cancel() {
      running.worker.postMessage({ id, cancel: true });
      running.pending.get(id)?.(undefined);
      running.pending.delete(id);
      if (running.pending.size === 0) running.worker.unref();
    },
    async finish() {
      const types = columns.map(({ name, type }) => ({ name, type }));
      running.worker.postMessage({ id, done: true, columns: types, compression });
      const reply = await answer;
      if (reply?.bytes) {
        polarsThread.jobsOffThread++;
        return reply.bytes;
      }
      if (reply?.error !== undefined) return undefined;
      return encodeHere(rows, columns, compression);
    },
  };
}

function localSink(rows: number, compression: PolarsJob["compression"]): Sink {
  const columns: JobColumn[] = [];
  return {
    add: (index, column) => {
      columns[index] = column;
    },
    cancel: () => undefined,
    finish: () => encodeHere(rows, columns, compression),
  };
}

/** The frame's columns filled into the pool one by one and handed to `sink`; undefined when one does not fill. */
function fillAll(
  rows: number,
  fields: readonly Field[],
  types: readonly JobType[],
  raw: Record<string, readonly unknown[]>,
  { slots, bytes }: { slots: Slot[]; bytes: number },
  sink: Sink,
): Promise<Uint8Array | undefined> {
  try {
    const buffer = poolOf(bytes);
    for (const [i, field] of fields.entries()) {
      const column = fillOne(buffer, rows, field, types[i]!, raw[field.name]!, slots[i]!);
      if (!column) {
        sink.cancel();
        return Promise.resolve(undefined);
      }
      sink.add(i, column);
    }
  } catch (error) {
    // A value that throws as it is read (a user's own Date subclass): the job is let go, so that the
    // worker holds nothing open, and the write fails with that error.
    sink.cancel();
    throw error;
  }
  return sink.finish();
}

/**
 * A danfo frame's columns (`raw`, by field) encoded by polars: off the calling thread when it is big,
 * else here. Undefined when polars cannot write them exactly (a type it would change, a value of the
 * wrong kind, a value it refuses): then ferry's own writer does, converting or refusing with its message.
 */
export async function encodeWithPolarsThread(
  rows: number,
  fields: readonly Field[],
  raw: Record<string, readonly unknown[]>,
  compression: PolarsJob["compression"],
): Promise<Uint8Array | undefined> {
  const types = fields.map(jobType);
  // 64-bit columns are stored as little-endian words (every platform Node runs on today).
  if (!LITTLE_ENDIAN || types.some((type) => type === undefined)) return undefined;
  const mine = turn.then(async () => {
    if (idle) clearTimeout(idle);
    try {
      const units: number[] = [];
      for (const [i, field] of fields.entries()) {
        const text = types[i]!.type === "string" ? textUnits(raw[field.name]!) : 0;
        if (text === undefined) return undefined;
        units.push(text);
      }
      const planned = layout(rows, types as JobType[], units);
      if (planned.bytes >= 2 ** 31) return undefined;
      const offThread = planned.bytes >= polarsThread.minBytes && threadCount() > 0;
      if (offThread) thread ??= startThread();
      const sink = offThread && thread ? workerSink(thread, rows, compression) : localSink(rows, compression);
      return await fillAll(rows, fields, types as JobType[], raw, planned, sink);
    } finally {
      scheduleIdle();
    }
  });
  turn = mine.catch(() => undefined);
  return mine;
}

/** Stop the worker and drop the pool now (tests; a later big write starts them again). */
export async function stopPolarsThread(): Promise<void> {
  if (idle) clearTimeout(idle);
  idle = undefined;
  pool = undefined;
  const stopping = thread;
  thread = undefined;
  await stopping?.worker.terminate();
}
