/**
 * The storage contract (version 1). A `Storage` is one configured system rooted somewhere
 * (a directory, a bucket, a container, an SSH host, a repository at a ref). Paths given to it
 * are keys relative to that root: `/`-separated, no leading slash, no `.` or `..` segments.
 *
 * Plugin authors implement `StorageDriver`; `createStorage(driver)` (managed.ts) wraps it into the
 * `Storage` users get, which validates keys, enforces capabilities (Unsupported, never a silent
 * fallback), batches deletes, emulates startAfter/limit, checks AbortSignals and tags errors with
 * system and path. Semantics that differ between systems are normalised there, once.
 */
import type { Readable } from "node:stream";
import type { LeftoverReason } from "./leftovers.ts";

export type HashAlgorithm = "md5" | "sha1" | "sha256" | "crc32c" | "git-sha1";

export interface Entry {
  /** Key relative to the storage root, no leading or trailing slash. */
  path: string;
  kind: "file" | "directory";
  /** Bytes; 0 for directories. */
  size: number;
  /** Last modification time; undefined where the system keeps none (virtual directories). */
  mtime?: Date | undefined;
  /**
   * Status change time, where the system keeps one that cannot be set back (local disk): when the
   * content, name or metadata last changed. A file moved or restored with an older mtime has a new ctime.
   */
  ctime?: Date | undefined;
  /** Opaque version tag (S3/GCS/Azure ETag, git blob sha). */
  etag?: string | undefined;
  /** Lower-case hex MD5 of the content, when the system keeps one that is known to be correct. */
  md5?: string | undefined;
  contentType?: string | undefined;
}

/** Anything that can be written: bytes, text (UTF-8), a Node Readable, any async iterable of bytes, a web stream. */
export type WriteSource =
  | Uint8Array
  | string
  | AsyncIterable<Uint8Array>
  | Iterable<Uint8Array>
  | ReadableStream<Uint8Array>;

export interface SignalOptions {
  signal?: AbortSignal | undefined;
}

export type ByteRange =
  /** `length` omitted: to the end. Ranges past the end are clamped; an offset at or past the end reads nothing. */
  | { offset: number; length?: number | undefined }
  /** The last `suffix` bytes (all of them if the object is shorter). */
  | { suffix: number };

export interface ReadOptions extends SignalOptions {
  range?: ByteRange | undefined;
}

export interface WriteOptions extends SignalOptions {
  /** Exact size when known; lets object stores choose single-part upload. */
  size?: number | undefined;
  /** MIME type; guessed from the file name when absent and the system stores one. */
  contentType?: string | undefined;
  /** `"*"`: create only; ConditionNotMet if something exists at the path. Needs `capabilities.conditionalWrite`. */
  ifNoneMatch?: "*" | undefined;
  /** Expected MD5 (hex). The write fails with Integrity, leaving nothing, if the bytes do not match. */
  md5?: string | undefined;
  /**
   * `false`: `md5` is declared for the system to keep with the object (S3 metadata, Azure Content-MD5)
   * but the bytes are not hashed to check it — for a caller that has just computed it from the same
   * source and checks that source another way. Default true.
   */
  verifyMd5?: boolean | undefined;
  /** Modification time to record, where the system can (`capabilities.setMtime`). */
  mtime?: Date | undefined;
  /** Part size for multipart/chunked uploads (bytes). */
  partSize?: number | undefined;
  /** Parts in flight at once. Memory is bounded by partSize × concurrency. */
  concurrency?: number | undefined;
  /** Called with bytes written so far. */
  onProgress?: ((bytes: number) => void) | undefined;
}

/**
 * One byte range of the content a ranged write assembles: `length` bytes from `offset`. The stream it
 * returns must yield exactly those bytes; `signal` fires when the write stops early.
 */
export type RangeFetcher = (
  range: { offset: number; length: number },
  options: SignalOptions,
) => Promise<AsyncIterable<Uint8Array>>;

