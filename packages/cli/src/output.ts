/**
 * Where results go: plain lines for people and pipes, or JSON lines (`--json`) for scripts —
 * one object per line on stdout, each with an `event` field. Errors always get one clear line
 * on stderr (`ferry: NotFound: ...`); in JSON mode they are also an `error` event on stdout.
 */
import { FerryError, redactSecrets, toFerryError } from "@ferry/core";
import { exitCodeFor } from "./exit-codes.ts";

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
    // Every line goes through core's redaction: a location or message never carries a credential out.
    if (this.json) this.#stdout.write(`${redactSecrets(JSON.stringify({ event, ...record }, replacer))}\n`);
    else if (plain !== undefined) this.#stdout.write(`${redactSecrets(plain)}\n`);
  }

  /** Something worth knowing that is not a result (stderr, plain mode only; JSON mode gets a `note` event). */
  note(text: string): void {
    if (this.json) this.emit("note", { message: text }, undefined);
    else this.#stderr.write(`ferry: note: ${redactSecrets(text)}\n`);
  }

  /** Report an error; returns the exit code it maps to. */
  error(caught: unknown): number {
    const error = toFerryError(caught);
    this.#stderr.write(`ferry: ${error.code}: ${redactSecrets(error.message)}\n`);
    if (this.json) this.emit("error", errorRecord(error), undefined);
    return exitCodeFor(error.code);
  }
}

export function errorRecord(error: FerryError): Record<string, unknown> {
  return {
    code: error.code,
    message: error.message,
    ...(error.system ? { system: error.system } : {}),
    ...(error.path ? { path: error.path } : {}),
    ...(error.packageName ? { packageName: error.packageName } : {}),
  };
}

function replacer(_key: string, value: unknown): unknown {
  if (FerryError.isInstance(value)) return errorRecord(value);
  return value;
}
