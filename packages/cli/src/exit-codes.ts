/**
 * Exit codes scripts can rely on (documented in the README). One per error code a script may want
 * to branch on; everything unexpected is 1, like a partial failure.
 */
import type { ErrorCode } from "@ferry/plugin-kit";

export const EXIT = {
  ok: 0,
  /** Some files failed (the summary says which), or an unexpected error. */
  failed: 1,
  /** Bad usage: unknown option, malformed URL, invalid input, an operation the system does not support. */
  usage: 2,
  notFound: 3,
  permissionDenied: 4,
  pluginMissing: 5,
  integrity: 6,
  /** Something already exists where it would be created (or a condition was not met). */
  alreadyExists: 7,
  /** A transient error that outlasted the retries. */
  transient: 8,
  /** Interrupted (Ctrl-C): 128 + SIGINT. */
  aborted: 130,
} as const;

const BY_CODE: Record<ErrorCode, number> = {
  NotFound: EXIT.notFound,
  AlreadyExists: EXIT.alreadyExists,
  InvalidInput: EXIT.usage,
  PermissionDenied: EXIT.permissionDenied,
  Unsupported: EXIT.usage,
  ConditionNotMet: EXIT.alreadyExists,
  Integrity: EXIT.integrity,
  PluginMissing: EXIT.pluginMissing,
  Transient: EXIT.transient,
  Aborted: EXIT.aborted,
  Unexpected: EXIT.failed,
};

export function exitCodeFor(code: ErrorCode): number {
  return BY_CODE[code];
}
