/**
 * The error-mapping kit for storage plugins: an SDK's error in, a FerryError out, with a code, a
 * one-line message naming the place, and a redacted cause. A plugin describes its service in a small
 * table and gets its mapper back:
 *
 * ```ts
 * const mapError = sdkErrorMapper<MyServiceError>({
 *   system: "s3",                 // FerryError.system and the scheme of the place: s3://bucket/key
 *   object: "object",             // "no such object"
 *   facts: (error) => ({          // how to read this SDK's error
 *     name: error.Code ?? error.name ?? "Error",          // the service's error code or the SDK's name
 *     status: error.$metadata?.httpStatusCode,
 *     message: error.message,
 *     requestId: error.$metadata?.requestId,
 *     code: error.code,                                   // a Node code: ECONNRESET, ABORT_ERR
 *   }),
 *   codes: { NoSuchKey: "NotFound", SlowDown: "Transient" },  // service error names → ferry codes
 *   statuses: { 409: "ConditionNotMet" },                     // where the service differs from errorCodeForStatus
 *   permissionHint: "check the credentials ferry found",      // "access denied (<name>); <hint>"
 *   endpointHint: () => "check MY_ENDPOINT",                  // "<host> does not resolve …; <hint>"
 * });
 * throw mapError(error, { operation: "read", root: bucket, path: key, secrets, callerAborted });
 * ```
 *
 * A code is decided in this order: the table's `classify` hook; an abort (AbortError or ABORT_ERR:
 * `Aborted`, or `Transient` when the context says the caller's signal did not fire); `codes` by name;
 * `messages` (patterns, optionally for one status); a network failure (NETWORK_ERROR_CODES) is
 * `Transient`; then `statuses`, then errorCodeForStatus; anything else is `Unexpected`. The message is
 * `<operation> <scheme>://<root>/<path>: ` and then the table's `describe` hook, or the kit's words:
 * a network failure described (networkFailure) with `endpointHint`, `no such <object>`, `the
 * precondition failed (a(n) <object> already exists or changed)`, `access denied (<name>);
 * <permissionHint>`, or `<name> (HTTP <status>): <message>`. A stall the idle timeout cut is reported
 * as such (describeStall) and a FerryError passes through unchanged. The message and the cause are
 * redacted (core's redaction plus the context's `secrets`); the cause is a fresh Error holding only
 * name, message, status, request id and code, never the SDK's request. Integrity errors are retryable
 * (the bytes changed on the way; another attempt may not repeat it).
 *
 * Below the mapper are its parts, for plugins that map by hand: the network error codes, the HTTP
 * status baseline and the description of a failed connection.
 */
import { type ErrorCode, FerryError } from "./errors.ts";
import { describeStall } from "./idle-timeout.ts";
import { redactSecrets } from "./redact.ts";

/** What the kit reads off an SDK error (the table's `facts`). */
export interface SdkErrorFacts {
  /** The service's error code, else the SDK's error name: "NoSuchKey", "BlobNotFound", "TimeoutError". */
  name: string;
  /** The HTTP status of the answer, when there was one. */
  status?: number | undefined;
  /** The message, as the cause and the fallback description carry it (redacted by the kit). */
  message?: string | undefined;
  /** The service's request id, kept on the cause. */
  requestId?: string | undefined;
  /** A Node or SDK code beside the name, e.g. ECONNRESET, ABORT_ERR. */
  code?: string | undefined;
}

/** Where and what: the mapper's second argument. Plugins may extend it (an AWS profile, …). */
export interface SdkErrorContext {
  /** What was being done: "read", "write", "copy", … */
  operation: string;
  /** The bucket or container. */
  root: string;
  path?: string | undefined;
  /** Values never to appear in a message (configured keys), on top of core's known secrets. */
  secrets?: readonly string[] | undefined;
  /**
   * Whether the caller's AbortSignal fired. `false` makes an SDK abort Transient (a body stream torn
   * down by the SDK or the socket, not by the caller). Undefined: trust the SDK.
   */
  callerAborted?: boolean | undefined;
}

