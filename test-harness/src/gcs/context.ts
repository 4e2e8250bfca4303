/** What every route handler gets: the store, server-wide settings, and the request at hand. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { intParam } from "./http.ts";
import type { RewriteJobs } from "./rewrite.ts";
import type { GcsStore, Preconditions } from "./store.ts";
import type { UploadSessions } from "./uploads.ts";

export interface GcsServerSettings {
  projectId: string;
  projectNumber: string;
  /**
   * Most bytes one rewrite call copies before answering `done: false` with a rewriteToken. Real
   * GCS decides this itself (large or cross-location copies take several calls); a small value
   * makes KB-sized tests exercise the client's continuation loop.
   */
  rewriteBytesPerCall: number;
  /** When set, the one credential the server accepts (a token or API key); requests without it get 401. */
  credential?: string;
}

export interface GcsContext {
  readonly store: GcsStore;
  readonly settings: GcsServerSettings;
  /** `http://127.0.0.1:PORT`, for selfLink/mediaLink and resumable session URIs. */
  readonly baseUrl: string;
  readonly sessions: UploadSessions;
  readonly rewrites: RewriteJobs;
}

export interface GcsRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly method: string;
  readonly query: Map<string, string>;
  /** The request body; may be cut short by an injected fault. */
  readonly body: AsyncIterable<Buffer>;
  header(name: string): string | undefined;
}

/** `ifGenerationMatch` & co. (or `ifSourceGenerationMatch` & co. with prefix "ifSource"). */
export function preconditionsFrom(
  query: Map<string, string>,
  prefix: "if" | "ifSource" = "if",
): Preconditions {
  return {
    ifGenerationMatch: intParam(query, `${prefix}GenerationMatch`),
    ifGenerationNotMatch: intParam(query, `${prefix}GenerationNotMatch`),
    ifMetagenerationMatch: intParam(query, `${prefix}MetagenerationMatch`),
    ifMetagenerationNotMatch: intParam(query, `${prefix}MetagenerationNotMatch`),
  };
}
