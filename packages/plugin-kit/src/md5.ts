/**
 * MD5 on a second thread. Hashing is the one CPU-heavy step of a large transfer, and on the event
 * loop it runs one after another with receiving and sending; on a worker it runs beside them. Bytes
 * are copied to the worker (a memcpy costs a small fraction of hashing them), so callers keep their
 * buffers. With a single CPU, or for small inputs, hashing stays on the calling thread.
 *
 * One worker serves the process, started on first use; it holds the process open only while a hash
 * is pending. It runs from source text (`eval`): loading a module file would start the ES module loader
 * (and, from ferry's TypeScript source, the type stripper) — tens of milliseconds before the first hash.
 */
import { createHash, type Hash } from "node:crypto";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";

const WORKER_SOURCE = `// process.getBuiltinModule: the same whether the worker is run as a script or as a module.
const { parentPort } = process.getBuiltinModule("node:worker_threads");
const { createHash } = process.getBuiltinModule("node:crypto");
const open = new Map();
parentPort.on("message", ({ id, op, bytes, encoding, recycle }) => {
  if (op === "drop") return void open.delete(id);
  if (op === "handover") {
    const digest = createHash("md5").update(bytes).digest(encoding);
    return parentPort.postMessage({ id, digest, returned: bytes }, [bytes.buffer]);
  }
  let hash = open.get(id);
  if (!hash) open.set(id, (hash = createHash("md5")));
  if (bytes) hash.update(bytes);
  if (recycle) parentPort.postMessage({ recycled: bytes }, [bytes.buffer]);
  if (op === "digest") {
    open.delete(id);
    parentPort.postMessage({ id, digest: hash.digest(encoding) });
  }
});
`;

/** Inputs smaller than this are hashed on the calling thread: the round trip would cost more. */
const OFF_THREAD_FROM_BYTES = 256 * 1024;
/** Streamed bytes are sent to the worker in batches of about this size. */
const BATCH_BYTES = 1024 * 1024;

type Encoding = "hex" | "base64";
interface WorkerReply {
  id: number;
  digest: string;
  /** A staging buffer the worker has hashed and hands back. */
  recycled?: Uint8Array;
  /** The caller's own bytes, handed over for `md5OfHandover` and back. */
  returned?: Uint8Array;
}
interface Pending {
  resolve: (reply: { digest: string; returned: Uint8Array | undefined }) => void;
  reject: (error: Error) => void;
}

/**
 * Staging buffers the worker has hashed and handed back, for the next batches: a stream of large
 * data then allocates a few of them, not one per MiB (which would keep the garbage collector busy).
 */
const spareStaging: Buffer[] = [];
/** Spare buffers kept while hashes are pending (enough for the parts of an upload in flight)… */
const MAX_SPARE_STAGING = 16;
/** …and once none is: a few MiB, not the peak, stay allocated between transfers. */
const IDLE_SPARE_STAGING = 4;
const stagingBuffer = () => spareStaging.pop() ?? Buffer.allocUnsafeSlow(BATCH_BYTES);
/** Bytes handed to the worker and not yet handed back. */
let inFlight = 0;
/** `md5Of` hashes on the calling thread while this much is already waiting for the worker. */
const MAX_IN_FLIGHT_BYTES = 8 * 1024 * 1024;
const keepSpare = (buffer: ArrayBufferLike) => {
  if (spareStaging.length < MAX_SPARE_STAGING) spareStaging.push(Buffer.from(buffer));
};

let worker: Worker | undefined;
const pending = new Map<number, Pending>();
let nextId = 0;

function hashWorker(): Worker {
  if (worker) return worker;
  const started = new Worker(WORKER_SOURCE, { eval: true });
  const failAll = (error: Error) => {
    if (worker === started) worker = undefined;
    for (const waiting of pending.values()) waiting.reject(error);
    pending.clear();
    inFlight = 0;
  };
  started.on("message", ({ id, digest, recycled, returned }: WorkerReply) => {
    if (recycled) {
      inFlight -= BATCH_BYTES;
      return keepSpare(recycled.buffer);
    }
    const waiting = pending.get(id);
    pending.delete(id);
    if (pending.size === 0) {
      started.unref();
      spareStaging.length = Math.min(spareStaging.length, IDLE_SPARE_STAGING);
    }
    waiting?.resolve({ digest, returned });
  });
  started.on("error", failAll);
  started.on("exit", (code) => failAll(new Error(`the hashing thread stopped (exit code ${code})`)));
  started.unref();
  worker = started;
  return started;
}