/** `writeRanges`: a write whose content is fetched as byte ranges, several at once. */
export interface RangedWriteOptions
  extends Omit<WriteOptions, "size" | "partSize" | "concurrency" | "contentType"> {
  /** Exact size of the content (required: the ranges are cut from it). */
  size: number;
  /** Ranges fetched at once. Default 4. */
  streams?: number | undefined;
  /** Bytes per range. Default 16 MiB. */
  chunkSize?: number | undefined;
}

export interface ListOptions extends SignalOptions {
  /** Walk the whole tree (files only) instead of one level (files and directories). */
  recursive?: boolean | undefined;
  /** Only entries whose path sorts strictly after this key (a full key, relative to the root). */
  startAfter?: string | undefined;
  /** At most this many entries in total. */
  limit?: number | undefined;
  /** Entries per request to the backend (clamped to `limits.listPageMax`). */
  pageSize?: number | undefined;
  /**
   * Called with each listed name that cannot be a key as it is (`a/../b`, `c//d`, `./e`); such names
   * are never yielded, and never dropped in silence: callers say which were left out.
   */
  onUnaddressable?: ((name: string) => void) | undefined;
}

export interface CopyOptions extends SignalOptions {
  ifNoneMatch?: "*" | undefined;
  /** Modified time to give the copy, where the storage keeps the times it is given (`capabilities.setMtime`); others ignore it. */
  mtime?: Date | undefined;
}

