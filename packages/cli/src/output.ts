/**
 * Where results go: plain lines for people and pipes, or JSON lines (`--json`) for scripts —
 * one object per line on stdout, each with an `event` field. Errors always get one clear line
 * on stderr (`ferry: NotFound: ...`); in JSON mode they are also an `error` event on stdout.
 */
import { FerryError, redactSecrets, toFerryError } from "@ferry/plugin-kit";
import { exitCodeFor } from "./exit-codes.ts";
import { PIPE_CLOSED_STATUS, stdoutClosed } from "./stdout.ts";

export class Output {
  readonly json: boolean;
  readonly #stdout: NodeJS.WritableStream;
  readonly #stderr: NodeJS.WritableStream;

  constructor(
    json: boolean,
    stdout: NodeJS.WritableStream = process.stdout,
    stderr: NodeJS.WritableStream = process.stderr,
  ) {
    this.json = json;
    this.#stdout = stdout;
    this.#stderr = stderr;
  }

  /** A result: `plain` for people, `record` (with its event name) for `--json`. */
  emit(event: string, record: Record<string, unknown>, plain: string | undefined): void {
    if (this.#stdout === process.stdout && stdoutClosed()) return; // the command is being aborted
    // Every line goes through core's redaction: a location or message never carries a credential out.
    if (this.json) this.#stdout.write(`${redactSecrets(JSON.stringify({ event, ...record }, replacer))}\n`);
    else if (plain !== undefined) this.#stdout.write(`${redactSecrets(plain)}\n`);
  }

  /**
   * A chunk of a file's bytes for `--json` (`cat`): the location is redacted like every line, the
   * bytes are not — they are the user's data and must come back exactly as stored.
   */
  emitBytes(url: string, offset: number, bytes: Buffer): void {
    if (this.#stdout === process.stdout && stdoutClosed()) return;
    const head = redactSecrets(JSON.stringify({ event: "data", url, offset }));
    this.#stdout.write(`${head.slice(0, -1)},"base64":"${bytes.toString("base64")}"}\n`);
  }

  /** Something worth knowing that is not a result (stderr, plain mode only; JSON mode gets a `note` event). */
  note(text: string): void {
    if (this.json) this.emit("note", { message: text }, undefined);
    else this.#stderr.write(`ferry: note: ${redactSecrets(text)}\n`);
  }

  /** Report an error; returns the exit code it maps to. Once stdout is gone, nobody reads it (as with coreutils). */
  error(caught: unknown): number {
    if (stdoutClosed()) return PIPE_CLOSED_STATUS;
    const error = toFerryError(caught);
    this.#stderr.write(`ferry: ${error.code}: ${redactSecrets(error.message)}\n`);
    if (this.json) this.emit("error", errorRecord(error), undefined);
    return exitCodeFor(error.code);
  }

  /** A failure already reported as results (failed files): one line on stderr, whatever the mode. */
  failure(code: string, text: string): void {
    if (!stdoutClosed()) this.#stderr.write(`ferry: ${code}: ${redactSecrets(text)}\n`);
  }

  /** A usage error commander has already printed on stderr: the `error` event for --json. */
  usageError(message: string): void {
    this.emit("error", { code: "InvalidInput", message: message.replace(/^error: /, "") }, undefined);
  }
}

export function errorRecord(error: FerryError): Record<string, unknown> {
  return {
    code: error.code,
    message: error.message,
    ...(error.system ? { system: error.system } : {}),
    ...(error.path ? { path: displayPath(error.system, error.path) } : {}),
    ...(error.packageName ? { packageName: error.packageName } : {}),
  };
}

/** Local paths are absolute, whether an error carries the full path or the key below `/`. */
function displayPath(system: string | undefined, path: string): string {
  return system === "file" && !path.startsWith("/") ? `/${path}` : path;
}

/** Errors anywhere in a record print as `errorRecord` does (their own toJSON has runs before a replacer sees them). */
function replacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const original = this[key];
  if (FerryError.isInstance(original)) return errorRecord(original);
  return value;
}
