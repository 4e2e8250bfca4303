/**
 * SDK errors → ferry codes. The SDK's error objects carry request details (some S3-compatible servers
 * echo the access key id and the string that was signed), so what ferry attaches as `cause` is a
 * fresh, redacted error: name, message, status and request id only.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import {
  describeStall,
  type ErrorCode,
  FerryError,
  isNetworkError,
  networkFailure,
  redactSecrets,
  wording,
} from "@ferry/plugin-kit";

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
  /** The `profile` option, when given (else AWS_PROFILE is what the SDK used). */
  profile?: string | undefined;
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

/** Core's one redaction (URL credentials, signed-URL parameters, known credentials) plus this plugin's configured secrets. */
export function redact(text: string, secrets: readonly string[] = []): string {
  return redactSecrets(text, { secrets });
}

function codeOf(error: SdkError): string {
  return error.Code ?? error.name ?? error.code ?? "Error";
}

function classify(error: SdkError, context: ErrorContext): ErrorCode {
  const callerAborted = context.callerAborted;
  const name = codeOf(error);
  const status = error.$metadata?.httpStatusCode;
  if (missingProfile(context) !== undefined) return "InvalidInput";
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

/**
 * The profile AWS_PROFILE (or the `profile` option) names when neither shared file has it: the SDK
 * then reports a missing region or missing credentials, which hides the real mistake.
 */
function missingProfile(context: ErrorContext): string | undefined {
  const profile = context.profile ?? process.env.AWS_PROFILE;
  if (!profile || profile === "default") return undefined;
  const files = [
    process.env.AWS_CONFIG_FILE || join(homedir(), ".aws", "config"),
    process.env.AWS_SHARED_CREDENTIALS_FILE || join(homedir(), ".aws", "credentials"),
  ];
  const escaped = profile.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const header = new RegExp(`^\\s*\\[\\s*(?:profile\\s+)?${escaped}\\s*\\]`, "m");
  for (const file of files) {
    try {
      if (existsSync(file) && header.test(readFileSync(file, "utf8"))) return undefined;
    } catch {
      // An unreadable file holds no profile we can see.
    }
  }
  return profile;
}

function isMissingCredentials(error: SdkError): boolean {
  return (
    codeOf(error) === "CredentialsProviderError" && /could not load credentials/i.test(error.message ?? "")
  );
}

function describe(code: ErrorCode, error: SdkError, context: ErrorContext): string {
  const where =
    context.path === undefined ? `s3://${context.bucket}` : `s3://${context.bucket}/${context.path}`;
  const profile = missingProfile(context);
  if (profile !== undefined) {
    return `${context.operation} ${where}: AWS profile "${profile}" (${context.profile === undefined ? "AWS_PROFILE" : "the profile option"}) was not found in ~/.aws/config or ~/.aws/credentials (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE)`;
  }
  if (isMissingCredentials(error)) {
    return `${context.operation} ${where}: no AWS credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE${wording({ library: ", or pass s3({ credentials })", cli: "" })}`;
  }
  const network = networkFailure(error);
  if (network !== undefined) {
    return `${context.operation} ${where}: ${network.description}; check AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL${wording({ library: " or s3({ endpoint })", cli: "" })}`;
  }
  if (isMissingRegion(error)) {
    return `${context.operation} ${where}: no AWS region is configured; set AWS_REGION (or a region in your AWS profile)${wording({ library: ", or pass s3({ region })", cli: "" })}`;
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
  const code = classify(sdk, context);
  return new FerryError(code, redact(describe(code, sdk, context), secrets), {
    system: "s3",
    path: context.path,
    // BadDigest and its kind: the body did not arrive as sent, which another attempt may fix.
    ...(code === "Integrity" ? { retryable: true } : {}),
    cause: safeCause(sdk, secrets),
  });
}
