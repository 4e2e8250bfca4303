/**
 * Counts files and bytes as they move and turns them into progress reports: a rate averaged over a
 * sliding window (so it follows changes in speed) and an ETA from it. Byte-level reports are
 * throttled; file completions are always reported.
 */
import type { TransferProgress } from "./types.ts";

const WINDOW_MS = 5_000;
const THROTTLE_MS = 100;

export class ProgressTracker {
  readonly #started = performance.now();
  readonly #listener: ((progress: TransferProgress) => void) | undefined;
  readonly #samples: { at: number; bytes: number }[] = [];
  #lastReport = 0;
  filesTotal = 0;
  bytesTotal = 0;
  filesDone = 0;
  bytesDone = 0;

  constructor(listener: ((progress: TransferProgress) => void) | undefined) {
    this.#listener = listener;
  }

  get elapsedSeconds(): number {
    return (performance.now() - this.#started) / 1000;
  }

  addBytes(count: number): void {
    if (count === 0) return;
    this.bytesDone += count;
    this.#report(false);
  }

  fileDone(): void {
    this.filesDone += 1;
    this.#report(true);
  }

  /** Final report, always sent. */
  finish(): void {
    this.#report(true);
  }

  snapshot(): TransferProgress {
    const now = performance.now();
    this.#samples.push({ at: now, bytes: this.bytesDone });
    while (this.#samples.length > 2 && now - this.#samples[0]!.at > WINDOW_MS) this.#samples.shift();
    const first = this.#samples[0]!;
    const span = (now - first.at) / 1000;
    const bytesPerSecond = span > 0.05 ? (this.bytesDone - first.bytes) / span : 0;
    const remaining = Math.max(0, this.bytesTotal - this.bytesDone);
    return {
      filesDone: this.filesDone,
      filesTotal: this.filesTotal,
      bytesDone: this.bytesDone,
      bytesTotal: this.bytesTotal,
      bytesPerSecond,
      etaSeconds: remaining === 0 ? 0 : bytesPerSecond > 0 ? remaining / bytesPerSecond : undefined,
      elapsedSeconds: this.elapsedSeconds,
    };
  }

  #report(force: boolean): void {
    if (!this.#listener) return;
    const now = performance.now();
    if (!force && now - this.#lastReport < THROTTLE_MS) return;
    this.#lastReport = now;
    this.#listener(this.snapshot());
  }
}
