/**
 * GitHub's answers mapped onto ferry's error codes. Messages name the repository, ref and path the
 * operation was about; the token never appears (octokit redacts it from the request it attaches too).
 */
import {
  describeStall,
  errors,
  FerryError,
  isNetworkError,
  networkFailure,
  wording,
} from "@ferry/plugin-kit";
import type { Octokit } from "@octokit/rest";

interface HttpFailure {
  status: number;
  message: string;
  response?: { headers?: Record<string, string | number | undefined>; data?: unknown } | undefined;
}

function isHttpFailure(error: unknown): error is HttpFailure {
  return (
    typeof error === "object" &&
    error !== null &&
    typeof (error as HttpFailure).status === "number" &&
    error instanceof Error
  );
}

export function githubMessage(error: unknown): string {
  const data = (error as HttpFailure).response?.data;
  if (
    typeof data === "object" &&
    data !== null &&
    typeof (data as { message?: unknown }).message === "string"
  ) {
    return (data as { message: string }).message;
  }
  return error instanceof Error ? error.message : String(error);
}

export function httpStatus(error: unknown): number | undefined {
  return isHttpFailure(error) ? error.status : undefined;
}

/** When the rate limit resets, if this failure is a rate limit. */
function rateLimitReset(
  failure: HttpFailure,
): { retryAfter: Date; limit: string | undefined; secondary: boolean } | undefined {
  if (failure.status !== 403 && failure.status !== 429) return undefined;
  const headers = failure.response?.headers ?? {};
  const retryAfterSeconds = Number(headers["retry-after"]);
  const message = githubMessage(failure);
  if (Number.isFinite(retryAfterSeconds) && headers["retry-after"] !== undefined) {
    return { retryAfter: new Date(Date.now() + retryAfterSeconds * 1000), limit: undefined, secondary: true };
  }
  if (String(headers["x-ratelimit-remaining"]) === "0") {
    const reset = Number(headers["x-ratelimit-reset"]);
    const retryAfter = Number.isFinite(reset) ? new Date(reset * 1000) : new Date(Date.now() + 60_000);
    return {
      retryAfter,
      limit: headers["x-ratelimit-limit"] === undefined ? undefined : String(headers["x-ratelimit-limit"]),
      secondary: false,
    };
  }
  if (/secondary rate limit/i.test(message))
    return { retryAfter: new Date(Date.now() + 60_000), limit: undefined, secondary: true };
  return undefined;
}

export interface ErrorSubject {
  /** `owner/repo@ref/path` or whatever the operation was about. */
  what: string;
  path?: string | undefined;
}

/** Any error from a GitHub call as a FerryError about `subject`. */
export function toGithubError(error: unknown, subject: ErrorSubject): FerryError {
  const stall = describeStall(error, "access", `github://${subject.what}`, {
    system: "github",
    path: subject.path,
  });
  if (stall) return stall;
  if (FerryError.isInstance(error)) return error;
  const ctx = { system: "github", path: subject.path, cause: error };
  const transport = transportError(error, subject, ctx);
  if (transport) return transport;
  if (!isHttpFailure(error))
    return errors.unexpected(
      `${subject.what}: ${error instanceof Error ? error.message : String(error)}`,
      ctx,
    );
  return httpError(error, subject, ctx);
}

type Context = { system: string; path: string | undefined; cause: unknown };

/** A request that got no answer: a named network failure, a dropped connection, an abort. */
function transportError(error: unknown, subject: ErrorSubject, ctx: Context): FerryError | undefined {
  // A named network failure (a host that does not resolve, a refused connection) before the generic
  // "dropped": fetch wraps both the same way, and only the first tells the user what to fix.
  const network = networkFailure(error);
  if (network !== undefined) {
    return errors.transient(
      `GitHub API unreachable for ${subject.what}: ${network.description}; check GITHUB_API_URL${wording({ library: " or github({ baseUrl })", cli: "" })}`,
      ctx,
    );
  }
  if (isDroppedConnection(error))
    return errors.transient(`the connection to GitHub dropped while accessing ${subject.what}`, ctx);
  if (error instanceof Error && error.name === "AbortError")
    return errors.aborted(`aborted: ${subject.what}`, ctx);
  return undefined;
}

