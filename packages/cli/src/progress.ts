/** The progress bar drawn on stderr while a transfer runs on a terminal (cli-progress). */
import type { TransferProgress } from "@ferry/core";
import { Presets, SingleBar } from "cli-progress";
import { formatBytes, formatSeconds } from "./format.ts";

export class ProgressBar {
  #bar: SingleBar | undefined;

  update(progress: TransferProgress): void {
    const payload = {
      files: `${progress.filesDone}/${progress.filesTotal} files`,
      // cli-progress reserves {value} and {total} for the raw numbers.
      copiedBytes: formatBytes(progress.bytesDone),
      totalBytes: formatBytes(progress.bytesTotal),
      rate: `${formatBytes(Math.round(progress.bytesPerSecond))}/s`,
      remaining: progress.etaSeconds === undefined ? "?" : formatSeconds(progress.etaSeconds),
    };
    if (!this.#bar) {
      this.#bar = new SingleBar(
        {
          format: "{bar} {percentage}% | {files} | {copiedBytes} of {totalBytes} | {rate} | ETA {remaining}",
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: true,
          etaBuffer: 20,
        },
        Presets.shades_classic,
      );
      this.#bar.start(Math.max(progress.bytesTotal, 1), progress.bytesDone, payload);
      return;
    }
    this.#bar.update(progress.bytesDone, payload);
  }

  stop(): void {
    this.#bar?.stop();
    this.#bar = undefined;
  }
}
