/**
 * Client errors → ferry codes. The client's errors come in several shapes (ApiError with `code` from
 * the JSON body, GaxiosError with `status`, a plain `{code, message, errors}` object from a failed
 * resumable chunk, RequestError with a string code after an integrity check, Node network errors),
 * and some carry request URLs and headers. What ferry attaches as `cause` is a fresh, redacted
 * error: name, message and status only.
 */
import {
  describeStall,
  type ErrorCode,
  errorCodeForStatus,
  FerryError,
  isNetworkError,
  networkFailure,
  redactSecrets,
  stallError,
  wording,
} from "@ferry/plugin-kit";
import { NO_CREDENTIALS } from "./options.ts";

interface ClientError {
  name?: string;
  message?: string;
  code?: number | string;
  status?: number;
  response?: { status?: number };
  errors?: { reason?: string; message?: string }[];
}

export interface ErrorContext {
  bucket: string;
  path?: string | undefined;
  /** What was being done: "read", "write", "copy", … */
  operation: string;
  /** Values never to appear in a message (a configured private key, client email is fine). */
  secrets?: readonly string[];
  /** The idle timeout in ms, for the stall error when the client's own timeout fired. */
  timeoutMs?: number | undefined;
  /** The server had answered and the body was on its way: a network failure is the connection's, not the endpoint setting's. */
  answered?: boolean;
}

/** The client's idle timeout (teeny-request: "network timeout at: URL"), as the stall it is. */
function clientStall(error: unknown, timeoutMs: number | undefined): FerryError | undefined {
  const { type, message } = (error ?? {}) as { type?: unknown; message?: unknown };
  const url = /^network timeout at: (\S+)/.exec(String(message ?? ""))?.[1];
  if (type !== "request-timeout" || url === undefined || !timeoutMs) return undefined;
  let host: string;
  try {
    host = new URL(url).host;
  } catch {
    return undefined;
  }
  return stallError(host, timeoutMs, { system: "gs", cause: error });
}

const INTEGRITY_CODES = new Set([
  "FILE_NO_UPLOAD",
  "FILE_NO_UPLOAD_DELETE",
  "CONTENT_DOWNLOAD_MISMATCH",
  "MD5_NOT_AVAILABLE",
]);

/** Core's one redaction (URL credentials, signed-URL parameters, known credentials) plus this plugin's configured secrets. */
export function redact(text: string, secrets: readonly string[] = []): string {
  return redactSecrets(text, { secrets, minLength: 8 });
}

function statusOf(error: ClientError): number | undefined {
  if (typeof error.code === "number") return error.code;
  return error.status ?? error.response?.status;
}

function classify(error: ClientError): ErrorCode {
  const status = statusOf(error);
  const code = typeof error.code === "string" ? error.code : undefined;
  const message = error.message ?? "";
  if (error.name === "AbortError" || code === "ABORT_ERR") return "Aborted";
  if (code !== undefined && INTEGRITY_CODES.has(code)) return "Integrity";
  if (status === 409) return "AlreadyExists";
  if (status === 400 && /\b(MD5|CRC32C|hash)\b/i.test(message)) return "Integrity";
  const byStatus = errorCodeForStatus(status);
  if (byStatus) return byStatus;
  if (isNetworkError(code)) return "Transient";
  if (/Retry limit exceeded|socket hang up|ECONNRESET|EPIPE|connection closure/i.test(message))
    return "Transient";
  if (/Unable to read the credential file/i.test(message)) return "NotFound";
  if (/Could not load the default credentials|Could not refresh access token|invalid_grant/i.test(message))
    return "PermissionDenied";
  return "Unexpected";
}

function where(context: ErrorContext): string {
  return context.path === undefined ? `gs://${context.bucket}` : `gs://${context.bucket}/${context.path}`;
}

