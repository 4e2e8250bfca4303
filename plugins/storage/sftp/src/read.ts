/**
 * Reads: a stream of a file or a span of it. A byte span is read with several read requests in
 * flight, delivered in order with back-pressure: at most `concurrency` chunks of `chunkSize` are
 * requested ahead of what the consumer has taken (ssh2's own ReadStream waits for each reply before
 * asking again, which costs a round trip per chunk). When the connection drops, the file is opened
 * again on a fresh connection (once) and reading resumes after the last byte delivered — if the file
 * is unchanged.
 */
import { PassThrough, Readable } from "node:stream";
import { errors, type ReadOptions } from "@ferry/plugin-kit";
import type { Attributes } from "ssh2";
import type { HostPool } from "./client.ts";
import { isLostConnection, notRegular, readError } from "./errors.ts";
import { isDirectoryMode, isFileMode, type SftpCalls } from "./ssh/sftp-calls.ts";

/** An open remote file, held on one pooled connection until `release()`. */
export interface RemoteFile {
  calls: SftpCalls;
  handle: Buffer;
  size: number;
  /** Seconds, as SFTP reports it. */
  mtime: number;
  /** Whether `error` means this file's connection went away. */
  lost(error: unknown): boolean;
  release(): void;
}

export interface SpanOptions {
  start: number;
  length: number;
  chunkSize: number;
  concurrency: number;
}

export class ParallelReadStream extends Readable {
  #file: RemoteFile;
  readonly #reopen: (() => Promise<RemoteFile>) | undefined;
  readonly #path: string;
  readonly #chunkSize: number;
  readonly #concurrency: number;
  readonly #end: number;
  /** Next offset to request, and the offset after the last byte pushed. */
  #next: number;
  #delivered: number;
  /** Requests in flight, in file order. */
  #queue: Promise<Buffer>[] = [];
  #draining = false;
  #closed = false;
  #resumed = false;

  constructor(file: RemoteFile, path: string, span: SpanOptions, reopen?: () => Promise<RemoteFile>) {
    super({ highWaterMark: span.chunkSize });
    this.#file = file;
    this.#reopen = reopen;
    this.#path = path;
    this.#chunkSize = span.chunkSize;
    this.#concurrency = Math.max(1, span.concurrency);
    this.#next = span.start;
    this.#delivered = span.start;
    this.#end = span.start + span.length;
  }

  #fill(): void {
    while (this.#queue.length < this.#concurrency && this.#next < this.#end) {
      const offset = this.#next;
      const length = Math.min(this.#chunkSize, this.#end - offset);
      this.#next += length;
      const request = this.#file.calls.readAt(this.#file.handle, offset, length, this.#path);
      // Rejections are handled when the request reaches the head of the queue.
      request.catch(() => undefined);
      this.#queue.push(request);
    }
  }

  override _read(): void {
    if (this.#draining) return;
    this.#draining = true;
    void this.#drain();
  }

  async #drain(): Promise<void> {
    try {
      for (;;) {
        this.#fill();
        const head = this.#queue.shift();
        if (!head) {
          this.push(null);
          return;
        }
        let chunk: Buffer;
        try {
          chunk = await head;
        } catch (error) {
          if (this.#resumed || !this.#reopen || !this.#file.lost(error) || this.destroyed) throw error;
          await this.#resume();
          continue;
        }
        if (this.destroyed) return;
        // Nothing where bytes were expected: the file shrank under us; stop at what exists.
        if (chunk.byteLength === 0) {
          this.push(null);
          return;
        }
        this.#delivered += chunk.byteLength;
        if (!this.push(chunk)) return;
      }
    } catch (error) {
      this.destroy(error as Error);
    } finally {
      this.#draining = false;
    }
  }

  /** Reopen on a fresh connection and continue after the last byte delivered. */
  async #resume(): Promise<void> {
    this.#resumed = true;
    // Every request on the old connection fails with it; none of their bytes were delivered.
    this.#queue = [];
    const old = this.#file;
    old.release();
    const file = await this.#reopen!();
    if (file.size !== old.size || file.mtime !== old.mtime) {
      await file.calls.close(file.handle, this.#path).catch(() => undefined);
      file.release();
      this.#closed = true;
      throw errors.transient(`${this.#path} changed while the connection was re-established; read it again`, {
        system: "sftp",
        path: this.#path,
      });
    }
    this.#file = file;
    this.#next = this.#delivered;
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#closed) {
      this.#closed = true;
      const file = this.#file;
      void Promise.allSettled(this.#queue)
        .then(() => file.calls.close(file.handle, this.#path))
        .catch(() => undefined)
        .finally(() => file.release());
    }
    callback(error);
  }
}

/** Only regular files can be read, copied or checksummed. */
export function requireFile(attrs: Attributes, path: string, host: string): void {
  if (isDirectoryMode(attrs.mode)) {
    throw errors.invalidInput(`is a directory, not a file: ${path} on ${host}`, { system: "sftp", path });
  }
  if (!isFileMode(attrs.mode)) throw notRegular(path, host);
}

/** Open `path` for reading on a pooled connection, held until the file is released. */
function openForRead(pool: HostPool, path: string): Promise<RemoteFile> {
  return pool.run(async (connection) => {
    const attrs = await connection.calls.stat(path);
    requireFile(attrs, path, pool.label);
    const handle = await connection.calls.open(path, "r", "read");
    return {
      calls: connection.calls,
      handle,
      size: attrs.size,
      mtime: attrs.mtime,
      lost: (error: unknown) => connection.gone || isLostConnection(error),
      release: pool.keep(connection),
    };
  });
}

/** Offset and length to read, clamped to the file. */
function byteSpan(size: number, range: ReadOptions["range"]): { start: number; length: number } {
  if (!range) return { start: 0, length: size };
  if ("suffix" in range) {
    const length = Math.min(range.suffix, size);
    return { start: size - length, length };
  }
  const start = Math.min(range.offset, size);
  const length = Math.min(range.length ?? size - start, size - start);
  return { start, length };
}

export interface ReadTuning {
  chunkSize: number;
  concurrency: number;
}

/** A stream of `path` (or the requested range of it); errors on it are FerryErrors. */
export async function readFile(
  pool: HostPool,
  path: string,
  options: ReadOptions,
  tuning: ReadTuning,
): Promise<Readable> {
  const file = await openForRead(pool, path);
  const span = byteSpan(file.size, options.range);
  if (span.length === 0) {
    await file.calls.close(file.handle, path).catch(() => undefined);
    file.release();
    return new PassThrough().end();
  }
  const source = new ParallelReadStream(file, path, { ...span, ...tuning }, () => openForRead(pool, path));
  const output = new PassThrough({ highWaterMark: tuning.chunkSize });
  // Errors from the channel become ferry errors (a dropped connection: Transient) on the stream we
  // hand out; a consumer that stops early closes the remote handle.
  source.on("error", (error: Error) => output.destroy(readError(error, path, pool.label) as Error));
  output.once("close", () => source.destroy());
  source.pipe(output);
  const signal = options.signal;
  if (signal) {
    const onAbort = () => output.destroy(errors.aborted(`read aborted: ${path}`, { system: "sftp", path }));
    signal.addEventListener("abort", onAbort, { once: true });
    output.once("close", () => signal.removeEventListener("abort", onAbort));
  }
  return output;
}
