/**
 * A file filled from byte ranges fetched several at once, each written in place at its offset (the
 * way rclone's multi-thread downloads fill a local file). One HTTP stream is often slower than the
 * disk and the network together — per-connection windows over a long link, or a single-threaded
 * server — so a large download runs faster as a few ranged streams.
 *
 * A declared MD5 is checked on a second thread that reads back, in order, the part of the file that
 * is already complete from its start (trailing-hash.ts): the ranges arrive out of order, but the
 * written prefix grows as they finish, so hashing keeps up instead of starting at the end.
 */
import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import type { RangeFetcher } from "@ferry/plugin-kit";
import { errors } from "@ferry/plugin-kit";
import { startTrailingHasher } from "./trailing-hash.ts";

/** Each stream gathers this much before one positioned write (and keeps one write in flight). */
const WRITE_BATCH_BYTES = 1024 * 1024;

export interface RangedFill {
  size: number;
  streams: number;
  chunkSize: number;
  signal: AbortSignal | undefined;
  /** Hash the file as it fills: the result is its MD5 (lower-case hex). */
  md5: boolean;
}

/** Fill `tempPath` (which must not exist) from ranges of `fetch`. Returns the MD5 when asked for. */
export async function fillFromRanges(
  tempPath: string,
  fetch: RangeFetcher,
  fill: RangedFill,
): Promise<string | undefined> {
  const { size, chunkSize } = fill;
  const chunkCount = Math.ceil(size / chunkSize);
  const handle = await open(tempPath, "wx");
  const hasher = fill.md5 && size > 0 ? startTrailingHasher(tempPath) : undefined;
  // The first failure (or the caller's abort) stops every other range before the file is closed.
  const stop = new AbortController();
  const stopAll = () => stop.abort(fill.signal?.reason);
  fill.signal?.addEventListener("abort", stopAll, { once: true });
  if (fill.signal?.aborted) stopAll();

  const written = new Array<number>(chunkCount).fill(0);
  let complete = 0; // chunks complete from the start of the file
  const lengthOf = (index: number) => Math.min(chunkSize, size - index * chunkSize);
  const advance = () => {
    while (complete < chunkCount && written[complete] === lengthOf(complete)) complete += 1;
    const prefix = complete * chunkSize + (complete < chunkCount ? written[complete]! : 0);
    hasher?.advance(Math.min(prefix, size));
  };

  let next = 0;
  const stream = async () => {
    while (next < chunkCount) {
      stop.signal.throwIfAborted();
      const index = next++;
      const offset = index * chunkSize;
      const body = await fetch({ offset, length: lengthOf(index) }, { signal: stop.signal });
      await writeAt(handle, body, offset, (bytes) => {
        written[index]! += bytes;
        advance();
      });
    }
  };
  try {
    const results = await Promise.allSettled(
      Array.from({ length: Math.min(fill.streams, chunkCount) }, () =>
        stream().catch((error: unknown) => {
          stop.abort(error);
          throw error;
        }),
      ),
    );
    const failed = results.find((result) => result.status === "rejected");
    if (fill.signal?.aborted) throw abortError(fill.signal, tempPath);
    if (failed) throw failed.reason;
    await handle.close();
    return hasher ? await hasher.finish(size) : fill.md5 ? EMPTY_MD5 : undefined;
  } catch (error) {
    await hasher?.stop();
    await handle.close().catch(() => undefined);
    throw error;
  } finally {
    fill.signal?.removeEventListener("abort", stopAll);
  }
}

const EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e";

function abortError(signal: AbortSignal, path: string) {
  return errors.aborted(`write of ${path} aborted`, { system: "file", path, cause: signal.reason });
}

/** Write a stream's bytes at `position` onwards in batches, one positioned write in flight at a time. */
async function writeAt(
  handle: FileHandle,
  body: AsyncIterable<Uint8Array>,
  position: number,
  onWritten: (bytes: number) => void,
): Promise<void> {
  let batch: Uint8Array[] = [];
  let batchBytes = 0;
  let at = position;
  let pending: Promise<void> | undefined;
  const flush = async () => {
    await pending;
    const buffers = batch;
    const bytes = batchBytes;
    const start = at;
    batch = [];
    batchBytes = 0;
    at += bytes;
    pending = writeAll(handle, buffers, start).then(() => onWritten(bytes));
  };
  try {
    for await (const chunk of body) {
      batch.push(chunk);
      batchBytes += chunk.byteLength;
      if (batchBytes >= WRITE_BATCH_BYTES) await flush();
    }
    if (batchBytes > 0) await flush();
    await pending;
  } finally {
    await pending?.catch(() => undefined); // never leave a write running on a handle about to close
  }
}

/** writev at a position, finishing a short write (rare for regular files) buffer by buffer. */
async function writeAll(handle: FileHandle, buffers: Uint8Array[], position: number): Promise<void> {
  let { bytesWritten } = await handle.writev(buffers, position);
  let at = position + bytesWritten;
  for (const buffer of buffers) {
    const skip = Math.min(bytesWritten, buffer.byteLength);
    bytesWritten -= skip;
    for (let done = skip; done < buffer.byteLength; ) {
      const result = await handle.write(buffer, done, buffer.byteLength - done, at);
      done += result.bytesWritten;
      at += result.bytesWritten;
    }
  }
}
