/**
 * The progress bar drawn on stderr while a transfer runs on a terminal (cli-progress). It keeps its
 * place on the last line: lines logged meanwhile (failures) are written above it, whole, and the bar
 * is drawn again below them. The line fits the terminal (60 columns or more keep every figure), and
 * once the bytes are sent — or the estimate has run out — while files are still being finalised
 * (a multipart upload being completed), it says "finishing" instead of freezing at 99 %.
 */
import type { TransferProgress } from "@ferry/core";
import { MultiBar, type SingleBar } from "cli-progress";
import { formatBytes, formatSeconds } from "./format.ts";

const MAX_BAR = 40;
const MIN_BAR = 6;

/**
 * One line of progress for a terminal `columns` wide (never touching the last column, where a
 * terminal would wrap). `sinceReport` is how long ago `progress` was reported, in seconds.
 */
export function progressLine(progress: TransferProgress, columns: number, sinceReport = 0): string {
  const { filesDone, filesTotal, bytesDone, bytesTotal } = progress;
  const fraction =
    bytesTotal > 0 ? Math.min(1, bytesDone / bytesTotal) : filesTotal > 0 ? filesDone / filesTotal : 0;
  const remainingFiles = filesTotal - filesDone;
  const eta = progress.etaSeconds === undefined ? undefined : progress.etaSeconds - sinceReport;
  const finishing = remainingFiles > 0 && (bytesDone >= bytesTotal || (eta !== undefined && eta <= 0));
  const tail = finishing
    ? `finishing ${remainingFiles} ${remainingFiles === 1 ? "file" : "files"}…`
    : `${formatBytes(Math.round(progress.bytesPerSecond))}/s ETA ${eta === undefined ? "?" : formatSeconds(Math.max(0, eta))}`;
  const parts = [
    `${Math.floor(fraction * 100)}%`,
    `${filesDone}/${filesTotal} files`,
    bytesOf(bytesDone, bytesTotal),
    tail,
  ];
  const room = columns - 1;
  // Drop figures from the middle when even the shortest bar does not fit.
  while (parts.join(" ").length > room - MIN_BAR - 1 && parts.length > 2) parts.splice(parts.length - 2, 1);
  const text = parts.join(" ");
  const width = Math.min(MAX_BAR, room - text.length - 1);
  if (width < MIN_BAR) return text.slice(0, room);
  const filled = Math.round(fraction * width);
  return `${"█".repeat(filled)}${"░".repeat(width - filled)} ${text}`;
}

/** `1.2/3.0 GiB` when both sides share a unit, else `512 KiB/3.0 GiB`. */
function bytesOf(done: number, total: number): string {
  const [doneText, totalText] = [formatBytes(done), formatBytes(total)];
  const unit = totalText.slice(totalText.indexOf(" "));
  return doneText.endsWith(unit)
    ? `${doneText.slice(0, -unit.length)}/${totalText}`
    : `${doneText}/${totalText}`;
}

export class ProgressBar {
  #bars: MultiBar | undefined;
  #bar: SingleBar | undefined;
  #reportedAt = 0;

  update(progress: TransferProgress): void {
    this.#reportedAt = performance.now();
    const payload = { progress };
    if (!this.#bars) {
      this.#bars = new MultiBar({
        format: (_options, params, data: { progress: TransferProgress }) =>
          progressLine(data.progress, params.maxWidth, (performance.now() - this.#reportedAt) / 1000),
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: true,
        // Keep the terminal wrapping long lines, so a logged failure is shown whole (the bar fits anyway).
        linewrap: true,
        // Logged lines clear the bar's line: draw it again every time, even when it did not change.
        forceRedraw: true,
        gracefulExit: false,
      });
      this.#bar = this.#bars.create(Math.max(progress.bytesTotal, 1), progress.bytesDone, payload);
      return;
    }
    this.#bar?.update(progress.bytesDone, payload);
  }

  /** A line above the bar (written to stderr, which is the same terminal); before the bar exists, to `fallback`. */
  log(line: string, fallback: NodeJS.WritableStream): void {
    if (this.#bars) this.#bars.log(`${line}\n`);
    else fallback.write(`${line}\n`);
  }

  /** Writes what is still waiting to be logged, then removes the bar, leaving the cursor where it began. */
  stop(): void {
    if (!this.#bars) return;
    this.#bars.update();
    this.#bars.stop();
    this.#bars = undefined;
    this.#bar = undefined;
  }
}
