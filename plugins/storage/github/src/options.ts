import { type Duration, httpUrlOption, millisecondsOption } from "@ferry/plugin-kit";
import type { Octokit } from "@octokit/rest";

/** A commit author or committer. The date is the commit time. */
export interface GitIdentity {
  name: string;
  email: string;
}

/** What one commit changes, for building its message. */
export interface CommitSummary {
  /** Paths written (new or replaced). */
  written: string[];
  deleted: string[];
  /** `[from, to]` pairs copied server-side. */
  copied: [string, string][];
  /** `[from, to]` pairs moved (renamed) in the same commit. */
  moved: [string, string][];
  branch: string;
}

export interface GithubOptions {
  /**
   * Personal access token or GitHub App token. Default: `GITHUB_TOKEN`, then `GH_TOKEN` from the
   * environment; without one, public repositories are readable at GitHub's anonymous rate limit.
   * Never logged, never put in an error message.
   */
  token?: string | undefined;
  /** API root, e.g. `https://github.example.com/api/v3` for GitHub Enterprise Server. Default: `GITHUB_API_URL` or `https://api.github.com`. */
  baseUrl?: string | undefined;
  /** Your own configured client (auth, retries, throttling, proxy); `token` and `baseUrl` are then ignored. */
  octokit?: Octokit | undefined;
  /** Commit message for writes, deletes, copies and moves: a fixed text or built from what the commit changes. */
  commitMessage?: string | ((summary: CommitSummary) => string) | undefined;
  /** Commit author. Default: the token's user (GitHub fills it in). */
  author?: GitIdentity | undefined;
  /** Commit committer. Default: the author. */
  committer?: GitIdentity | undefined;
  /**
   * How long (ms) a branch or tag's resolved commit is reused before asking GitHub again. Default 5000.
   * Trees and blobs are content-addressed and cached by id regardless; a storage's own commits update
   * it at once, so this only bounds how soon pushes from elsewhere are seen. Use 0 to always re-resolve.
   */
  treeCacheTtl?: number | undefined;
  /**
   * Idle timeout: a request that receives nothing for this long (before its answer, or between
   * chunks of it) is aborted and fails as Transient ("no data from HOST for 60 s while accessing
   * github://owner/repo@ref/path"), which transfers retry. Milliseconds, or a duration such as "30s"
   * or "2m"; 0 turns it off. Default: `setIdleTimeout()` / the CLI's `--timeout`, else
   * `FERRY_TIMEOUT`, else 60 s. Not applied to your own `octokit`.
   */
  timeout?: Duration | undefined;
}

/** How long a branch or tag's resolved commit is reused by default (ms). */
export const DEFAULT_TREE_CACHE_TTL = 5000;

/** The token from the environment: `GITHUB_TOKEN`, then `GH_TOKEN`. */
export function environmentToken(): string | undefined {
  return process.env.GITHUB_TOKEN || process.env.GH_TOKEN || undefined;
}

/**
 * The API root: `baseUrl`, else `GITHUB_API_URL`, else github.com's; without a trailing slash. A
 * malformed one is InvalidInput naming where it came from.
 */
export function apiBaseUrl(options: GithubOptions): string {
  const url =
    httpUrlOption("github(): baseUrl", options.baseUrl, "github") ??
    httpUrlOption("GITHUB_API_URL", process.env.GITHUB_API_URL || undefined, "github") ??
    "https://api.github.com";
  return url.replace(/\/+$/, "");
}

/** Refuse malformed options when the plugin is made, not on its first request. */
export function checkOptions(options: GithubOptions): void {
  httpUrlOption("github(): baseUrl", options.baseUrl, "github");
  millisecondsOption("github(): treeCacheTtl", options.treeCacheTtl, "github");
}
