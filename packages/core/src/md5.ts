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
interface Pending {
  resolve: (digest: string) => void;
  reject: (error: Error) => void;
}

/**
 * Staging buffers the worker has hashed and handed back, for the next batches: a stream of large
 * data then allocates a few of them, not one per MiB (which would keep the garbage collector busy).
 */
const spareStaging: Buffer[] = [];
const MAX_SPARE_STAGING = 8;
const stagingBuffer = () => spareStaging.pop() ?? Buffer.allocUnsafeSlow(BATCH_BYTES);

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
  };
  started.on("message", ({ id, digest, recycled }: { id: number; digest: string; recycled?: Buffer }) => {
    if (recycled) {
      if (spareStaging.length < MAX_SPARE_STAGING) spareStaging.push(Buffer.from(recycled.buffer));
      return;
    }
    const waiting = pending.get(id);
    pending.delete(id);
    if (pending.size === 0) started.unref();
    waiting?.resolve(digest);
  });
  started.on("error", failAll);
  started.on("exit", (code) => failAll(new Error(`the hashing thread stopped (exit code ${code})`)));
  started.unref();
  worker = started;
  return started;
}

/** The digest of `id` once `bytes` are added; `staged`: they are a staging buffer to hand over and back. */
function request(
  id: number,
  encoding: Encoding,
  bytes: Uint8Array | undefined,
  staged = false,
): Promise<string> {
  const target = hashWorker();
  return new Promise<string>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    target.ref();
    target.postMessage(
      { id, op: "digest", bytes, encoding, recycle: staged && bytes !== undefined },
      staged && bytes ? [bytes.buffer as ArrayBuffer] : [],
    );
  });
}

const offThread = () => availableParallelism() > 1;

/** MD5 of `bytes` (a whole part, say), on the second thread when it is worth it. */
export function md5Of(bytes: Uint8Array, encoding: Encoding = "hex"): Promise<string> {
  if (bytes.byteLength < OFF_THREAD_FROM_BYTES || !offThread())
    return Promise.resolve(createHash("md5").update(bytes).digest(encoding));
  nextId += 1;
  return request(nextId, encoding, bytes);
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
  nextId += 1;
  const id = nextId;
  // Small chunks are copied into a staging buffer, which is handed over (transferred, not copied)
  // once full; large chunks are copied by postMessage itself. Either way the caller keeps its bytes.
  let staging = stagingBuffer();
  let staged = 0;
  let sent = false;
  const flush = (last = false): Uint8Array | undefined => {
    if (staged === 0) return undefined;
    const full = staging.subarray(0, staged);
    if (!last) staging = stagingBuffer();
    staged = 0;
    return full;
  };
  /** `staged`: a staging buffer, handed over and then back once hashed; otherwise the bytes are copied. */
  const post = (bytes: Uint8Array, staged: boolean) => {
    sent = true;
    hashWorker().postMessage(
      { id, op: "update", bytes, recycle: staged },
      staged ? [bytes.buffer as ArrayBuffer] : [],
    );
  };
  return {
    update(bytes) {
      if (bytes.byteLength >= BATCH_BYTES) {
        const before = flush();
        if (before) post(before, true);
        post(bytes, false);
        return;
      }
      if (staged + bytes.byteLength > BATCH_BYTES) post(flush()!, true);
      staging.set(bytes, staged);
      staged += bytes.byteLength;
    },
    digest(encoding = "hex") {
      return request(id, encoding, flush(true), true);
    },
    drop() {
      staged = 0;
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
