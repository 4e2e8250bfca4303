/**
 * Azure SDK errors → ferry codes. A RestError carries the request (headers, URL with any SAS), so
 * what ferry attaches as `cause` is a fresh, redacted error: code, status and request id only.
 */
import { describeStall, type ErrorCode, FerryError, isNetworkError, redactSecrets } from "@ferry/plugin-kit";

interface RestErrorLike {
  name?: string;
  message?: string;
  code?: string;
  statusCode?: number;
  details?: { errorCode?: string; requestId?: string };
}

export interface ErrorContext {
  path?: string | undefined;
  container: string;
  operation: string;
  secrets: readonly string[];
  /**
   * Whether the caller's AbortSignal fired. `false` makes an SDK abort Transient: the SDK also aborts
   * requests itself (a download stream giving up on a dropped connection). Undefined: trust the SDK.
   */
  callerAborted?: boolean | undefined;
}

/** Core's one redaction (URL credentials, signed-URL parameters, known credentials) plus this plugin's configured secrets. */
export function redact(text: string, secrets: readonly string[]): string {
  return redactSecrets(text, { secrets });
}

function errorCodeOf(error: RestErrorLike): string {
  return error.details?.errorCode ?? error.code ?? error.name ?? "Error";
}

function classify(error: RestErrorLike, callerAborted: boolean | undefined): ErrorCode {
  const code = errorCodeOf(error);
  const status = error.statusCode;
  if (error.name === "AbortError" || code === "ABORT_ERR")
    return callerAborted === false ? "Transient" : "Aborted";
  if (
    code === "BlobNotFound" ||
    code === "ContainerNotFound" ||
    code === "ResourceNotFound" ||
    status === 404
  )
    return "NotFound";
  if (
    code === "ConditionNotMet" ||
    code === "BlobAlreadyExists" ||
    code === "TargetConditionNotMet" ||
    status === 412
  )
    return "ConditionNotMet";
  // Another upload to the same name committed first, and Azure discarded this upload's staged blocks:
  // writing again succeeds.
  // @azure/identity: no credential in the chain worked.
  if (
    /^(CredentialUnavailableError|AggregateAuthenticationError|AuthenticationRequiredError|AuthenticationError)$/.test(
      error.name ?? "",
    )
  )
    return "PermissionDenied";
  if (code === "InvalidBlockList") return "Transient";
  if (code === "Md5Mismatch" || code === "InvalidMd5" || code === "Crc64Mismatch") return "Integrity";
  // Azurite reports a Content-MD5 mismatch as a generic 400 InvalidOperation.
  if (status === 400 && /content-?md5/i.test(error.message ?? "")) return "Integrity";
  if (
    status === 429 ||
    (status !== undefined && status >= 500) ||
    code === "ServerBusy" ||
    code === "OperationTimedOut"
  )
    return "Transient";
  if (isNetworkError(code) || isNetworkError(error.code)) return "Transient";
  if (
    status === 401 ||
    status === 403 ||
    code === "AuthenticationFailed" ||
    code === "AuthorizationFailure" ||
    code === "CredentialUnavailableError"
  )
    return "PermissionDenied";
  if (status === 409) return "ConditionNotMet";
  if (code === "InvalidRange" || status === 416 || status === 400) return "InvalidInput";
  return "Unexpected";
}

function describe(code: ErrorCode, error: RestErrorLike, context: ErrorContext): string {
  const where =
    context.path === undefined ? `az://${context.container}` : `az://${context.container}/${context.path}`;
  const name = errorCodeOf(error);
  if (name === "ContainerNotFound")
    return `${context.operation} ${where}: container "${context.container}" does not exist`;
  if (code === "NotFound") return `${context.operation} ${where}: no such blob`;
  if (code === "ConditionNotMet") return `${context.operation} ${where}: the precondition failed (${name})`;
  if (name === "InvalidBlockList") {
    return `${context.operation} ${where}: another upload to this blob committed first and the service discarded this upload's blocks; write again`;
  }
  if (code === "Integrity")
    return `${context.operation} ${where}: the service received other bytes than were sent (${name}): corrupted on the way`;
  if (code === "PermissionDenied") {
    return `${context.operation} ${where}: access denied (${name}); check the account key, SAS or Azure credential ferry found`;
  }
  const status = error.statusCode;
  const firstLine = (error.message ?? "").split("\n")[0];
  return `${context.operation} ${where}: ${name}${status ? ` (HTTP ${status})` : ""}${firstLine && firstLine !== name ? `: ${firstLine}` : ""}`;
}

export function mapAzureError(error: unknown, context: ErrorContext): FerryError {
  const where =
    context.path === undefined ? `az://${context.container}` : `az://${context.container}/${context.path}`;
  const stall = describeStall(error, context.operation, where, { system: "az", path: context.path });
  if (stall) return stall;
  if (FerryError.isInstance(error)) return error;
  const rest = (
    typeof error === "object" && error !== null ? error : { message: String(error) }
  ) as RestErrorLike;
  const code = classify(rest, context.callerAborted);
  const cause = new Error(redact((rest.message ?? errorCodeOf(rest)).split("\n")[0] ?? "", context.secrets));
  cause.name = errorCodeOf(rest);
  Object.assign(cause, {
    ...(rest.statusCode !== undefined ? { statusCode: rest.statusCode } : {}),
    ...(rest.details?.requestId ? { requestId: rest.details.requestId } : {}),
  });
  return new FerryError(code, redact(describe(code, rest, context), context.secrets), {
    system: "az",
    path: context.path,
    // The service saw other bytes than their Content-MD5 / CRC64 says: changed on the way, so retry.
    ...(code === "Integrity" ? { retryable: true } : {}),
    cause,
  });
}
