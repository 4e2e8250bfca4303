/**
 * One thread's capture of small local files: open, fstat, read, MD5 and (for a catalog on local disk)
 * the copy, all synchronous, with no promise or thread-pool round trip per file. For thousands of
 * small files those round trips cost more than the I/O itself.
 *
 * The same class runs on a worker thread, started from its source text (see capture-worker.ts), so
 * its body names nothing from outside itself: the Node modules it calls arrive as `system`. (The
 * constructor's defaults do name this module's constants; the worker passes every argument.)
 */
import * as nodeCrypto from "node:crypto";
import * as nodeFs from "node:fs";
import * as nodePath from "node:path";

/** Files up to this size are read in one call (bounded memory: one buffer of this size per thread). */
export const SMALL_FILE_BYTES = 1024 * 1024;

export interface SmallFileTask {
  /** Absolute path of the file to capture. */
  source: string;
  /**
   * Absolute path of its copy inside a staging folder (see StagedCopies), written in place: the folder
   * is moved into the catalog as a whole. Absent for hash-only capture.
   */
  target?: string | undefined;
}

export type SmallFileOutcome =
  | { kind: "done"; md5: string; size: number; startedAt: number; durationMs: number }
  /** Larger than SMALL_FILE_BYTES: left to the streaming path. */
  | { kind: "large" }
  | { kind: "failed"; message: string; code?: string | undefined };

/** The Node modules a capturer calls (on a worker thread, what its `require` returns). */
export interface CapturerSystem {
  crypto: Pick<typeof nodeCrypto, "hash" | "randomBytes">;
  fs: Pick<
    typeof nodeFs,
    | "closeSync"
    | "constants"
    | "fstatSync"
    | "mkdirSync"
    | "openSync"
    | "readSync"
    | "renameSync"
    | "rmSync"
    | "writeSync"
  >;
  path: Pick<typeof nodePath, "basename" | "dirname" | "join">;
}

const NODE: CapturerSystem = { crypto: nodeCrypto, fs: nodeFs, path: nodePath };

/** The state one thread keeps across batches: its read buffer and the directories it has made. */
export class SmallFileCapturer {
  readonly #system: CapturerSystem;
  readonly #tempPrefix: string;
  readonly #buffer: Buffer;
  readonly #madeDirectories = new Set<string>();
  #written = 0;

  constructor(tempPrefix: string, system: CapturerSystem = NODE, maxBytes = SMALL_FILE_BYTES) {
    this.#system = system;
    this.#buffer = Buffer.allocUnsafe(maxBytes);
    // One random token per thread and a counter per file: unique temp names without a random draw per file.
    this.#tempPrefix = `${tempPrefix}${system.crypto.randomBytes(6).toString("hex")}-`;
  }

  /** An outcome for a file that could not be captured. */
  static failed(error: unknown): SmallFileOutcome {
    return {
      kind: "failed",
      message: error instanceof Error ? error.message : String(error),
      code: (error as { code?: string }).code,
    };
  }

  captureAll(tasks: readonly SmallFileTask[]): SmallFileOutcome[] {
    return tasks.map((task) => this.capture(task));
  }

  capture(task: SmallFileTask): SmallFileOutcome {
    const startedAt = Date.now();
    try {
      const bytes = this.#read(task.source);
      if (bytes === undefined) return { kind: "large" };
      const md5 = this.#system.crypto.hash("md5", bytes);
      if (task.target !== undefined) {
        try {
          this.#writeNew(task.target, bytes);
        } catch (error) {
          // A half-written copy must not be moved into the catalog with its folder.
          this.#system.fs.rmSync(task.target, { force: true });
          throw error;
        }
      }
      return { kind: "done", md5, size: bytes.byteLength, startedAt, durationMs: Date.now() - startedAt };
    } catch (error) {
      return SmallFileCapturer.failed(error);
    }
  }

  /** The file's bytes (a view of the thread's buffer, valid until the next read), or undefined when large. */
  #read(source: string): Uint8Array | undefined {
    const { fs } = this.#system;
    // Never through a link that appeared since the patterns were expanded (fails with ELOOP).
    const fd = fs.openSync(source, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      const { size } = fs.fstatSync(fd);
      if (size > this.#buffer.byteLength) return undefined;
      let filled = 0;
      while (filled < size) {
        const read = fs.readSync(fd, this.#buffer, filled, size - filled, filled);
        if (read === 0) break;
        filled += read;
      }
      return this.#buffer.subarray(0, filled);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Temp file + rename, as the local storage writes: the copy appears under its name only when complete. */
  write(target: string, bytes: Uint8Array): void {
    const { fs, path } = this.#system;
    const temp = path.join(
      path.dirname(target),
      `${this.#tempPrefix}${(this.#written++).toString(36)}-${path.basename(target)}`,
    );
    try {
      this.#writeNew(temp, bytes);
      fs.renameSync(temp, target);
    } catch (error) {
      fs.rmSync(temp, { force: true });
      throw error;
    }
  }

  /** Create `target` (which must not exist) with `bytes`, making its folder first. */
  #writeNew(target: string, bytes: Uint8Array): void {
    const { fs, path } = this.#system;
    const parent = path.dirname(target);
    if (!this.#madeDirectories.has(parent)) {
      fs.mkdirSync(parent, { recursive: true });
      this.#madeDirectories.add(parent);
    }
    const fd = fs.openSync(target, "wx");
    try {
      let written = 0;
      while (written < bytes.byteLength)
        written += fs.writeSync(fd, bytes, written, bytes.byteLength - written);
    } finally {
      fs.closeSync(fd);
    }
  }
}
