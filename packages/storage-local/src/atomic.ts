/**
 * Atomic placement of new content: bytes go to a hidden temp file in the target's own directory
 * (same file system, so rename is atomic), then the temp file is renamed over the final name — or,
 * for create-only writes, hard-linked to it, which fails with EEXIST instead of replacing anything.
 * Whatever goes wrong, the temp file is removed and the final name is untouched.
 */
import {
  chmodSync,
  closeSync,
  createWriteStream,
  futimesSync,
  linkSync,
  open as openCallback,
  openSync,
  renameSync,
  rmSync,
  type Stats,
  statSync,
  unlinkSync,
  utimesSync,
  writeSync,
  writevSync,
} from "node:fs";
import { chmod, link, open, rename, rm, stat, unlink, utimes } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { errors, tempNameHead, throwIfAborted } from "@ferry/plugin-kit";
import { fsErrorCode, mapFsError } from "./errors.ts";
import { makeDirectories, makeDirectoriesSync } from "./make-directories.ts";
import { startTrailingHasher } from "./trailing-hash.ts";

const NAME_MAX_BYTES = 255;
/** Bytes a streamed write may hold queued for the disk. */
const WRITE_QUEUE_BYTES = 4 * 1024 * 1024;
const encoder = new TextEncoder();

/**
 * `.ferry-tmp-<host>.<pid>.<random>-<name>` (leftovers.ts: the owner lets a later run tell a dead
 * writer's leftovers from a live one's), the name shortened (on a character boundary) to fit NAME_MAX.
 * Temp files are created exclusively, so even a clash with another process would fail, not overwrite.
 */
export function tempPathFor(finalPath: string): string {
  const head = `${tempNameHead()}-`;
  let name = basename(finalPath);
  while (encoder.encode(head + name).byteLength > NAME_MAX_BYTES) name = [...name].slice(0, -1).join("");
  return join(dirname(finalPath), head + name);
}

export interface PlaceOptions {
  /** Create only: ConditionNotMet if anything exists at the final name. */
  exclusive?: boolean | undefined;
  mtime?: Date | undefined;
  fsync?: boolean | undefined;
  /** Checked once the content is whole: an abort then places nothing. */
  signal?: AbortSignal | undefined;
  /**
   * What resolving the final path saw: skip creating parents that exist and keeping the mode of
   * nothing. Undefined fields (or no target) mean "not looked at".
   */
  target?: { exists: boolean | undefined; parentExists: boolean | undefined } | undefined;
}

/** Create the parent directories of `filePath`; a file in the way is InvalidInput. */
export async function ensureParent(filePath: string): Promise<void> {
  try {
    await makeDirectories(dirname(filePath));
  } catch (error) {
    throw parentError(error, filePath);
  }
}

function ensureParentSync(filePath: string): void {
  try {
    makeDirectoriesSync(dirname(filePath));
  } catch (error) {
    throw parentError(error, filePath);
  }
}

function parentError(error: unknown, filePath: string) {
  const code = fsErrorCode(error);
  if (code === "EEXIST" || code === "ENOTDIR") {
    return errors.invalidInput(`cannot create ${filePath}: a parent path is a file, not a directory`, {
      system: "file",
      path: filePath,
      cause: error,
    });
  }
  return mapFsError(error, filePath, "write");
}

/**
 * Run `fill(tempPath)` to produce the content, then move it into place. The temp file is removed
 * on every failure path, including a source that throws, an abort, and a lost create race.
 */
export async function placeAtomically(
  finalPath: string,
  fill: (tempPath: string) => Promise<void>,
  options: PlaceOptions = {},
): Promise<void> {
  if (!options.target?.parentExists) await ensureParent(finalPath);
  const tempPath = tempPathFor(finalPath);
  try {
    await fill(tempPath);
    throwIfAborted(options.signal, { system: "file", path: finalPath });
    if (options.fsync) await syncFile(tempPath);
    if (options.mtime) await utimes(tempPath, options.mtime, options.mtime);
    if (options.exclusive) {
      await linkExclusive(tempPath, finalPath);
      await unlink(tempPath);
    } else {
      if (options.target?.exists !== false) await keepMode(finalPath, tempPath);
      await renameInto(tempPath, finalPath);
    }
    if (options.fsync) await syncDirectory(dirname(finalPath));
  } catch (error) {
    await rm(tempPath, { force: true }).catch(() => undefined);
    throw mapFsError(error, finalPath, "write");
  }
}