export interface ExecOptions extends SignalOptions {
  /** Working directory on the host (default: the storage's root directory; relative paths resolve against it). */
  cwd?: string | undefined;
  /** Bytes to feed to the command's stdin. */
  stdin?: Uint8Array | string | undefined;
  env?: Record<string, string> | undefined;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface PresignOptions {
  method?: "GET" | "PUT" | "HEAD" | "DELETE";
  /** Seconds. */
  expiresIn?: number;
}

export interface CleanupOptions extends SignalOptions {
  /**
   * Leftovers untouched for this long (ms) are removed even when nothing shows that their writer is
   * gone. Default 24 hours. See leftovers.ts for the whole rule.
   */
  olderThanMs?: number | undefined;
  /** Only report what would be removed. */
  dryRun?: boolean | undefined;
}

/** One thing an interrupted write left behind, and what cleanup did with it. */
export interface Leftover {
  /** Key (relative to the storage root) of the temp file or staging folder, or of the object an upload was for. */
  path: string;
  kind: "temp-file" | "staging-folder" | "multipart-upload" | "uncommitted-blocks";
  /** Bytes it holds, where known. */
  size?: number | undefined;
  /** Last modified (or, for an upload, started), where known. */
  modified?: Date | undefined;
  /** Why it counts as abandoned: its writer is gone, or it is older than `olderThanMs`. */
  reason: LeftoverReason;
  status: "removed" | "would-remove" | "failed";
  /** Why it could not be removed (status "failed"). */
  error?: string | undefined;
}

export interface CleanupResult {
  leftovers: Leftover[];
  /** What could not even be looked for (a server that does not list multipart uploads, say), in one line each. */
  unchecked: string[];
}

/**
 * What a storage can do, declared statically (never changes after construction).
 * The conformance suite is gated only by these, and checks that they are honest.
 */
export interface Capabilities {
  /** Shape version, so third-party suites can pin. */
  readonly version: 1;
  /** Accepts write/delete at all (false for a read-only view). */
  readonly write: boolean;
  /** `write` with `ifNoneMatch: "*"` is honoured atomically. */
  readonly conditionalWrite: boolean;
  /** `read` with a range fetches only those bytes from the backend. */
  readonly rangeRead: boolean;
  /** Same-system copy: `native` = server-side, no bytes through the client; `emulated` = streamed by the driver; false = absent. */
  readonly copy: "native" | "emulated" | false;
  /** `native` = atomic rename; `emulated` = copy + delete; false = absent. */
  readonly move: "native" | "emulated" | false;
  /** `native` = real directories; `marker` = a zero-byte `dir/` object; false = directories only exist through files. */
  readonly mkdir: "native" | "marker" | false;
  /** Whether a directory with nothing in it can exist and be listed. */
  readonly emptyDirectories: boolean;
  /** `real`: directories are things (local, SFTP); `virtual`: they are key prefixes (object stores). */
  readonly directories: "real" | "virtual";
  /** Hashes the system returns without the client reading the data (stat/list/checksum). */
  readonly hashes: readonly HashAlgorithm[];
  /** `checksum(path, algorithm)` is implemented for the algorithms in `hashes`. */
  readonly checksum: boolean;
  /** `exec` runs commands where the data lives (SSH). */
  readonly exec: boolean;
  readonly presign: boolean;
  /** `native` listing order is lexicographic by UTF-8 bytes; otherwise core sorts each level. */
  readonly listOrder: "lexicographic" | "unordered";
  /** `listRecursive: native` = one flat listing; `walk` = directory by directory. */
  readonly listRecursive: "native" | "walk";
  /** mtime: kept natively, in object metadata, or not at all (then stat gives the upload time or nothing). */
  readonly mtime: "native" | "metadata" | "none";
  /** Milliseconds; e.g. 1000 for SFTP. */
  readonly mtimePrecisionMs: number;
  /** `write({ mtime })` is recorded and read back by stat. */
  readonly setMtime: boolean;
  /** Content types are stored and returned. */
  readonly contentType: boolean;
  readonly caseInsensitive: boolean;
  /** `cleanup` finds and removes what interrupted writes left behind (temp files, uploads never completed). */
  readonly cleanup: boolean;
  /**
   * `copyBatch` copies many small files within this storage at once, staged and placed together
   * (local disk). Files up to `limits.batchCopyMaxBytes` each.
   */
  readonly batchCopy: boolean;
  /** `localPath(key)` names the file on this machine's disk, for callers that may use node:fs on it. */
  readonly localPaths: boolean;
  readonly limits: StorageLimits;
}

export interface StorageLimits {
  /** Largest page the backend returns per list request. */
  readonly listPageMax?: number | undefined;
  /** Most keys per batch-delete request. */
  readonly deleteBatchMax?: number | undefined;
  readonly partSizeMin?: number | undefined;
  readonly partSizeMax?: number | undefined;
  readonly partSizeDefault?: number | undefined;
  readonly maxParts?: number | undefined;
  /** Largest single object (bytes). */
  readonly maxObjectSize?: number | undefined;
  /** Longest key in bytes (UTF-8). */
  readonly maxKeyBytes?: number | undefined;
  /** Largest file `copyBatch` takes. */
  readonly batchCopyMaxBytes?: number | undefined;
}

/** One file of a `copyBatch`: the key of the source and its path below the destination folder. */
export interface BatchCopyFile {
  from: string;
  /** `/`-separated path below the destination folder. */
  relative: string;
  size: number;
  /** Modification time to give the copy, where the storage keeps the times it is given. */
  mtime?: Date | undefined;
}

export interface BatchCopyOptions extends SignalOptions {
  /** Files copied into the staging folder (progress), by position, before they are placed. */
  onCopied?: ((indexes: readonly number[]) => void) | undefined;
  /** Files moved into place, by position, as it happens (at least once a second during a long copy). */
  onPlaced?: ((indexes: readonly number[]) => void) | undefined;
}

/** What a plugin implements. Every path it receives is already validated and normalised by core. */
/** A place in a storage that `rm()` refuses to remove without force (`StorageDriver.protectedKeys`). */
export interface ProtectedKey {
  key: string;
  what: string;
}

export interface StorageDriver {
  /** "file", "s3", "gs", "az", "sftp", "github" or a third-party scheme name. */
  readonly system: string;
  /** Display URL of the root, never containing credentials. */
  readonly root: string;
  readonly capabilities: Capabilities;

