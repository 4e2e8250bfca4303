/**
 * The execution log of one step: everything the job wrote to stdout and stderr, shown live on the
 * console as well (tee), written to a temporary file outside the working directory (so globs never
 * see it) and then stored in the run folder as `<name><XYZ>.execution.log`.
 */
import { randomInt } from "node:crypto";
import { createWriteStream, type WriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EXECUTION_LOG_SUFFIX } from "./store.ts";

const TAG_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/**
 * runnable's naming: the step name's safe characters (letters, digits, `_` and `-`; spaces and dots
 * are dropped), three random [A-Z0-9], `.execution.log`: `function_name` gives `function_nameQ7K.execution.log`.
 */
export function executionLogName(stepName: string): string {
  let tag = "";
  for (let index = 0; index < 3; index++) tag += TAG_ALPHABET[randomInt(TAG_ALPHABET.length)];
  const base = stepName.replace(/[^A-Za-z0-9_-]/g, "") || "job";
  return `${base}${tag}${EXECUTION_LOG_SUFFIX}`;
}

type Write = typeof process.stdout.write;

/**
 * One tee for the whole process: stdout and stderr are patched once while any log is capturing, and
 * every write goes to all capturing logs. Jobs running at the same time therefore never undo each
 * other's patches, and the original functions come back when the last capture ends.
 */
const capturing = new Set<ExecutionLog>();
let originals: { stdout: Write; stderr: Write } | undefined;

function teeInto(stream: NodeJS.WriteStream, original: Write): Write {
  return function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
    if (typeof chunk === "string" || chunk instanceof Uint8Array)
      for (const log of capturing) log.write(chunk);
    return (original as (...args: unknown[]) => boolean).call(this ?? stream, chunk, ...rest);
  } as Write;
}

function startTee(log: ExecutionLog): void {
  capturing.add(log);
  if (originals) return;
  originals = { stdout: process.stdout.write, stderr: process.stderr.write };
  process.stdout.write = teeInto(process.stdout, originals.stdout);
  process.stderr.write = teeInto(process.stderr, originals.stderr);
}

function stopTee(log: ExecutionLog): void {
  capturing.delete(log);
  if (capturing.size > 0 || !originals) return;
  process.stdout.write = originals.stdout;
  process.stderr.write = originals.stderr;
  originals = undefined;
}

export class ExecutionLog {
  readonly name: string;
  readonly path: string;
  readonly #dir: string;
  readonly #stream: WriteStream;

  private constructor(name: string, dir: string) {
    this.name = name;
    this.#dir = dir;
    this.path = join(dir, name);
    this.#stream = createWriteStream(this.path);
  }

  static async create(stepName: string): Promise<ExecutionLog> {
    const dir = await mkdtemp(join(tmpdir(), "ferry-execution-"));
    return new ExecutionLog(executionLogName(stepName), dir);
  }

  write(chunk: string | Uint8Array): void {
    this.#stream.write(chunk);
  }

  /**
   * Run `body` with this process's stdout and stderr also written to the log. Anything else the
   * process prints meanwhile (another async task) is captured too: the streams are process-wide.
   */
  async capture<T>(body: () => Promise<T>): Promise<T> {
    startTee(this);
    try {
      return await body();
    } finally {
      stopTee(this);
    }
  }

  /** Flush and close the file (idempotent). */
  async close(): Promise<void> {
    if (this.#stream.closed) return;
    await new Promise<void>((resolve, reject) =>
      this.#stream.end((error?: Error | null) => (error ? reject(error) : resolve())),
    );
  }

  async dispose(): Promise<void> {
    await this.close().catch(() => undefined);
    await rm(this.#dir, { recursive: true, force: true });
  }
}
