/**
 * One error class for everything ferry raises, with a closed set of codes.
 * Plugins map their SDK's errors into these codes; callers branch on `code`, never on message text.
 */

export const ERROR_CODES = [
  "NotFound",
  "AlreadyExists",
  "InvalidInput",
  "PermissionDenied",
  "Unsupported",
  "ConditionNotMet",
  "Integrity",
  "PluginMissing",
  "Transient",
  "Aborted",
  "Unexpected",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

import { redactErrorChain, redactSecrets } from "./redact.ts";

const MARKER = Symbol.for("ferry.error");

export interface FerryErrorOptions {
  /** The system the error came from: "file", "s3", "gs", ... */
  system?: string | undefined;
  /** The path (or URL, credentials stripped) the operation was about. */
  path?: string | undefined;
  /** Defaults to true for Transient, false otherwise. */
  retryable?: boolean | undefined;
  cause?: unknown;
  /** For rate limits: when the caller may try again. */
  retryAfter?: Date | undefined;
  /** For PluginMissing: the package that serves the scheme. */
  packageName?: string | undefined;
}

export class FerryError extends Error {
  readonly code: ErrorCode;
  readonly system: string | undefined;
  readonly path: string | undefined;
  readonly retryable: boolean;
  readonly retryAfter: Date | undefined;
  readonly packageName: string | undefined;
  readonly [MARKER] = true;

  /** Message, path and the whole cause chain are redacted (redact.ts): no credential is ever carried. */
  constructor(code: ErrorCode, message: string, options: FerryErrorOptions = {}) {
    super(redactSecrets(message), options.cause === undefined ? undefined : { cause: options.cause });
    redactErrorChain(options.cause);
    this.name = `FerryError[${code}]`;
    this.code = code;
    this.system = options.system;
    this.path = options.path === undefined ? undefined : redactSecrets(options.path);
    this.retryable = options.retryable ?? code === "Transient";
    this.retryAfter = options.retryAfter;
    this.packageName = options.packageName;
  }

  /**
   * True for any FerryError, including one thrown by another copy of @ferry/core
   * (two versions installed side by side), where `instanceof` would say false.
   */
  static isInstance(value: unknown, code?: ErrorCode): value is FerryError {
    if (typeof value !== "object" || value === null || (value as Record<symbol, unknown>)[MARKER] !== true) {
      return false;
    }
    return code === undefined || (value as FerryError).code === code;
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      system: this.system,
      path: this.path,
      retryable: this.retryable,
      ...(this.retryAfter ? { retryAfter: this.retryAfter.toISOString() } : {}),
      ...(this.packageName ? { packageName: this.packageName } : {}),
    };
  }
}

type Ctx = Omit<FerryErrorOptions, "retryable"> & { retryable?: boolean };

export const errors = {
  notFound: (message: string, ctx: Ctx = {}) => new FerryError("NotFound", message, ctx),
  alreadyExists: (message: string, ctx: Ctx = {}) => new FerryError("AlreadyExists", message, ctx),
  invalidInput: (message: string, ctx: Ctx = {}) => new FerryError("InvalidInput", message, ctx),
  permissionDenied: (message: string, ctx: Ctx = {}) => new FerryError("PermissionDenied", message, ctx),
  unsupported: (message: string, ctx: Ctx = {}) => new FerryError("Unsupported", message, ctx),
  conditionNotMet: (message: string, ctx: Ctx = {}) => new FerryError("ConditionNotMet", message, ctx),
  integrity: (message: string, ctx: Ctx = {}) => new FerryError("Integrity", message, ctx),
  pluginMissing: (message: string, ctx: Ctx = {}) => new FerryError("PluginMissing", message, ctx),
  transient: (message: string, ctx: Ctx = {}) => new FerryError("Transient", message, ctx),
  aborted: (message: string, ctx: Ctx = {}) => new FerryError("Aborted", message, ctx),
  unexpected: (message: string, ctx: Ctx = {}) => new FerryError("Unexpected", message, ctx),
};

/** Throws Aborted if the signal has fired. Call at every await point of a long operation. */
export function throwIfAborted(signal: AbortSignal | undefined, ctx: Ctx = {}): void {
  if (signal?.aborted) {
    throw new FerryError("Aborted", `operation aborted${ctx.path ? `: ${ctx.path}` : ""}`, {
      ...ctx,
      cause: signal.reason,
    });
  }
}

/** Wraps anything thrown into a FerryError; FerryErrors pass through unchanged. */
export function toFerryError(error: unknown, ctx: Ctx = {}): FerryError {
  if (FerryError.isInstance(error)) return error;
  if (
    error instanceof Error &&
    (error.name === "AbortError" || (error as { code?: string }).code === "ABORT_ERR")
  ) {
    return new FerryError("Aborted", `operation aborted${ctx.path ? `: ${ctx.path}` : ""}`, {
      ...ctx,
      cause: error,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new FerryError("Unexpected", message, { ...ctx, cause: error });
}