/**
 * `placeAtomically` for small files, as one burst of synchronous calls: `fill(tempPath)` creates the
 * temp file, which gets its mtime and is then renamed (or create-only linked) into place. Every
 * asynchronous fs call is a round trip through libuv's thread pool; for a file of a few KiB those
 * round trips cost more than the work itself, so callers use this for files up to a few hundred
 * KiB, where the whole burst blocks the event loop for less time than one round trip takes. The
 * parent directories are created only when the first attempt says they are missing. Returns the
 * placed file's stats. The temp file is removed on every failure path; the final name is untouched.
 */
export function placeSync(
  finalPath: string,
  fill: (tempPath: string) => void,
  options: PlaceOptions = {},
): Stats {
  if (options.fsync) throw new Error("placeSync does not fsync; use placeAtomically");
  const tempPath = tempPathFor(finalPath);
  try {
    try {
      fill(tempPath);
    } catch (error) {
      if (fsErrorCode(error) !== "ENOENT" || options.target?.parentExists) throw error;
      ensureParentSync(finalPath);
      fill(tempPath);
    }
    return commitSync(tempPath, finalPath, options);
  } catch (error) {
    removeQuietly(tempPath);
    throw mapFsError(error, finalPath, "write");
  }
}

/** The filled temp file gets its mtime and is renamed (or create-only linked) into place. Returns its stats. */
function commitSync(tempPath: string, finalPath: string, options: PlaceOptions): Stats {
  if (options.mtime) utimesSync(tempPath, options.mtime, options.mtime);
  // Read back, not assumed: a Date becomes float seconds on the way in, and what the disk holds
  // (e.g. …148.999929 ms for …149) is what later listings will compare against.
  const stats = statSync(tempPath);
  if (options.exclusive) {
    try {
      linkSync(tempPath, finalPath);
    } catch (error) {
      throw linkError(error, finalPath);
    }
    unlinkSync(tempPath);
  } else {
    if (options.target?.exists !== false) {
      const existing = statSync(finalPath, { throwIfNoEntry: false });
      if (existing?.isFile()) chmodSync(tempPath, existing.mode & 0o7777);
    }
    try {
      renameSync(tempPath, finalPath);
    } catch (error) {
      throw renameError(error, finalPath);
    }
  }
  return stats;
}

/** Write every byte of `chunks` to `fd`: one writev, a short write (rare for regular files) finished chunk by chunk. */
function writeChunksSync(fd: number, chunks: readonly Uint8Array[]): void {
  let written = chunks.length > 1 ? writevSync(fd, chunks as Uint8Array[]) : 0;
  for (const chunk of chunks) {
    const skip = Math.min(written, chunk.byteLength);
    written -= skip;
    for (let done = skip; done < chunk.byteLength; ) done += writeSync(fd, chunk, done);
  }
}

/** A temp file opened ahead of its content (see openTempAhead). */
export interface OpenedTemp {
  tempPath: string;
  fd: number;
}

const openFd = (path: string, flags: string) =>
  new Promise<number>((resolve, reject) =>
    openCallback(path, flags, (error, fd) => (error ? reject(error) : resolve(fd))),
  );

/**
 * Create the temp file for `finalPath` on the thread pool, so that a slow create — a busy or
 * networked disk, or ext4 searching its inode bitmap past recently freed inodes — overlaps with the
 * content still arriving instead of stalling the event loop. Undefined when the parent directory is
 * missing: parents are created only once the content is whole (placeOpenedSync), so a write that
 * fails leaves no new directories either. Finish with `placeOpenedSync`, or `discardOpened` when
 * the content never comes.
 */
export async function openTempAhead(
  finalPath: string,
  options: PlaceOptions = {},
): Promise<OpenedTemp | undefined> {
  if (options.target?.parentExists === false) return undefined;
  const tempPath = tempPathFor(finalPath);
  try {
    return { tempPath, fd: await openFd(tempPath, "wx") };
  } catch (error) {
    if (fsErrorCode(error) === "ENOENT" && !options.target?.parentExists) return undefined;
    throw mapFsError(error, finalPath, "write");
  }
}

/**
 * A small file already whole in memory, placed in one burst of synchronous calls: into the temp file
 * `openTempAhead` opened, or (when it opened none) a new one, with the parents created.
 */
export function placeOpenedSync(
  finalPath: string,
  opened: OpenedTemp | undefined,
  chunks: readonly Uint8Array[],
  options: PlaceOptions = {},
): Stats {
  if (!opened) {
    return placeSync(
      finalPath,
      (tempPath) => {
        const fd = openSync(tempPath, "wx");
        try {
          writeChunksSync(fd, chunks);
        } finally {
          closeSync(fd);
        }
      },
      options,
    );
  }
  try {
    try {
      writeChunksSync(opened.fd, chunks);
      // Through the open descriptor (no path lookup), so commitSync need not set it again.
      if (options.mtime) futimesSync(opened.fd, options.mtime, options.mtime);
    } finally {
      closeSync(opened.fd);
    }
    return commitSync(opened.tempPath, finalPath, { ...options, mtime: undefined });
  } catch (error) {
    removeQuietly(opened.tempPath);
    throw mapFsError(error, finalPath, "write");
  }
}