function describe(code: ErrorCode, error: ClientError, context: ErrorContext): string {
  const at = where(context);
  const message = error.message ?? "";
  const network = networkFailure(error);
  if (network !== undefined && context.answered)
    return `${context.operation} ${at}: ${network.description} during the download`;
  if (network !== undefined)
    return `${context.operation} ${at}: ${network.description}; check STORAGE_EMULATOR_HOST or gcs({ apiEndpoint })`;
  // Object messages name the bucket too ("No such object: bucket/key"), so look for the object form first.
  if (
    code === "NotFound" &&
    !/No such object/i.test(message) &&
    /bucket does not exist|bucket.*not found/i.test(message)
  )
    return `${context.operation} ${at}: bucket "${context.bucket}" does not exist`;
  const credentials =
    /Unable to read the credential file specified by the (\w+) environment variable: The file at (.*?) does not exist/i.exec(
      message,
    );
  if (code === "NotFound" && credentials)
    return `${context.operation} ${at}: the credentials file ${credentials[2]} named by ${credentials[1]} does not exist`;
  if (code === "NotFound") return `${context.operation} ${at}: no such object`;
  if (code === "ConditionNotMet")
    return `${context.operation} ${at}: the precondition failed (an object already exists or changed)`;
  if (code === "PermissionDenied")
    return `${context.operation} ${at}: permission denied; check the credentials ferry found (Application Default Credentials${wording({ library: ", keyFilename or credentials", cli: ", e.g. GOOGLE_APPLICATION_CREDENTIALS" })}) and the bucket's IAM policy`;
  if (code === "Integrity") {
    const what =
      context.operation === "read"
        ? "the bytes received do not match the object's checksum"
        : "checksum mismatch, nothing was stored";
    return `${context.operation} ${at}: ${what} (${message.replace(/\s+/g, " ").trim()})`;
  }
  const status = statusOf(error);
  return `${context.operation} ${at}: ${message || error.name || "error"}${status ? ` (HTTP ${status})` : ""}`;
}

/** A redacted stand-in for the client error, safe to log. */
function safeCause(error: ClientError, secrets: readonly string[]): Error {
  const cause = new Error(redact(error.message ?? String(error.code ?? "error"), secrets));
  cause.name = error.name ?? "GcsError";
  const status = statusOf(error);
  const reason = error.errors?.[0]?.reason;
  Object.assign(cause, {
    ...(status !== undefined ? { status } : {}),
    ...(typeof error.code === "string" ? { code: error.code } : {}),
    ...(reason ? { reason } : {}),
  });
  return cause;
}

export function mapGcsError(error: unknown, context: ErrorContext): FerryError {
  const stall = describeStall(
    clientStall(error, context.timeoutMs) ?? error,
    context.operation,
    where(context),
    {
      system: "gs",
      path: context.path,
    },
  );
  if (stall) return stall;
  if (FerryError.isInstance(error)) return error;
  if (error instanceof Error && error.name === NO_CREDENTIALS) {
    return new FerryError("PermissionDenied", `${context.operation} ${where(context)}: ${error.message}`, {
      system: "gs",
      path: context.path,
    });
  }
  const client = (
    typeof error === "object" && error !== null ? error : { message: String(error) }
  ) as ClientError;
  const secrets = context.secrets ?? [];
  const code = classify(client);
  return new FerryError(code, redact(describe(code, client, context), secrets), {
    system: "gs",
    path: context.path,
    // A hash mismatch means bytes were changed on the way, which another attempt may not repeat.
    ...(code === "Integrity" && client.code !== "MD5_NOT_AVAILABLE" ? { retryable: true } : {}),
    cause: safeCause(client, secrets),
  });
}

/** True for a "not found" from the client, in whichever shape it arrives. */
export function isNotFound(error: unknown): boolean {
  return typeof error === "object" && error !== null && statusOf(error as ClientError) === 404;
}

export function statusOfError(error: unknown): number | undefined {
  return typeof error === "object" && error !== null ? statusOf(error as ClientError) : undefined;
}
