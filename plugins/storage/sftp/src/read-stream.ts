/**
 * Reading a byte span of an open remote file with several read requests in flight, delivered in
 * order with back-pressure: at most `concurrency` chunks of `chunkSize` are requested ahead of
 * what the consumer has taken (ssh2's own ReadStream waits for each reply before asking again,
 * which costs a round trip per chunk).
 */
import { Readable } from "node:stream";
import type { SftpCalls } from "./sftp-ops.ts";

export interface SpanOptions {
  start: number;
  length: number;
  chunkSize: number;
  concurrency: number;
}

export class ParallelReadStream extends Readable {
  readonly #calls: SftpCalls;
  readonly #handle: Buffer;
  readonly #path: string;
  readonly #chunkSize: number;
  readonly #concurrency: number;
  readonly #end: number;
  /** Next offset to request. */
  #next: number;
  /** Requests in flight, in file order. */
  readonly #queue: Promise<Buffer>[] = [];
  #draining = false;
  #closed = false;
  readonly #onClose: () => void;

  constructor(calls: SftpCalls, handle: Buffer, path: string, span: SpanOptions, onClose: () => void) {
    super({ highWaterMark: span.chunkSize });
    this.#calls = calls;
    this.#handle = handle;
    this.#path = path;
    this.#chunkSize = span.chunkSize;
    this.#concurrency = Math.max(1, span.concurrency);
    this.#next = span.start;
    this.#end = span.start + span.length;
    this.#onClose = onClose;
  }

  #fill(): void {
    while (this.#queue.length < this.#concurrency && this.#next < this.#end) {
      const offset = this.#next;
      const length = Math.min(this.#chunkSize, this.#end - offset);
      this.#next += length;
      const request = this.#calls.readAt(this.#handle, offset, length, this.#path);
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
        const chunk = await head;
        if (this.destroyed) return;
        // A short read before the end means the file shrank under us: stop at what exists.
        if (chunk.byteLength === 0) {
          this.push(null);
          return;
        }
        if (!this.push(chunk)) return;
      }
    } catch (error) {
      this.destroy(error as Error);
    } finally {
      this.#draining = false;
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#closed) {
      this.#closed = true;
      void Promise.allSettled(this.#queue)
        .then(() => this.#calls.close(this.#handle, this.#path))
        .catch(() => undefined)
        .finally(this.#onClose);
    }
    callback(error);
  }
}
