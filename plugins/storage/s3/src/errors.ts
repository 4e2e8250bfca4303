/**
 * SDK errors → ferry codes, through core's error-mapping kit (sdk-errors.ts): this file is S3's table.
 * The SDK's error objects carry request details (some S3-compatible servers echo the access key id
 * and the string that was signed), so what ferry attaches as `cause` is a fresh, redacted error:
 * name, message, status and request id only.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import {
  type ErrorCode,
  type FerryError,
  type SdkErrorFacts,
  sdkErrorMapper,
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

type KitContext = ErrorContext & { root: string };

/** S3's error codes (and the SDK's error names) whose meaning does not depend on the status. */
const CODES: Record<string, ErrorCode> = {
  ...same("NotFound", ["NoSuchKey", "NotFound", "NoSuchBucket", "NoSuchUpload"]),
  ...same("ConditionNotMet", ["PreconditionFailed", "ConditionalRequestConflict"]),
  ...same("Integrity", ["BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch"]),
  ...same("Unsupported", ["NotImplemented", "MethodNotAllowed"]),
  ...same("Transient", [
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "TooManyRequests",
    "RequestLimitExceeded",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "InternalError",
    "ServiceUnavailable",
    "TimeoutError",
    "NetworkingError",
  ]),
  ...same("PermissionDenied", [
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "CredentialsProviderError",
  ]),
  ...same("InvalidInput", [
    "InvalidRange",
    "InvalidBucketName",
    "KeyTooLongError",
    "EntityTooSmall",
    "EntityTooLarge",
  ]),
};

function same(code: ErrorCode, names: readonly string[]): Record<string, ErrorCode> {
  return Object.fromEntries(names.map((name) => [name, code]));
}

const mapError = sdkErrorMapper<SdkError, KitContext>({
  system: "s3",
  object: "object",
  facts: (error) => ({
    name: error.Code ?? error.name ?? error.code ?? "Error",
    status: error.$metadata?.httpStatusCode,
    message: error.message,
    requestId: error.$metadata?.requestId,
    code: error.code,
  }),
  codes: CODES,
  statuses: { 409: "ConditionNotMet", 501: "Unsupported" },
  messages: [{ pattern: /socket hang up/i, code: "Transient" }],
  classify: (error, _facts, context) =>
    missingProfile(context) !== undefined || isMissingRegion(error) ? "InvalidInput" : undefined,
  describe,
  permissionHint: "check the credentials ferry found in the AWS chain and the bucket policy",
  endpointHint: () =>
    `check AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL${wording({ library: " or s3({ endpoint })", cli: "" })}`,
});

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

/** What only S3 says: a missing profile, credentials or region, a missing bucket; else the kit's words. */
function describe(_code: ErrorCode, error: SdkError, facts: SdkErrorFacts, context: KitContext) {
  const profile = missingProfile(context);
  if (profile !== undefined) {
    return `AWS profile "${profile}" (${context.profile === undefined ? "AWS_PROFILE" : "the profile option"}) was not found in ~/.aws/config or ~/.aws/credentials (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE)`;
  }
  if (facts.name === "CredentialsProviderError" && /could not load credentials/i.test(error.message ?? "")) {
    return `no AWS credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE${wording({ library: ", or pass s3({ credentials })", cli: "" })}`;
  }
  if (isMissingRegion(error)) {
    return `no AWS region is configured; set AWS_REGION (or a region in your AWS profile)${wording({ library: ", or pass s3({ region })", cli: "" })}`;
  }
  if (facts.name === "NoSuchBucket") return `bucket "${context.bucket}" does not exist`;
  return undefined;
}

export function mapS3Error(error: unknown, context: ErrorContext): FerryError {
  return mapError(error, { ...context, root: context.bucket });
}
