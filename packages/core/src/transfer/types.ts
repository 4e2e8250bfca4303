/**
 * The transfer engine's public shapes: what callers pass (`TransferOptions`), what they get back
 * (`TransferSummary`, with the plan), and what they can watch while it runs (progress and file events).
 */
import type { Entry, FerryError, Storage } from "@ferry/plugin-kit";
import type { Location, LocationLike } from "../location.ts";
import type { PluginRegistry } from "../plugins.ts";

/**
 * A place to copy from or to: a URL / `{ system, path }`, a storage you already hold plus a key in
 * it, or a location read already (`registry.locate()`) with whether it was written with a trailing
 * slash ("a directory: put things inside it").
 */
export type TransferEndpoint =
  | LocationLike
  | { storage: Storage; path: string }
  | { location: Location; directory: boolean };

/**
 * How a file travels:
 * - `native`: the storage copies it server-side (no bytes through this process);
 * - `remote`: a command run where the source lives (over SSH) sends it, so it never comes back here;
 * - `stream`: read from the source and written to the destination through this process, never to local disk.
 */
export type Route = "native" | "remote" | "stream";

export type ActionKind = "copy" | "skip" | "delete";

export interface PlannedAction {
  action: ActionKind;
  /** Path relative to the source (copy/skip) or destination (delete) directory; the base name when copying one file. */
  path: string;
  /** Key in the source storage (copy/skip). */
  sourceKey?: string;
  /** Key in the destination storage. */
  destinationKey: string;
  /** Bytes that will move (0 for skip/delete). */
  size: number;
  /** Why this action: "new", "size differs", "modified time differs", "same size and time", "hash matches", "extra at destination", ... */
  reason: string;
  route?: Route;
  /** Source entry as listed. */
  source?: Entry;
  /** Destination entry as listed, when one existed. */
  destination?: Entry;
}

export interface TransferProgress {
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  /** Average over the last few seconds. */
  bytesPerSecond: number;
  /** Undefined until there is a rate to extrapolate from. */
  etaSeconds: number | undefined;
  elapsedSeconds: number;
}

export interface TransferFileEvent {
  action: ActionKind;
  status: "done" | "failed";
  path: string;
  destinationKey: string;
  size: number;
  route?: Route;
  /** Attempts it took (1 when it worked first time). */
  attempts?: number;
  error?: FerryError;
}

export interface TransferOptions {
  /** Mirror: delete destination files the source does not have (only after every copy succeeded). Sync only. */
  delete?: boolean;
  /** Decide "unchanged" by size + MD5 (hashing files of equal size where listings carry none) instead of the default change detection (transfer README). */
  checksum?: boolean;
  /** Ignore modified times and hashes: a file is unchanged when its size is (rclone --size-only). */
  sizeOnly?: boolean;
  /** Globs over paths relative to the source (picomatch syntax; a pattern without `/` matches a base name anywhere). */
  include?: readonly string[];
  exclude?: readonly string[];
  /** Only these paths (relative to the source directory), e.g. from `--files-from`. */
  files?: readonly string[];
  /** Plan only: list both sides and return what would happen, touching nothing. */
  dryRun?: boolean;
  /** Files in flight at once. Default: 4, plus up to 16 files of at most 1 MiB beside them. */
  transfers?: number;
  /** Parts in flight per file, passed to the destination's write (default: the storage's choice). */
  partConcurrency?: number;
  /** Part size for multipart writes (default: the storage's choice). */
  partSize?: number;
  /**
   * A large file bound for local disk is fetched as this many ranged streams at once, each written
   * in place (rclone's --multi-thread-streams). Default 4; 1 turns it off.
   */
  multiThreadStreams?: number;
  /** Files from this size up use multiThreadStreams (rclone's --multi-thread-cutoff). Default 64 MiB. */
  multiThreadCutoff?: number;
  /** Bytes per ranged request (rclone's --multi-thread-chunk-size). Default: about a sixteenth of the file, 8 to 64 MiB. */
  multiThreadChunkSize?: number;
  /** Attempts after the first for errors marked retryable (Transient); default 3. */
  retries?: number;
  /** First backoff delay in ms (default 200); doubles each attempt, with full jitter, capped at 10 s. */
  retryDelayMs?: number;
  /** `false` never copies server-side (always streams); default: server-side whenever the storage offers it. */
  serverSide?: boolean;
  /** `false` never runs the copy on the source host; default: run it there when the source can `exec`. */
  remote?: boolean;
  /** Extra environment for a copy run on the source host (endpoint settings, never secrets in logs). */
  remoteEnv?: Record<string, string>;
  signal?: AbortSignal;
  onProgress?: (progress: TransferProgress) => void;
  onFile?: (event: TransferFileEvent) => void;
  /** Registry used to resolve URLs (default: the `ferry` registry). */
  registry?: PluginRegistry;
}

export interface TransferSummary {
  /** Canonical URLs of both sides. */
  source: string;
  destination: string;
  dryRun: boolean;
  copied: number;
  skipped: number;
  deleted: number;
  failed: number;
  errors: { path: string; error: FerryError }[];
  /** Bytes of the files copied. */
  bytes: number;
  /** Bytes that passed through this process (0 for server-side copies; command I/O for remote copies). */
  bytesThroughClient: number;
  seconds: number;
  /** Decisions worth telling the user about (e.g. a fallback from a remote copy to streaming). */
  notes: string[];
  /** Every action, in path order. */
  plan: PlannedAction[];
}
