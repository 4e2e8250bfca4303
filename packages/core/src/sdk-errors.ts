/**
 * Helpers for plugins mapping their SDK's errors into FerryError codes: the network failures that are
 * always worth a retry and the HTTP status baseline every REST storage API shares. Redaction of
 * secrets lives in redact.ts.
 */
import type { ErrorCode } from "./errors.ts";

/** Node/undici socket error codes of a dropped or refused connection: Transient. */
export const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "ENOTFOUND",
  "UND_ERR_SOCKET",
  "REQUEST_SEND_ERROR",
]);

export function isNetworkError(code: unknown): boolean {
  return typeof code === "string" && NETWORK_ERROR_CODES.has(code);
}

/**
 * The code an HTTP status means for a storage API, when the status alone decides it: 404 NotFound,
 * 412 ConditionNotMet, 401/403 PermissionDenied, 408/429/5xx Transient, 400/416 InvalidInput.
 * Plugins check their service's own error names first (409, for one, means different things).
 */
export function errorCodeForStatus(status: number | undefined): ErrorCode | undefined {
  if (status === undefined) return undefined;
  if (status === 404) return "NotFound";
  if (status === 412) return "ConditionNotMet";
  if (status === 401 || status === 403) return "PermissionDenied";
  if (status === 408 || status === 429 || status >= 500) return "Transient";
  if (status === 400 || status === 416) return "InvalidInput";
  return undefined;
}
