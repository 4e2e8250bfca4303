/**
 * Azure SDK errors → ferry codes, through core's error-mapping kit (sdk-errors.ts): this file is the
 * Blob service's table. A RestError carries the request (headers, URL with any SAS), so what ferry
 * attaches as `cause` is a fresh, redacted error: code, status and request id only.
 */
import { type ErrorCode, type FerryError, sdkErrorMapper } from "@ferry/plugin-kit";

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

type KitContext = ErrorContext & { root: string };

const CODES: Record<string, ErrorCode> = {
  BlobNotFound: "NotFound",
  ContainerNotFound: "NotFound",
  ResourceNotFound: "NotFound",
  ConditionNotMet: "ConditionNotMet",
  BlobAlreadyExists: "ConditionNotMet",
  TargetConditionNotMet: "ConditionNotMet",
  // @azure/identity: no credential in the chain worked.
  CredentialUnavailableError: "PermissionDenied",
  AggregateAuthenticationError: "PermissionDenied",
  AuthenticationRequiredError: "PermissionDenied",
  AuthenticationError: "PermissionDenied",
  // Another upload to the same name committed first, and Azure discarded this upload's staged blocks:
  // writing again succeeds.
  InvalidBlockList: "Transient",
  Md5Mismatch: "Integrity",
  InvalidMd5: "Integrity",
  Crc64Mismatch: "Integrity",
  ServerBusy: "Transient",
  OperationTimedOut: "Transient",
  AuthenticationFailed: "PermissionDenied",
  AuthorizationFailure: "PermissionDenied",
  InvalidRange: "InvalidInput",
};

const mapError = sdkErrorMapper<RestErrorLike, KitContext>({
  system: "az",
  object: "blob",
  facts: (error) => ({
    name: error.details?.errorCode ?? error.code ?? error.name ?? "Error",
    status: error.statusCode,
    // The service's messages go on with a RequestId and Time line each: the first line says it.
    message: error.message?.split("\n")[0],
    requestId: error.details?.requestId,
    code: error.code,
  }),
  codes: CODES,
  statuses: { 409: "ConditionNotMet" },
  // Azurite reports a Content-MD5 mismatch as a generic 400 InvalidOperation.
  messages: [{ pattern: /content-?md5/i, status: 400, code: "Integrity" }],
  describe,
  permissionHint: "check the account key, SAS or Azure credential ferry found",
});

/** What only the Blob service says; else the kit's words. */
function describe(code: ErrorCode, _error: RestErrorLike, { name }: { name: string }, context: KitContext) {
  if (name === "ContainerNotFound") return `container "${context.container}" does not exist`;
  if (code === "ConditionNotMet") return `the precondition failed (${name})`;
  if (name === "InvalidBlockList") {
    return "another upload to this blob committed first and the service discarded this upload's blocks; write again";
  }
  if (code === "Integrity")
    return `the service received other bytes than were sent (${name}): corrupted on the way`;
  return undefined;
}

export function mapAzureError(error: unknown, context: ErrorContext): FerryError {
  return mapError(error, { ...context, root: context.container });
}