/** The digest of `id`, once the staging buffer `last` (if any) is added; `last` is handed over and back. */
function request(id: number, encoding: Encoding, last: Uint8Array | undefined): Promise<string> {
  const target = hashWorker();
  return new Promise<string>((resolve, reject) => {
    pending.set(id, { resolve: ({ digest }) => resolve(digest), reject });
    target.ref();
    if (last) inFlight += BATCH_BYTES;
    target.postMessage(
      { id, op: "digest", bytes: last, encoding, recycle: last !== undefined },
      last ? [last.buffer as ArrayBuffer] : [],
    );
  });
}

const offThread = () => availableParallelism() > 1;

/** MD5 of `bytes` (a whole part, say), on the second thread when it is worth it. */
export function md5Of(bytes: Uint8Array, encoding: Encoding = "hex"): Promise<string> {
  // A backlog on the worker means it is the bottleneck: hashing here then is faster, and bounds memory.
  if (bytes.byteLength < OFF_THREAD_FROM_BYTES || !offThread() || inFlight >= MAX_IN_FLIGHT_BYTES)
    return Promise.resolve(createHash("md5").update(bytes).digest(encoding));
  const stream = offThreadStream();
  stream.update(bytes);
  return stream.digest(encoding);
}

/**
 * MD5 of `bytes` without copying them: their whole ArrayBuffer is handed to the second thread and
 * back (a multipart upload's part, say, which is waited on anyway before it is sent). `bytes` must not
 * be touched until this settles; use the `bytes` it returns (the same memory, the same view). Small
 * inputs, a single CPU, or bytes sharing their buffer with others are hashed on this thread.
 */
export async function md5OfHandover(
  bytes: Uint8Array,
  encoding: Encoding = "hex",
): Promise<{ digest: string; bytes: Uint8Array }> {
  const ownsBuffer = bytes.buffer instanceof ArrayBuffer && bytes.byteLength * 2 > bytes.buffer.byteLength;
  if (bytes.byteLength < OFF_THREAD_FROM_BYTES || !offThread() || !ownsBuffer)
    return { digest: createHash("md5").update(bytes).digest(encoding), bytes };
  const target = hashWorker();
  nextId += 1;
  const id = nextId;
  const reply = await new Promise<{ digest: string; returned: Uint8Array | undefined }>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    target.ref();
    target.postMessage({ id, op: "handover", bytes, encoding }, [bytes.buffer as ArrayBuffer]);
  });
  return { digest: reply.digest, bytes: reply.returned! };
}

/** An incremental MD5. `digest` ends it; `drop` abandons it (call one of them). */
export interface Md5Stream {
  update(bytes: Uint8Array): void;
  digest(encoding?: Encoding): Promise<string>;
  drop(): void;
}

/**
 * An incremental MD5, on the second thread when `expectedBytes` make it worth it (unknown: on this
 * thread). Bytes are batched before they are sent.
 */
export function md5Stream(expectedBytes?: number): Md5Stream {
  if (expectedBytes === undefined || expectedBytes < OFF_THREAD_FROM_BYTES * 4 || !offThread())
    return localStream(createHash("md5"));
  return offThreadStream();
}

/**
 * Bytes are copied into staging buffers, each handed over to the worker (transferred, not copied)
 * once full and handed back once hashed, so the caller keeps its bytes and, once a few buffers
 * circulate, nothing new is allocated — structured-clone copies would leave garbage in both threads
 * that their collectors only reclaim late, growing the process by the data in flight.
 */
function offThreadStream(): Md5Stream {
  nextId += 1;
  const id = nextId;
  let staging: Buffer | undefined;
  let staged = 0;
  let sent = false;
  const take = (): Uint8Array | undefined => {
    if (!staging || staged === 0) return undefined;
    const full = staging.subarray(0, staged);
    staging = undefined;
    staged = 0;
    return full;
  };
  return {
    update(bytes) {
      for (let offset = 0; offset < bytes.byteLength; ) {
        staging ??= stagingBuffer();
        const piece = Math.min(BATCH_BYTES - staged, bytes.byteLength - offset);
        staging.set(bytes.subarray(offset, offset + piece), staged);
        staged += piece;
        offset += piece;
        if (staged === BATCH_BYTES) {
          const full = take()!;
          sent = true;
          inFlight += BATCH_BYTES;
          hashWorker().postMessage({ id, op: "update", bytes: full, recycle: true }, [
            full.buffer as ArrayBuffer,
          ]);
        }
      }
    },
    digest(encoding = "hex") {
      return request(id, encoding, take());
    },
    drop() {
      const unsent = take();
      if (unsent) keepSpare(unsent.buffer);
      if (sent) worker?.postMessage({ id, op: "drop" });
    },
  };
}

function localStream(hash: Hash): Md5Stream {
  return {
    update: (bytes) => void hash.update(bytes),
    digest: (encoding = "hex") => Promise.resolve(hash.digest(encoding)),
    drop: () => undefined,
  };
}
