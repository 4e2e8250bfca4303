/** MD5 and size of bytes as they stream past: one read of each file, whether it is copied or only hashed. */
import { createHash, type Hash } from "node:crypto";
import { createReadStream, readFileSync } from "node:fs";
import { setImmediate } from "node:timers/promises";

export interface Fingerprint {
  md5: string;
  size: number;
}

/** Files up to this size are read in one call (bounded memory: concurrency × this). */
export const SMALL_FILE_BYTES = 1024 * 1024;

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
  return createHash("md5").update(bytes).digest("hex");
}

let readsSinceYield = 0;

/**
 * A small file's bytes, read synchronously: for many small files a thread-pool round trip per call
 * costs more than the read. Yields to the event loop every few dozen files so that timers, aborts
 * and other work still get their turn.
 */
export async function readSmallFile(path: string): Promise<Uint8Array> {
  if (++readsSinceYield >= 32) {
    readsSinceYield = 0;
    await setImmediate();
  }
  return readFileSync(path);
}

/** Hash a whole local file, streaming (never the whole file in memory unless it is small). */
export async function hashLocalFile(path: string, size?: number): Promise<Fingerprint> {
  if (size !== undefined && size <= SMALL_FILE_BYTES) {
    const bytes = await readSmallFile(path);
    return { md5: md5Of(bytes), size: bytes.byteLength };
  }
  const tap = new HashingTap();
  for await (const _ of tap.tap(createReadStream(path, { highWaterMark: 1024 * 1024 }))) {
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
