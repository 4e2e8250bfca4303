/** Byte-stream helpers shared by core and plugins. */
import { PassThrough, Readable } from "node:stream";
import type { WriteSource } from "./storage.ts";

const encoder = new TextEncoder();

function isAsyncIterable(value: unknown): value is AsyncIterable<Uint8Array> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

function isIterable(value: unknown): value is Iterable<Uint8Array> {
  return typeof value === "object" && value !== null && Symbol.iterator in value;
}

/** Any write source as an async iterable of byte chunks (no copy of the data). */
export function toByteIterable(source: WriteSource): AsyncIterable<Uint8Array> {
  if (typeof source === "string") return once(encoder.encode(source));
  if (source instanceof Uint8Array) return once(source);
  if (isAsyncIterable(source)) return source;
  if (typeof ReadableStream !== "undefined" && source instanceof ReadableStream) {
    return Readable.fromWeb(source as import("node:stream/web").ReadableStream<Uint8Array>);
  }
  if (isIterable(source)) return fromIterable(source);
  throw new TypeError("write source must be bytes, a string, a stream or an iterable of bytes");
}

async function* once(chunk: Uint8Array): AsyncIterable<Uint8Array> {
  yield chunk;
}

async function* fromIterable(iterable: Iterable<Uint8Array>): AsyncIterable<Uint8Array> {
  yield* iterable;
}

/** Collect a stream into one buffer — only for callers who asked for bytes. */
export async function collectBytes(source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of source) {
    const bytes = typeof chunk === "string" ? encoder.encode(chunk) : chunk;
    chunks.push(bytes);
    total += bytes.byteLength;
  }
  return concatBytes(chunks, total);
}

/**
 * Re-chunk a byte stream into parts of exactly `size` bytes (the last may be shorter), for
 * multipart uploads. Holds at most one part in memory. With a `recycler`, the buffers of parts the
 * consumer has handed back are filled again instead of allocating new ones.
 */
export async function* chunkBytes(
  source: AsyncIterable<Uint8Array>,
  size: number,
  recycler?: PartRecycler,
): AsyncIterable<Uint8Array> {
  const fresh = () => recycler?.take(size) ?? new Uint8Array(size);
  let buffer = fresh();
  let filled = 0;
  for await (const chunk of source) {
    let offset = 0;
    while (offset < chunk.byteLength) {
      const take = Math.min(size - filled, chunk.byteLength - offset);
      buffer.set(chunk.subarray(offset, offset + take), filled);
      filled += take;
      offset += take;
      if (filled === size) {
        yield buffer;
        buffer = fresh();
        filled = 0;
      }
    }
  }
  if (filled > 0) yield buffer.subarray(0, filled);
}

/**
 * Spare part buffers for `chunkBytes`. A multipart upload gives each part back once its request
 * has finished with it; the next part is then copied into that memory. Without this, every part is
 * a new multi-MiB allocation and the garbage collector runs a full collection every few parts.
 */
export class PartRecycler {
  readonly #spare: Uint8Array[] = [];
  readonly #keep: number;

  /** Keep at most `keep` spare buffers (the parts in flight at once is the right number). */
  constructor(keep: number) {
    this.#keep = Math.max(0, Math.floor(keep));
  }

  /** A spare buffer of exactly `size` bytes, or undefined when there is none. */
  take(size: number): Uint8Array | undefined {
    const index = this.#spare.findIndex((buffer) => buffer.byteLength === size);
    return index === -1 ? undefined : this.#spare.splice(index, 1)[0];
  }

  /** Hand back a part that nothing will read again. A shortened last part is not kept. */
  give(part: Uint8Array): void {
    if (
      this.#spare.length < this.#keep &&
      part.byteOffset === 0 &&
      part.byteLength === part.buffer.byteLength
    )
      this.#spare.push(part);
  }
}

/**
 * Calls `run` for each item of `source` with at most `concurrency` calls in flight, pulling the next
 * item only when a slot is free: with `chunkBytes` as the source, memory stays bounded by
 * (concurrency + 1) parts. The first failure (of a call or of the source) stops pulling, waits for the
 * calls in flight to settle, and is thrown — so the caller can abort a multipart upload knowing no
 * part is still being sent.
 */
export async function forEachConcurrent<T>(
  source: AsyncIterable<T> | Iterable<T>,
  concurrency: number,
  run: (item: T, index: number) => Promise<void>,
): Promise<void> {
  const limit = Math.max(1, Math.floor(concurrency));
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  let index = 0;
  try {
    for await (const item of source) {
      const task: Promise<void> = run(item, index++)
        .catch((error: unknown) => {
          failure ??= { error };
        })
        .finally(() => inFlight.delete(task));
      inFlight.add(task);
      while (inFlight.size >= limit && failure === undefined) await Promise.race(inFlight);
      if (failure !== undefined) break;
    }
  } catch (error) {
    failure ??= { error };
  }
  await Promise.all(inFlight);
  if (failure !== undefined) throw failure.error;
}

/**
 * Reads up to `limit` bytes of `source` into one buffer. When the source ended within the limit,
 * `rest` is undefined (a single-request upload will do); otherwise `rest` yields the whole stream
 * again — the buffered head first — so a multipart upload loses nothing.
 */
export async function readUpTo(
  source: AsyncIterable<Uint8Array>,
  limit: number,
): Promise<{ head: Uint8Array; rest: AsyncIterable<Uint8Array> | undefined }> {
  const iterator = source[Symbol.asyncIterator]();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const next = await iterator.next();
    if (next.done) return { head: concatBytes(chunks, total), rest: undefined };
    const chunk = next.value;
    if (total + chunk.byteLength > limit) {
      chunks.push(chunk.subarray(0, limit - total));
      const head = concatBytes(chunks, limit);
      const tail = chunk.subarray(limit - total);
      return {
        head,
        rest: (async function* () {
          yield head;
          yield tail;
          for (;;) {
            const more = await iterator.next();
            if (more.done) return;
            yield more.value;
          }
        })(),
      };
    }
    chunks.push(chunk);
    total += chunk.byteLength;
  }
}

function concatBytes(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/**
 * The same bytes as `stream`, with its errors passed through `map` — for a plugin to turn a connection
 * dropped mid-body into a typed FerryError (Transient) instead of a bare socket error. Back-pressure
 * is kept (pipe), and destroying the result destroys the source.
 */
export function mapStreamErrors(stream: Readable, map: (error: unknown) => Error): Readable {
  const mapped = new PassThrough();
  stream.once("error", (error) => mapped.destroy(map(error)));
  mapped.once("close", () => {
    if (!stream.destroyed) stream.destroy();
  });
  stream.pipe(mapped);
  return mapped;
}
