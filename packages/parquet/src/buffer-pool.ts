/**
 * Big byte buffers reused from one row group to the next: a streamed row group's fetched column
 * chunks and, on the value path, its string bytes are dead as soon as the group is decoded. Allocated
 * afresh for every group they are garbage V8 frees only at its next full collection (it waits for
 * 64 MiB of such memory to pile up), and the freed blocks of varying sizes fragment the C heap, so a
 * long stream's resident memory keeps growing. Taken from here they are allocated once.
 *
 * A buffer handed back must not be referenced any more: callers give back only what no decoded value
 * points into (every decoded column is a copy; see columnar.ts).
 */

/** Sizes are rounded up to this, so that a buffer fits the next row group's slightly bigger chunk. */
const GRAIN = 1024 * 1024;

export class BufferPool {
  readonly #free: Uint8Array[] = [];
  /** Buffers kept for reuse at most. */
  readonly maxBuffers: number;
  /** Buffers bigger than this are not kept (a rare huge row group does not stay resident). */
  readonly maxBytes: number;

  constructor(maxBuffers: number, maxBytes: number) {
    this.maxBuffers = maxBuffers;
    this.maxBytes = maxBytes;
  }

  /** A buffer of `size` bytes (a view of a reused one: its bytes are whatever was there). */
  take(size: number): Uint8Array {
    let best = -1;
    for (let i = 0; i < this.#free.length; i++) {
      const length = this.#free[i]!.byteLength;
      if (length >= size && (best < 0 || length < this.#free[best]!.byteLength)) best = i;
    }
    if (best >= 0) return this.#free.splice(best, 1)[0]!.subarray(0, size);
    const rounded = Math.ceil(size / GRAIN) * GRAIN;
    return new Uint8Array(rounded > this.maxBytes ? size : rounded).subarray(0, size);
  }

  /** Hand back a buffer `take` gave (any view of it); the smallest is dropped when the pool is full. */
  give(view: Uint8Array): void {
    const buffer = new Uint8Array(view.buffer);
    if (buffer.byteLength > this.maxBytes || this.#free.some((b) => b.buffer === buffer.buffer)) return;
    this.#free.push(buffer);
    if (this.#free.length > this.maxBuffers) {
      this.#free.sort((a, b) => b.byteLength - a.byteLength);
      this.#free.length = this.maxBuffers;
    }
  }

  /** Drop the buffers kept (a finished stream leaves nothing resident behind). */
  clear(): void {
    this.#free.length = 0;
  }

  /** Bytes held for reuse (for tests). */
  get heldBytes(): number {
    return this.#free.reduce((sum, b) => sum + b.byteLength, 0);
  }
}

/**
 * The pool of row-group buffers: with the default prefetch two row groups are in flight, each with
 * its fetched bytes and string bytes, so four buffers cover a stream.
 */
export const rowGroupBuffers = new BufferPool(4, 64 * 1024 * 1024);
