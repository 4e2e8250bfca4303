/** Byte-stream helpers shared by core and plugins. */
import { Readable } from "node:stream";
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
 * Re-chunk a byte stream into parts of exactly `size` bytes (the last may be shorter), for
 * multipart uploads. Holds at most one part in memory.
 */
export async function* chunkBytes(source: AsyncIterable<Uint8Array>, size: number): AsyncIterable<Uint8Array> {
  let buffer = new Uint8Array(size);
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
        buffer = new Uint8Array(size);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield buffer.subarray(0, filled);
}
