/**
 * SDK errors → ferry codes. The SDK's error objects carry request details (some S3-compatible servers
 * echo the access key id and the string that was signed), so what ferry attaches as `cause` is a
 * fresh, redacted error: name, message, status and request id only.
 */
import { describeStall, type ErrorCode, FerryError, isNetworkError, redactSecrets } from "@ferry/core";

interface SdkError {
  name?: string;
  message?: string;
  code?: string;
  Code?: string;
  $fault?: "client" | "server";
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number; requestId?: string; extendedRequestId?: string };
}

export interface ErrorContext {
  path?: string | undefined;
  bucket: string;
  /** What was being done, e.g. "read", "write", "copy". */
  operation: string;
  /** Values never to appear in a message (static credentials, when configured). */
  secrets?: readonly string[];
  /**
   * Whether the caller's AbortSignal fired. `false` makes an SDK abort Transient (a body stream torn
   * down by the SDK or the socket, not by the caller). Undefined: trust the SDK.
   */
  callerAborted?: boolean | undefined;
}

const THROTTLING =
  /^(SlowDown|Throttling|ThrottlingException|TooManyRequests|RequestLimitExceeded|RequestTimeout|RequestTimeTooSkewed|InternalError|ServiceUnavailable)$/;

const CREDENTIAL_PATTERNS: RegExp[] = [
  /\b(?:AKIA|ASIA|AROA|AIDA)[0-9A-Z]{12,}\b/g,
  /(Credential=)[^,&\s]+/gi,
  /(Signature=)[0-9a-f]+/gi,
  /(X-Amz-Security-Token=)[^&\s]+/gi,
];

export function redact(text: string, secrets: readonly string[] = []): string {
  return redactSecrets(text, { secrets, patterns: CREDENTIAL_PATTERNS });
}

function codeOf(error: SdkError): string {
  return error.Code ?? error.name ?? error.code ?? "Error";
}

function classify(error: SdkError, callerAborted: boolean | undefined): ErrorCode {
  const name = codeOf(error);
  const status = error.$metadata?.httpStatusCode;
  if (isMissingRegion(error)) return "InvalidInput";
  if (name === "AbortError" || error.code === "ABORT_ERR")
    return callerAborted === false ? "Transient" : "Aborted";
  if (name === "NoSuchKey" || name === "NotFound" || name === "NoSuchBucket" || name === "NoSuchUpload")
    return "NotFound";
  if (name === "PreconditionFailed" || name === "ConditionalRequestConflict" || status === 412)
    return "ConditionNotMet";
  if (name === "BadDigest" || name === "InvalidDigest" || name === "XAmzContentSHA256Mismatch")
    return "Integrity";
  if (name === "NotImplemented" || name === "MethodNotAllowed" || status === 501) return "Unsupported";
  if (name === "InvalidRange") return "InvalidInput";
  if (THROTTLING.test(name) || status === 429 || (status !== undefined && status >= 500)) return "Transient";
  if (isNetworkError(error.code)) return "Transient";
  if (name === "TimeoutError" || name === "NetworkingError" || /socket hang up/i.test(error.message ?? ""))
    return "Transient";
  if (
    name === "AccessDenied" ||
    name === "InvalidAccessKeyId" ||
    name === "SignatureDoesNotMatch" ||
    name === "ExpiredToken" ||
    name === "InvalidToken" ||
    name === "CredentialsProviderError" ||
    status === 401 ||
    status === 403
  )
    return "PermissionDenied";
  if (
    name === "InvalidBucketName" ||
    name === "KeyTooLongError" ||
    name === "EntityTooSmall" ||
    name === "EntityTooLarge" ||
    status === 400
  )
    return "InvalidInput";
  if (status === 404) return "NotFound";
  if (status === 409) return "ConditionNotMet";
  return "Unexpected";
}

/** The SDK found no region in options, environment or profile (and no custom endpoint was set). */
function isMissingRegion(error: SdkError): boolean {
  return /^Region is missing$/i.test(error.message ?? "");
}

function describe(code: ErrorCode, error: SdkError, context: ErrorContext): string {
  const where =
    context.path === undefined ? `s3://${context.bucket}` : `s3://${context.bucket}/${context.path}`;
  if (isMissingRegion(error)) {
    return `${context.operation} ${where}: no AWS region is configured; set AWS_REGION (or a region in your AWS profile), or pass s3({ region })`;
  }
  const name = codeOf(error);
  if (name === "NoSuchBucket")
    return `${context.operation} ${where}: bucket "${context.bucket}" does not exist`;
  if (code === "NotFound") return `${context.operation} ${where}: no such object`;
  if (code === "ConditionNotMet")
    return `${context.operation} ${where}: the precondition failed (an object already exists or changed)`;
  if (code === "PermissionDenied") {
    return `${context.operation} ${where}: access denied (${name}); check the credentials ferry found in the AWS chain and the bucket policy`;
  }
  const status = error.$metadata?.httpStatusCode;
  const detail = error.message && error.message !== name ? `: ${error.message}` : "";
  return `${context.operation} ${where}: ${name}${status ? ` (HTTP ${status})` : ""}${detail}`;
}

/** A redacted stand-in for the SDK error, safe to log. */
function safeCause(error: SdkError, secrets: readonly string[]): Error {
  const cause = new Error(redact(error.message ?? codeOf(error), secrets));
  cause.name = codeOf(error);
  const status = error.$metadata?.httpStatusCode;
  Object.assign(cause, {
    ...(status !== undefined ? { statusCode: status } : {}),
    ...(error.$metadata?.requestId ? { requestId: error.$metadata.requestId } : {}),
    ...(error.code ? { code: error.code } : {}),
  });
  return cause;
}

export function mapS3Error(error: unknown, context: ErrorContext): FerryError {
  const where =
    context.path === undefined ? `s3://${context.bucket}` : `s3://${context.bucket}/${context.path}`;
  const stall = describeStall(error, context.operation, where, { system: "s3", path: context.path });
  if (stall) return stall;
  if (FerryError.isInstance(error)) return error;
  const sdk = (typeof error === "object" && error !== null ? error : { message: String(error) }) as SdkError;
  const secrets = context.secrets ?? [];
  const code = classify(sdk, context.callerAborted);
  return new FerryError(code, redact(describe(code, sdk, context), secrets), {
    system: "s3",
    path: context.path,
    cause: safeCause(sdk, secrets),
  });
}