  /** NotFound when nothing is there. A virtual directory (a prefix with keys below it) stats as a directory. */
  stat(path: string, options?: SignalOptions): Promise<Entry>;
  /**
   * Entries under the directory `dir` ("" = root). Missing directories and files list as empty.
   * May ignore startAfter/limit/pageSize: core enforces them.
   */
  list(dir: string, options?: ListOptions): AsyncIterable<Entry>;
  /** A stream of the content; NotFound when missing; the range already clamped to the object by core where known. */
  read(path: string, options?: ReadOptions): Promise<Readable>;
  /** Atomic from a reader's point of view: nothing appears under `path` until the write succeeds. */
  write(path: string, source: AsyncIterable<Uint8Array>, options?: WriteOptions): Promise<Entry>;
  /** Delete files (and directory markers). Missing paths are not an error. At most `limits.deleteBatchMax` at once. */
  delete(paths: readonly string[], options?: SignalOptions): Promise<void>;

  copy?(from: string, to: string, options?: CopyOptions): Promise<Entry>;
  move?(from: string, to: string, options?: CopyOptions): Promise<Entry>;
  mkdir?(path: string, options?: SignalOptions): Promise<void>;
  /**
   * Make the bucket or container itself exist, as `rclone mkdir` does: true when it was created now,
   * false when it was there already. Absent for systems whose root always exists.
   */
  createRoot?(options?: SignalOptions): Promise<boolean>;
  /** Remove a directory and everything below it natively (rm -r). Core falls back to list + delete. */
  deleteDirectory?(path: string, options?: SignalOptions): Promise<void>;
  checksum?(path: string, algorithm: HashAlgorithm, options?: SignalOptions): Promise<string>;
  exec?(command: string, options?: ExecOptions): Promise<ExecResult>;
  presign?(path: string, options?: PresignOptions): Promise<string>;
  /**
   * Find what interrupted writes of ferry left below `prefix` ("" = everything) and remove what is
   * stale by the rule in leftovers.ts. Declared by `capabilities.cleanup`.
   */
  cleanup?(prefix: string, options: CleanupOptions): Promise<CleanupResult>;
  /**
   * Copy many small files within this storage into the folder `toDir`, staged and placed together.
   * Returns per file whether it is now in place; the caller copies the others one by one. Declared by
   * `capabilities.batchCopy`.
   */
  copyBatch?(toDir: string, files: readonly BatchCopyFile[], options?: BatchCopyOptions): Promise<boolean[]>;
  /** The path on this machine's disk of `key`. Declared by `capabilities.localPaths`. */
  localPath?(key: string): string;
  /**
   * Keys whose removal nobody means — the login's home directory on an SSH host, say — each with what
   * it is, in the words of an error ("the login's home directory on me@host"). Core refuses to remove
   * one of them, or a folder holding one, without `{ force: true }` (`rm()`, `mv()`), as it refuses a
   * local working or home directory.
   */
  protectedKeys?(options?: SignalOptions): Promise<readonly ProtectedKey[]>;
  /** Release connections; idempotent. */
  close?(): Promise<void>;
  /**
   * True when this driver itself checks `options.md5` of this write (reading back what it stored, say)
   * and fails with Integrity before anything appears under the name; core then does not hash the
   * bytes as they pass. Absent: core checks every declared MD5.
   */
  checksWriteMd5?(options: WriteOptions): boolean;
  /**
   * Optional: write content fetched as byte ranges, several at once, each stored at its offset (a
   * local file written in place, as rclone's multi-thread downloads do). Atomic like `write`; a
   * declared `md5` must be checked by the driver before anything appears under `path`. Core hands
   * over ranges already cut to `chunkSize`, each checked to yield exactly its length. Absent: core
   * fetches the ranges one after another into `write`.
   */
  writeRanges?(path: string, fetch: RangeFetcher, options: RangedWriteOptions): Promise<Entry>;
  /**
   * Optional, for a driver whose declared `conditionalWrite` depends on the server behind it (an
   * S3-compatible server may ignore If-None-Match): whether create-only writes near `path` are really
   * honoured, found out once (a probe) and remembered. Absent: the declaration is the truth. Use
   * `conditionalWritesHold(storage, path)` rather than calling it.
   */
  conditionalWriteHonoured?(path: string, options?: SignalOptions): Promise<boolean>;
}

/**
 * Whether `write(..., { ifNoneMatch: "*" })` near `path` is really create-only: declared, and (where
 * the driver can check the server) checked. Code that must not lose a write to a race asks this
 * before relying on create-only writes, and uses a claim protocol of its own when it is false. A
 * probe that cannot be made (no permission, say) counts as false: nothing is relied on that was not seen.
 */
export async function conditionalWritesHold(
  storage: Pick<Storage, "capabilities" | "driver">,
  path: string,
  options: SignalOptions = {},
): Promise<boolean> {
  if (!storage.capabilities.conditionalWrite) return false;
  if (!storage.driver.conditionalWriteHonoured) return true;
  try {
    return await storage.driver.conditionalWriteHonoured(path, options);
  } catch {
    return false;
  }
}

/** What users call. Same operations as the driver, with every optional one present (throwing Unsupported when not declared). */
export interface Storage {
  readonly system: string;
  readonly root: string;
  readonly capabilities: Capabilities;
  stat(path: string, options?: SignalOptions): Promise<Entry>;
  /** Like stat, but undefined instead of NotFound. */
  exists(path: string, options?: SignalOptions): Promise<boolean>;
  list(dir: string, options?: ListOptions): AsyncIterable<Entry>;
  read(path: string, options?: ReadOptions): Promise<Readable>;
  /** Read the whole object into memory (only when the caller asks for bytes). */
  readBytes(path: string, options?: ReadOptions): Promise<Uint8Array>;
  write(path: string, source: WriteSource, options?: WriteOptions): Promise<Entry>;
  /**
   * Write content fetched as byte ranges (`fetch` is called once per range). With a driver that
   * stores ranges in place (`driver.writeRanges`) they are fetched `streams` at a time; otherwise
   * one after another into `write`. Atomic, and a declared `md5` is checked, either way.
   */
  writeRanges(path: string, fetch: RangeFetcher, options: RangedWriteOptions): Promise<Entry>;
  delete(paths: string | readonly string[], options?: SignalOptions): Promise<void>;
  /** Delete a directory and everything below it; a missing directory is not an error. */
  deleteDirectory(path: string, options?: SignalOptions): Promise<void>;
  copy(from: string, to: string, options?: CopyOptions): Promise<Entry>;
  move(from: string, to: string, options?: CopyOptions): Promise<Entry>;
  mkdir(path: string, options?: SignalOptions): Promise<void>;
  /** Create the bucket or container when it does not exist: true when it was created now. */
  createRoot(options?: SignalOptions): Promise<boolean>;
  checksum(path: string, algorithm: HashAlgorithm, options?: SignalOptions): Promise<string>;
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  presign(path: string, options?: PresignOptions): Promise<string>;
  /** Remove what interrupted writes left below `prefix` (Unsupported unless `capabilities.cleanup`). */
  cleanup(prefix: string, options?: CleanupOptions): Promise<CleanupResult>;
  /** Copy many small files into the folder `toDir` at once (Unsupported unless `capabilities.batchCopy`). */
  copyBatch(toDir: string, files: readonly BatchCopyFile[], options?: BatchCopyOptions): Promise<boolean[]>;
  /** The path of `key` on this machine's disk (Unsupported unless `capabilities.localPaths`). */
  localPath(key: string): string;
  close(): Promise<void>;
  /** The driver underneath, for plugin-specific calls. */
  readonly driver: StorageDriver;
}

/** Defaults for a capability declaration; plugins spread this and override what differs. */
export const baseCapabilities: Capabilities = {
  version: 1,
  write: true,
  conditionalWrite: false,
  rangeRead: true,
  copy: false,
  move: false,
  mkdir: false,
  emptyDirectories: false,
  directories: "virtual",
  hashes: [],
  checksum: false,
  exec: false,
  presign: false,
  listOrder: "lexicographic",
  listRecursive: "native",
  mtime: "none",
  mtimePrecisionMs: 1000,
  setMtime: false,
  contentType: false,
  caseInsensitive: false,
  cleanup: false,
  batchCopy: false,
  localPaths: false,
  limits: {},
};
