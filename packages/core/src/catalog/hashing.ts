/** MD5 and size of bytes as they stream past: one read of each file, whether it is copied or only hashed. */
import { createHash, type Hash, hash } from "node:crypto";
import {
  closeSync,
  constants,
  createReadStream,
  fstatSync,
  openSync,
  type ReadStream,
  readSync,
} from "node:fs";
import { setImmediate } from "node:timers/promises";
import { SMALL_FILE_BYTES } from "./capturer.ts";

export interface Fingerprint {
  md5: string;
  size: number;
}

/** Passes a byte stream through unchanged, hashing it; `result()` is valid once the stream has ended. */
export class HashingTap {
  readonly #hash: Hash = createHash("md5");
  #size = 0;
  #digest: string | undefined;

  async *tap(source: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
    for await (const chunk of source) {
      this.#hash.update(chunk);
      this.#size += chunk.byteLength;
      yield chunk;
    }
  }

  result(): Fingerprint {
    this.#digest ??= this.#hash.digest("hex");
    return { md5: this.#digest, size: this.#size };
  }
}

export function md5Of(bytes: Uint8Array): string {
  return hash("md5", bytes);
}

/** Open flags of every read of a file being captured: never through a symbolic link (ELOOP instead). */
export const READ_NO_FOLLOW = constants.O_RDONLY | constants.O_NOFOLLOW;

/** A file of the working directory as a stream, in 1 MiB chunks, never read through a symbolic link. */
export function streamNoFollow(path: string): ReadStream {
  return createReadStream(path, { fd: openSync(path, READ_NO_FOLLOW), highWaterMark: 1024 * 1024 });
}

let readsSinceYield = 0;

/** A local file's size, and its bytes when it is small. */
export interface LocalFile {
  size: number;
  bytes?: Uint8Array | undefined;
}

/**
 * Open a local file once: its size from the open descriptor and, when it is small, its bytes, read
 * synchronously. For many small files a thread-pool round trip per call costs more than the I/O, and
 * one open + fstat + read replaces a path lookup per step. Yields to the event loop every few dozen
 * files so that timers, aborts and other work still get their turn.
 */
export async function openLocalFile(path: string): Promise<LocalFile> {
  if (++readsSinceYield >= 32) {
    readsSinceYield = 0;
    await setImmediate();
  }
  // A capture never follows a link: one that appeared since the patterns were expanded fails (ELOOP).
  const fd = openSync(path, READ_NO_FOLLOW);
  try {
    const { size } = fstatSync(fd);
    if (size > SMALL_FILE_BYTES) return { size };
    const bytes = Buffer.allocUnsafe(size);
    let filled = 0;
    while (filled < size) {
      const read = readSync(fd, bytes, filled, size - filled, filled);
      if (read === 0) break;
      filled += read;
    }
    return { size: filled, bytes: filled === size ? bytes : bytes.subarray(0, filled) };
  } finally {
    closeSync(fd);
  }
}

/** Hash a whole local file, streaming (never the whole file in memory unless it is small). */
export async function hashLocalFile(path: string): Promise<Fingerprint> {
  const file = await openLocalFile(path);
  if (file.bytes) return { md5: md5Of(file.bytes), size: file.size };
  const tap = new HashingTap();
  for await (const _ of tap.tap(streamNoFollow(path))) {
    // drained for the hash only
  }
  return tap.result();
}

/** Hash a stream to the end. */
export async function hashStream(source: AsyncIterable<Uint8Array>): Promise<Fingerprint> {
  const tap = new HashingTap();
  for await (const _ of tap.tap(source)) {
    // drained for the hash only
  }
  return tap.result();
}
