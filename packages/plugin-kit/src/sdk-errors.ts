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

/** A connection that failed below HTTP, described so a user can act on it. */
export interface NetworkFailure {
  /** The Node error code: ENOTFOUND, EAI_AGAIN, ECONNREFUSED, ECONNRESET, ETIMEDOUT. */
  code: string;
  host: string | undefined;
  /** e.g. `host "x.invalid" does not resolve (DNS lookup failed)`. */
  description: string;
}

const NETWORK_MESSAGE =
  /\b(?:getaddrinfo|connect|read|write)\s+(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT)(?:\s+(\S+))?/;

/**
 * The connection failure behind an SDK error, found in the error, its `cause` chain or an
 * AggregateError's `errors` (SDKs wrap it: octokit as a "500", GCS in a FetchError), or undefined.
 */
export function networkFailure(error: unknown, depth = 0): NetworkFailure | undefined {
  if (depth > 6 || typeof error !== "object" || error === null) return undefined;
  const record = error as {
    code?: unknown;
    hostname?: unknown;
    address?: unknown;
    port?: unknown;
    message?: unknown;
  };
  const match = typeof record.message === "string" ? NETWORK_MESSAGE.exec(record.message) : null;
  const code = typeof record.code === "string" && NETWORK_MESSAGES[record.code] ? record.code : match?.[1];
  if (code !== undefined) {
    const host =
      typeof record.hostname === "string"
        ? record.hostname
        : typeof record.address === "string"
          ? `${record.address}${typeof record.port === "number" ? `:${record.port}` : ""}`
          : match?.[2];
    return { code, host, description: NETWORK_MESSAGES[code]!(host ?? "the server") };
  }
  for (const inner of [
    (error as { cause?: unknown }).cause,
    ...(((error as { errors?: unknown }).errors as unknown[] | undefined) ?? []),
  ]) {
    const found = networkFailure(inner, depth + 1);
    if (found) return found;
  }
  return undefined;
}

const NETWORK_MESSAGES: Record<string, (host: string) => string> = {
  ENOTFOUND: (host) => `host "${host}" does not resolve (DNS lookup failed)`,
  EAI_AGAIN: (host) => `DNS lookup of "${host}" failed for now (EAI_AGAIN)`,
  ECONNREFUSED: (host) => `connection refused by ${host} (nothing listening there)`,
  ECONNRESET: (host) => `connection reset by ${host}`,
  ETIMEDOUT: (host) => `connection to ${host} timed out`,
};
