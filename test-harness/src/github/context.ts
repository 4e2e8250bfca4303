/** What a route handler gets, and how routes are declared. */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import type { HostedRepository } from "./repository.ts";
import type { RepoUrls } from "./shapes.ts";

/** The caller, from the Authorization header. */
export type Principal =
  | { kind: "anonymous"; address: string }
  | { kind: "token"; token: string; login: string; userId: number; canWrite: boolean };

export interface GithubServerSettings {
  /** Most entries a tree response holds before it is cut short with `truncated: true` (GitHub: 100,000). */
  treeEntryLimit: number;
  /** Largest file the contents API returns inline as base64 in its JSON form (GitHub: 1 MB). */
  contentsInlineMaxBytes: number;
  /** Largest file the contents API serves at all, even raw (GitHub: 100 MB). */
  contentsMaxBytes: number;
  /** Largest blob `GET /git/blobs/{sha}` serves (GitHub: 100 MB). */
  blobMaxBytes: number;
  /** Most entries a contents directory listing returns (GitHub: 1,000). */
  directoryListingMax: number;
  rateLimit: {
    /** Requests per window for a token (GitHub: 5,000 per hour). */
    authenticated: number;
    /** Requests per window per address without a token (GitHub: 60 per hour). */
    anonymous: number;
    windowSeconds: number;
    /** Status of a rate-limited answer: GitHub sends 403 or 429. */
    status: 403 | 429;
  };
  /**
   * A secondary (abuse) limit: after `requests` requests in the primary window, answer 403 with
   * `retry-after: retryAfterSeconds` and GitHub's secondary-limit message, with primary budget left.
   * Off when undefined (the default).
   */
  secondaryRateLimit: { requests: number; retryAfterSeconds: number } | undefined;
}

export interface RouteContext {
  request: IncomingMessage;
  url: URL;
  /** Percent-decoded captures of the route pattern. */
  params: string[];
  repo: HostedRepository;
  urls: RepoUrls;
  principal: Principal;
  settings: GithubServerSettings;
  /** Scheme, host and path prefix of the API: what baseUrl is. */
  apiBase: string;
  json(status: number, body: unknown, headers?: Record<string, string>): void;
  raw(
    status: number,
    body: Readable | Uint8Array | string,
    contentType: string,
    headers?: Record<string, string>,
  ): void;
  /** A status with no body (204). */
  empty(status: number): void;
  response: ServerResponse;
}

export interface Route {
  method: "GET" | "POST" | "PATCH" | "DELETE" | "PUT";
  /** Matched against the raw (still percent-encoded) path after `/repos/{owner}/{repo}`. */
  pattern: RegExp;
  /** documentation_url for errors of this endpoint. */
  docs: string;
  /** Needs a token allowed to push. */
  write?: boolean;
  handle(context: RouteContext): Promise<void>;
}