/** An HTTP error answer, by status (a rate limit first). */
function httpError(error: HttpFailure, subject: ErrorSubject, ctx: Context): FerryError {
  const message = githubMessage(error);
  const rate = rateLimitReset(error);
  if (rate) {
    const kind = rate.secondary
      ? "secondary rate limit"
      : `rate limit${rate.limit ? ` (${rate.limit} requests per hour)` : ""}`;
    return errors.transient(
      `GitHub API ${kind} exceeded while accessing ${subject.what}; try again after ${rate.retryAfter.toISOString()}`,
      {
        ...ctx,
        retryAfter: rate.retryAfter,
      },
    );
  }
  switch (error.status) {
    case 401:
      return errors.permissionDenied(
        `GitHub rejected the token (bad credentials) for ${subject.what}: check GITHUB_TOKEN / GH_TOKEN${wording({ library: " or the token option", cli: "" })}`,
        ctx,
      );
    case 403:
      if (
        /too_large|too large/i.test(JSON.stringify((error.response?.data as object | undefined) ?? message))
      ) {
        return errors.unsupported(`${subject.what} is larger than the GitHub API serves (100 MB)`, ctx);
      }
      return errors.permissionDenied(`GitHub denied access to ${subject.what}: ${message}`, ctx);
    case 404:
      return errors.notFound(`${subject.what} was not found on GitHub`, ctx);
    case 409:
      if (/empty/i.test(message))
        return errors.notFound(`${subject.what}: the repository is empty (it has no commits yet)`, ctx);
      return errors.conditionNotMet(`${subject.what}: ${message}`, ctx);
    case 422:
      if (/fast forward/i.test(message)) {
        return errors.conditionNotMet(
          `${subject.what}: the branch moved while committing (someone else pushed); nothing was committed — re-read and retry`,
          ctx,
        );
      }
      if (/no commit found/i.test(message)) return errors.notFound(`${subject.what}: no such ref`, ctx);
      return errors.invalidInput(`GitHub refused the change to ${subject.what}: ${message}`, ctx);
    default:
      if (error.status >= 500 || error.status === 408) {
        return errors.transient(
          `GitHub request for ${subject.what} failed (${error.status}): ${message}`,
          ctx,
        );
      }
      return errors.unexpected(
        `GitHub request for ${subject.what} failed (${error.status}): ${message}`,
        ctx,
      );
  }
}

/** fetch's word for a connection cut mid-answer ("terminated", caused by ECONNRESET and the like). */
function isDroppedConnection(error: unknown): boolean {
  for (let current = error, depth = 0; current && typeof current === "object" && depth < 5; depth++) {
    const { message, code } = current as { message?: unknown; code?: unknown };
    if (message === "terminated" || message === "fetch failed" || isNetworkError(code)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * A 404 (or "no commit") is ambiguous: find out whether the repository, the ref or the path is
 * missing, and say which. Other failures are mapped as they are.
 */
export async function explainFailure(
  api: () => Promise<Octokit>,
  error: unknown,
  where: { owner: string; repo: string; ref: string | undefined; what: string; path: string },
): Promise<FerryError> {
  const { owner, repo, ref, path } = where;
  const status = httpStatus(error);
  const mapped = toGithubError(error, { what: where.what, path });
  if (status !== 404 && !(status === 422 && mapped.code === "NotFound")) return mapped;
  const ctx = { system: "github", path, cause: error };
  try {
    await (await api()).repos.get({ owner, repo });
  } catch (repoError) {
    if (httpStatus(repoError) !== 404) return mapped;
    return errors.notFound(
      `repository ${owner}/${repo} was not found on GitHub (or it is private and the token cannot see it)`,
      ctx,
    );
  }
  if (ref === undefined) return mapped;
  try {
    await (await api()).repos.getCommit({
      owner,
      repo,
      ref,
      headers: { accept: "application/vnd.github.sha" },
    });
  } catch {
    return errors.notFound(
      `ref "${ref}" was not found in ${owner}/${repo} (no such branch, tag or commit)`,
      ctx,
    );
  }
  return mapped;
}
