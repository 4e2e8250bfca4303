/**
 * GCS JSON API errors, in the documented wire shape
 * `{"error":{"code":404,"message":"…","errors":[{"message":"…","domain":"global","reason":"notFound"}]}}`.
 * `code` always equals the HTTP status and `errors[0].message` equals `message`, because the
 * official client takes the error's code from the body and merges differing messages.
 */
export class GcsError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly extra: Record<string, string>;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    reason: string,
    message: string,
    options: { extra?: Record<string, string>; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.status = status;
    this.reason = reason;
    this.extra = options.extra ?? {};
    this.headers = options.headers ?? {};
  }

  body(): { error: { code: number; message: string; errors: Record<string, string>[] } } {
    return {
      error: {
        code: this.status,
        message: this.message,
        errors: [{ message: this.message, domain: "global", reason: this.reason, ...this.extra }],
      },
    };
  }
}

export const gcsErrors = {
  invalid: (message: string) => new GcsError(400, "invalid", message),
  required: (message: string) => new GcsError(400, "required", message),
  noSuchObject: (bucket: string, name: string) =>
    new GcsError(404, "notFound", `No such object: ${bucket}/${name}`),
  noSuchBucket: () => new GcsError(404, "notFound", "The specified bucket does not exist."),
  notFound: (message: string) => new GcsError(404, "notFound", message),
  bucketExists: () =>
    new GcsError(
      409,
      "conflict",
      "Your previous request to create the named bucket succeeded and you already own it.",
    ),
  bucketNotEmpty: () => new GcsError(409, "conflict", "The bucket you tried to delete is not empty."),
  conditionNotMet: () =>
    new GcsError(412, "conditionNotMet", "At least one of the pre-conditions you specified did not hold.", {
      extra: { locationType: "header", location: "If-Match" },
    }),
  notModified: () => new GcsError(304, "notModified", "Not Modified"),
  rangeNotSatisfiable: (size: number) =>
    new GcsError(416, "requestedRangeNotSatisfiable", "The requested range cannot be satisfied.", {
      headers: { "content-range": `bytes */${size}` },
    }),
  hashMismatch: (algorithm: "MD5" | "CRC32C", provided: string, calculated: string) =>
    new GcsError(
      400,
      "invalid",
      `Provided ${algorithm} hash "${provided}" doesn't match calculated ${algorithm} hash "${calculated}".`,
    ),
  methodNotAllowed: () =>
    new GcsError(405, "methodNotAllowed", "The method is not allowed for this resource."),
  unknownSession: () => new GcsError(404, "notFound", "No such upload session."),
  internal: (cause: unknown) =>
    new GcsError(
      500,
      "internalError",
      `Internal error: ${cause instanceof Error ? cause.message : String(cause)}`,
    ),
  serviceUnavailable: () => new GcsError(503, "backendError", "Backend Error"),
};