/** A plugin's description of its service's errors; see the top of this file. */
export interface SdkErrorTable<E extends object, C extends SdkErrorContext = SdkErrorContext> {
  /** The system and URL scheme: "s3", "az", "gs". */
  system: string;
  /** What one stored thing is called: "object", "blob". */
  object: string;
  /** Reads name, status, message, request id and code off the SDK's error. */
  facts(error: E): SdkErrorFacts;
  /** Service error names → ferry codes, looked up before the status. */
  codes: Readonly<Record<string, ErrorCode>>;
  /** Statuses where the service differs from errorCodeForStatus, e.g. `{ 409: "ConditionNotMet" }`. */
  statuses?: Readonly<Record<number, ErrorCode>>;
  /** Message patterns, checked after `codes`: `{ pattern, code, status? }` (status: only with that status). */
  messages?: ReadonlyArray<{ pattern: RegExp; code: ErrorCode; status?: number }>;
  /** First say: a code decided by more than the error (configuration, the environment), else undefined. */
  classify?(error: E, facts: SdkErrorFacts, context: C): ErrorCode | undefined;
  /** First say on the message after `<operation> <where>: `, else undefined for the kit's words. */
  describe?(code: ErrorCode, error: E, facts: SdkErrorFacts, context: C): string | undefined;
  /** What to check when access is denied: "access denied (<name>); <permissionHint>". */
  permissionHint: string;
  /** What to check when the connection failed below HTTP (evaluated per error: it may use `wording`). */
  endpointHint?: () => string;
}

/** `<scheme>://<root>` or `<scheme>://<root>/<path>`: the place named in messages. */
export function placeOf(system: string, root: string, path: string | undefined): string {
  return path === undefined ? `${system}://${root}` : `${system}://${root}/${path}`;
}

/** The mapper a plugin's table describes: any thrown value in, a FerryError out. */
export function sdkErrorMapper<E extends object, C extends SdkErrorContext = SdkErrorContext>(
  table: SdkErrorTable<E, C>,
): (error: unknown, context: C) => FerryError {
  return (error, context) => {
    const where = placeOf(table.system, context.root, context.path);
    const stall = describeStall(error, context.operation, where, {
      system: table.system,
      path: context.path,
    });
    if (stall) return stall;
    if (FerryError.isInstance(error)) return error;
    const sdk = (typeof error === "object" && error !== null ? error : { message: String(error) }) as E;
    const facts = table.facts(sdk);
    const secrets = context.secrets ?? [];
    const code = classifySdkError(table, sdk, facts, context);
    const detail = table.describe?.(code, sdk, facts, context) ?? describeSdkError(table, code, sdk, facts);
    return new FerryError(code, redactSecrets(`${context.operation} ${where}: ${detail}`, { secrets }), {
      system: table.system,
      path: context.path,
      ...(code === "Integrity" ? { retryable: true } : {}),
      cause: safeCause(facts, secrets),
    });
  };
}

function classifySdkError<E extends object, C extends SdkErrorContext>(
  table: SdkErrorTable<E, C>,
  error: E,
  facts: SdkErrorFacts,
  context: C,
): ErrorCode {
  const decided = table.classify?.(error, facts, context);
  if (decided) return decided;
  const { name, status, code } = facts;
  if (name === "AbortError" || name === "ABORT_ERR" || code === "ABORT_ERR")
    return context.callerAborted === false ? "Transient" : "Aborted";
  if (Object.hasOwn(table.codes, name)) return table.codes[name]!;
  const message = facts.message ?? "";
  for (const rule of table.messages ?? []) {
    if ((rule.status === undefined || rule.status === status) && rule.pattern.test(message)) return rule.code;
  }
  if (isNetworkError(code) || isNetworkError(name)) return "Transient";
  const byStatus =
    status !== undefined && table.statuses && Object.hasOwn(table.statuses, status)
      ? table.statuses[status]
      : errorCodeForStatus(status);
  return byStatus ?? "Unexpected";
}

function describeSdkError<E extends object, C extends SdkErrorContext>(
  table: SdkErrorTable<E, C>,
  code: ErrorCode,
  error: E,
  facts: SdkErrorFacts,
): string {
  const network = table.endpointHint ? networkFailure(error) : undefined;
  if (network !== undefined) return `${network.description}; ${table.endpointHint!()}`;
  if (code === "NotFound") return `no such ${table.object}`;
  if (code === "ConditionNotMet")
    return `the precondition failed (${/^[aeiou]/i.test(table.object) ? "an" : "a"} ${table.object} already exists or changed)`;
  if (code === "PermissionDenied") return `access denied (${facts.name}); ${table.permissionHint}`;
  const { name, status, message } = facts;
  return `${name}${status ? ` (HTTP ${status})` : ""}${message && message !== name ? `: ${message}` : ""}`;
}

/** A redacted stand-in for the SDK error, safe to log: name, message, status, request id and code. */
function safeCause(facts: SdkErrorFacts, secrets: readonly string[]): Error {
  const cause = new Error(redactSecrets(facts.message ?? facts.name, { secrets }));
  cause.name = facts.name;
  Object.assign(cause, {
    ...(facts.status !== undefined ? { statusCode: facts.status } : {}),
    ...(facts.requestId ? { requestId: facts.requestId } : {}),
    ...(facts.code ? { code: facts.code } : {}),
  });
  return cause;
}

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