/** The content of an opened temp file is not coming: close and remove it (never throws). */
export async function discardOpened(opening: Promise<OpenedTemp | undefined>): Promise<void> {
  let opened: OpenedTemp | undefined;
  try {
    opened = await opening;
  } catch {
    return; // nothing was created
  }
  if (!opened) return;
  try {
    closeSync(opened.fd);
  } finally {
    removeQuietly(opened.tempPath);
  }
}

/**
 * `streamToFile`, hashing what reaches the disk on a second thread as it is written
 * (trailing-hash.ts). Returns the file's MD5.
 */
export async function streamToFileHashed(
  source: AsyncIterable<Uint8Array>,
  tempPath: string,
  signal: AbortSignal | undefined,
): Promise<string> {
  const sink = createWriteStream(tempPath, { flags: "wx", highWaterMark: WRITE_QUEUE_BYTES });
  const hasher = startTrailingHasher(tempPath);
  try {
    const reporting = (async function* () {
      for await (const chunk of source) {
        hasher.advance(sink.bytesWritten);
        yield chunk;
      }
    })();
    await pipeline(Readable.from(reporting, { objectMode: false }), sink, signal ? { signal } : {});
    return await hasher.finish(sink.bytesWritten);
  } catch (error) {
    await hasher.stop();
    throw error;
  }
}

/** Stream `source` into `tempPath` with back-pressure; aborting the signal destroys the stream. */
export async function streamToFile(
  source: AsyncIterable<Uint8Array>,
  tempPath: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  // A deep write queue lets the next chunks arrive while earlier ones are written, and lets the
  // stream hand the disk several at once (writev); Node's 16 KiB default stalls the source on every chunk.
  const sink = createWriteStream(tempPath, { flags: "wx", highWaterMark: WRITE_QUEUE_BYTES });
  await pipeline(Readable.from(source, { objectMode: false }), sink, signal ? { signal } : {});
}

/**
 * An overwrite replaces the file, so it would otherwise get default permissions: carry the old
 * file's mode over (an executable script stays executable, a private file stays private).
 */
async function keepMode(finalPath: string, tempPath: string): Promise<void> {
  const existing = await stat(finalPath).catch(() => undefined);
  if (existing?.isFile()) await chmod(tempPath, existing.mode & 0o7777);
}

async function linkExclusive(tempPath: string, finalPath: string): Promise<void> {
  try {
    await link(tempPath, finalPath);
  } catch (error) {
    throw linkError(error, finalPath);
  }
}

/** A create-only link that found something in place is ConditionNotMet; anything else stays as it was. */
function linkError(error: unknown, finalPath: string): unknown {
  if (fsErrorCode(error) !== "EEXIST") return error;
  return errors.conditionNotMet(`not created: something already exists at ${finalPath}`, {
    system: "file",
    path: finalPath,
    cause: error,
  });
}

async function renameInto(tempPath: string, finalPath: string): Promise<void> {
  try {
    await rename(tempPath, finalPath);
  } catch (error) {
    throw renameError(error, finalPath);
  }
}

/** Renaming a file over a directory is the caller's mistake (InvalidInput); anything else stays as it was. */
function renameError(error: unknown, finalPath: string): unknown {
  const code = fsErrorCode(error);
  if (code !== "EISDIR" && code !== "ENOTEMPTY" && code !== "EEXIST") return error;
  return errors.invalidInput(`cannot write ${finalPath}: a directory is there`, {
    system: "file",
    path: finalPath,
    cause: error,
  });
}

async function syncFile(filePath: string): Promise<void> {
  const handle = await open(filePath, "r+");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Make the rename itself durable. Some platforms cannot open directories; that is not an error. */
async function syncDirectory(dirPath: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dirPath, "r");
    await handle.sync();
  } catch {
    // best effort
  } finally {
    await handle?.close();
  }
}

/**
 * Remove a temp file on a failure path without replacing the failure: `force` only forgives ENOENT,
 * and where the temp file could not be made because a file stands where its folder should be,
 * even the removal fails (ENOTDIR) — which would otherwise be reported instead of the real error.
 */
function removeQuietly(tempPath: string): void {
  try {
    rmSync(tempPath, { force: true });
  } catch {}
}
