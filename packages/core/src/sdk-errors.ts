/**
 * Helpers for plugins mapping their SDK's errors into FerryError codes: the network failures that are
 * always worth a retry, the HTTP status baseline every REST storage API shares, and redaction of
 * secrets from anything that may end up in a message or a log line.
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

export interface RedactOptions {
  /** Literal values (keys, tokens) never to appear. */
  secrets?: readonly string[];
  /** Values shorter than this are left alone (they would match ordinary text). Default 4. */
  minLength?: number;
  /** Patterns whose match is replaced; a first capture group (e.g. `Signature=`) is kept. */
  patterns?: readonly RegExp[];
}

/** `text` with every secret and every pattern match replaced by `<redacted>`. */
export function redactSecrets(text: string, options: RedactOptions = {}): string {
  let out = text;
  const minLength = options.minLength ?? 4;
  for (const secret of options.secrets ?? []) {
    if (secret.length >= minLength) out = out.split(secret).join("<redacted>");
  }
  for (const pattern of options.patterns ?? []) {
    out = out.replace(
      pattern,
      (_match, prefix?: unknown) => `${typeof prefix === "string" ? prefix : ""}<redacted>`,
    );
  }
  return out;
}
