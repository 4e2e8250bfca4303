/**
 * Small local files captured in synchronous batches: open, fstat, read, MD5 and (for a catalog on
 * local disk) temp file + rename, with no promise or thread-pool round trip per file. For thousands
 * of small files those round trips cost more than the I/O itself. Only Node built-ins are imported,
 * so that a worker thread can run the same code (see capture-worker.ts).
 */
import { hash, randomBytes } from "node:crypto";
import { closeSync, fstatSync, mkdirSync, openSync, readSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { setImmediate } from "node:timers/promises";

/** Files up to this size are read in one call (bounded memory: one buffer of this size per thread). */
export const SMALL_FILE_BYTES = 1024 * 1024;

export interface SmallFileTask {
  /** Absolute path of the file to capture. */
  source: string;
  /** Absolute path of its copy in a local catalog; absent for hash-only capture. */
  target?: string | undefined;
}

export type SmallFileOutcome =
  | { kind: "done"; md5: string; size: number; startedAt: number; durationMs: number }
  /** Larger than SMALL_FILE_BYTES: left to the streaming path. */
  | { kind: "large" }
  | { kind: "failed"; message: string; code?: string | undefined };

/** The state one thread keeps across batches: its read buffer and the directories it has made. */
export class SmallFileCapturer {
  readonly #tempPrefix: string;
  readonly #buffer = Buffer.allocUnsafe(SMALL_FILE_BYTES);
  readonly #madeDirectories = new Set<string>();
  #written = 0;

  constructor(tempPrefix: string) {
    // One random token per thread and a counter per file: unique temp names without a random draw per file.
    this.#tempPrefix = `${tempPrefix}${randomBytes(6).toString("hex")}-`;
  }

  captureAll(tasks: readonly SmallFileTask[]): SmallFileOutcome[] {
    return tasks.map((task) => this.capture(task));
  }

  capture(task: SmallFileTask): SmallFileOutcome {
    const startedAt = Date.now();
    try {
      const bytes = this.#read(task.source);
      if (bytes === undefined) return { kind: "large" };
      const md5 = hash("md5", bytes);
      if (task.target !== undefined) this.write(task.target, bytes);
      return { kind: "done", md5, size: bytes.byteLength, startedAt, durationMs: Date.now() - startedAt };
    } catch (error) {
      return failed(error);
    }
  }

  /** The file's bytes (a view of the thread's buffer, valid until the next read), or undefined when large. */
  #read(path: string): Uint8Array | undefined {
    const fd = openSync(path, "r");
    try {
      const { size } = fstatSync(fd);
      if (size > SMALL_FILE_BYTES) return undefined;
      let filled = 0;
      while (filled < size) {
        const read = readSync(fd, this.#buffer, filled, size - filled, filled);
        if (read === 0) break;
        filled += read;
      }
      return this.#buffer.subarray(0, filled);
    } finally {
      closeSync(fd);
    }
  }

  /** Temp file + rename, as the local storage writes: the copy appears under its name only when complete. */
  write(path: string, bytes: Uint8Array): void {
    const parent = dirname(path);
    if (!this.#madeDirectories.has(parent)) {
      mkdirSync(parent, { recursive: true });
      this.#madeDirectories.add(parent);
    }
    const temp = join(parent, `${this.#tempPrefix}${(this.#written++).toString(36)}-${basename(path)}`);
    try {
      const fd = openSync(temp, "wx");
      try {
        let written = 0;
        while (written < bytes.byteLength)
          written += writeSync(fd, bytes, written, bytes.byteLength - written);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, path);
    } catch (error) {
      rmSync(temp, { force: true });
      throw error;
    }
  }
}

/** Files per batch: large enough to amortise a hand-over, small enough to keep the event loop responsive. */
const BATCH_FILES = 64;

/**
 * Capture small files in batches on this thread, yielding to the event loop between batches so that
 * timers, aborts and other work still get their turn. After an abort the rest are failed as aborted.
 */
export async function captureSmallFiles(
  tasks: readonly SmallFileTask[],
  options: { tempPrefix: string; signal?: AbortSignal | undefined },
): Promise<SmallFileOutcome[]> {
  const capturer = new SmallFileCapturer(options.tempPrefix);
  const outcomes: SmallFileOutcome[] = [];
  for (let start = 0; start < tasks.length; start += BATCH_FILES) {
    if (start > 0) await setImmediate();
    const batch = tasks.slice(start, start + BATCH_FILES);
    if (options.signal?.aborted) outcomes.push(...batch.map(aborted));
    else outcomes.push(...capturer.captureAll(batch));
  }
  return outcomes;
}

/**
 * Copies into a local catalog are written under one temporary folder of the run folder and moved
 * into place when the batch is done: one rename per top-level name instead of one per file (a rename
 * per file costs as much as writing a small file). Each file still appears under its name only
 * complete, and a folder whose name is already taken in the run folder (an earlier step or attempt)
 * is merged file by file, each file replacing its old copy in one rename.
 */
export class StagedCopies {
  readonly folder: string;
  readonly #runDirectory: string;

  constructor(runDirectory: string, tempPrefix: string) {
    this.#runDirectory = runDirectory;
    this.folder = join(runDirectory, `${tempPrefix}${randomBytes(6).toString("hex")}`);
  }

  /** Where the copy of `relative` (a `/`-separated path in the run folder) is written first. */
  stagedPath(relative: string): string {
    return join(this.folder, ...relative.split("/"));
  }

  /** Move the copies that were written into place; a file that cannot be moved gets a failed outcome. */
  publish(relatives: readonly string[], outcomes: SmallFileOutcome[]): void {
    const byTopName = new Map<string, number[]>();
    outcomes.forEach((outcome, index) => {
      if (outcome.kind !== "done") return;
      const top = relatives[index]!.split("/")[0]!;
      const indexes = byTopName.get(top);
      if (indexes) indexes.push(index);
      else byTopName.set(top, [index]);
    });
    try {
      for (const [top, indexes] of byTopName) {
        try {
          renameSync(join(this.folder, top), join(this.#runDirectory, top));
        } catch {
          for (const index of indexes) outcomes[index] = this.#moveOne(relatives[index]!, outcomes[index]!);
        }
      }
    } finally {
      rmSync(this.folder, { recursive: true, force: true });
    }
  }

  #moveOne(relative: string, outcome: SmallFileOutcome): SmallFileOutcome {
    const target = join(this.#runDirectory, ...relative.split("/"));
    try {
      mkdirSync(dirname(target), { recursive: true });
      renameSync(this.stagedPath(relative), target);
      return outcome;
    } catch (error) {
      return failed(error);
    }
  }
}

function failed(error: unknown): SmallFileOutcome {
  return {
    kind: "failed",
    message: error instanceof Error ? error.message : String(error),
    code: (error as { code?: string }).code,
  };
}

function aborted(): SmallFileOutcome {
  return { kind: "failed", message: "operation aborted", code: "ABORT_ERR" };
}
