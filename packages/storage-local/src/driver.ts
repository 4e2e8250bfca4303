/** The local file-system driver: the embedded default storage, rooted at one directory. */
import { constants, copyFileSync, lstatSync, type Stats, statSync } from "node:fs";
import { link, lstat, mkdir, readdir, rename, rm, rmdir, stat, unlink } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  type BatchCopyFile,
  type BatchCopyOptions,
  baseCapabilities,
  baseName,
  type Capabilities,
  type CleanupOptions,
  type CleanupResult,
  type CopyOptions,
  cleanTempLeftovers,
  type Entry,
  errors,
  type HashAlgorithm,
  type ListOptions,
  type RangedWriteOptions,
  type RangeFetcher,
  type ReadOptions,
  type SignalOptions,
  type StorageDriver,
  throwIfAborted,
  type WriteOptions,
} from "@ferry/plugin-kit";
import {
  discardOpened,
  ensureParent,
  openTempAhead,
  placeAtomically,
  placeOpenedSync,
  placeSync,
  streamToFile,
  streamToFileHashed,
} from "./atomic.ts";
import { BATCH_COPY_MAX_BYTES, type BatchCopyItem, copyBatch } from "./batch-copy.ts";
import { copyFileCancellable } from "./copy-file.ts";
import { fsErrorCode, isDestinationError, mapFsError, withFsErrors } from "./errors.ts";
import { entryFromStats, listLocal } from "./list.ts";
import { makeDirectories } from "./make-directories.ts";
import { fillFromRanges } from "./ranged.ts";
import { hashFile, readRange } from "./read.ts";
import { LocalRoot, TEMP_PREFIX } from "./root.ts";

export const localCapabilities: Capabilities = Object.freeze({
  ...baseCapabilities,
  conditionalWrite: true,
  rangeRead: true,
  copy: "native",
  move: "native",
  mkdir: "native",
  emptyDirectories: true,
  directories: "real",
  hashes: Object.freeze(["md5", "sha1", "sha256"] as const),
  checksum: true,
  listOrder: "lexicographic",
  listRecursive: "native",
  mtime: "native",
  mtimePrecisionMs: 1,
  setMtime: true,
  contentType: false,
  // The platforms' default file systems (APFS, NTFS) fold case; Linux file systems do not.
  caseInsensitive: process.platform === "darwin" || process.platform === "win32",
  cleanup: true,
  batchCopy: true,
  localPaths: true,
  limits: Object.freeze({ batchCopyMaxBytes: BATCH_COPY_MAX_BYTES }),
} satisfies Capabilities);

/**
 * Files up to this size are written (and copied) with one burst of synchronous calls instead of a
 * thread-pool round trip per step (only a write's create goes to the thread pool, while the bytes
 * arrive): see placeSync and placeOpenedSync.
 */
const SMALL_FILE_BYTES = 256 * 1024;

/** Declared MD5s of writes from this size up are checked on a second thread (checksWriteMd5). */
const HASH_ON_WORKER_FROM_BYTES = 16 * 1024 * 1024;

/** Unlinks in flight at once during a batch delete. */
const DELETE_CONCURRENCY = 16;

export interface LocalDriverOptions {
  /** fsync each written file (and its directory) before it becomes visible. Default false. */
  fsync?: boolean | undefined;
}

export class LocalDriver implements StorageDriver {
  readonly system = "file";
  readonly root: string;
  readonly capabilities = localCapabilities;
  readonly #root: LocalRoot;
  readonly #fsync: boolean;

  constructor(rootDir: string, options: LocalDriverOptions = {}) {
    this.#root = new LocalRoot(rootDir);
    this.root = pathToFileURL(rootDir).href;
    this.#fsync = options.fsync ?? false;
  }

  /** Absolute directory this storage is rooted at. */
  get directory(): string {
    return this.#root.dir;
  }

  async stat(path: string, _options?: SignalOptions): Promise<Entry> {
    const filePath = await this.#root.resolve(path);
    refuseTempName(path, filePath);
    const stats = await withFsErrors(filePath, "read", () => stat(filePath));
    if (!stats.isFile() && !stats.isDirectory()) throw notRegular(filePath);
    return entryFromStats(path, stats);
  }

  list(dir: string, options?: ListOptions): AsyncIterable<Entry> {
    return listLocal(this.#root, dir, options);
  }

  async read(path: string, options: ReadOptions = {}) {
    const filePath = await this.#root.resolve(path);
    refuseTempName(path, filePath);
    return readRange(filePath, options.range, options.signal);
  }

  async write(path: string, source: AsyncIterable<Uint8Array>, options: WriteOptions = {}): Promise<Entry> {
    const target = await this.#root.resolveTarget(path);
    refuseTempName(path, target.path);
    if (options.size !== undefined && options.size <= SMALL_FILE_BYTES && !this.#fsync) {
      // Small: the temp file is created on the thread pool while the bytes arrive; once they are all
      // here (the source's own size check stops one that runs long) they are placed in one burst.
      const placeOptions = { exclusive: options.ifNoneMatch === "*", mtime: options.mtime, target };
      const opening = openTempAhead(target.path, placeOptions);
      opening.catch(() => undefined); // awaited below, or discarded
      const chunks: Uint8Array[] = [];
      try {
        for await (const chunk of source) chunks.push(chunk);
        throwIfAborted(options.signal, { system: "file", path: target.path });
      } catch (error) {
        await discardOpened(opening);
        throw error;
      }
      return entryFromStats(path, placeOpenedSync(target.path, await opening, chunks, placeOptions));
    }
    const expectedMd5 = this.checksWriteMd5(options) ? options.md5?.toLowerCase() : undefined;
    return this.#placeChecked(path, target, expectedMd5, options, async (tempPath) => {
      if (expectedMd5 !== undefined) return streamToFileHashed(source, tempPath, options.signal);
      await streamToFile(source, tempPath, options.signal);
      return undefined;
    });
  }

  /**
   * Ranges fetched `streams` at once and written in place into the temp file (ranged.ts), which is
   * then placed like any other write. A declared MD5 is checked on a second thread as the file's
   * complete prefix grows; a mismatch fails with Integrity and nothing is placed.
   */
  async writeRanges(path: string, fetch: RangeFetcher, options: RangedWriteOptions): Promise<Entry> {
    const target = await this.#root.resolveTarget(path);
    refuseTempName(path, target.path);
    const expectedMd5 = options.verifyMd5 === false ? undefined : options.md5?.toLowerCase();
    return this.#placeChecked(path, target, expectedMd5, options, (tempPath) =>
      fillFromRanges(tempPath, fetch, {
        size: options.size,
        streams: options.streams ?? 4,
        chunkSize: options.chunkSize ?? 16 * 1024 * 1024,
        signal: options.signal,
        md5: expectedMd5 !== undefined,
      }),
    );
  }

  /**
   * `fill` the temp file (returning its MD5 when one is expected), then place it atomically; an MD5
   * that is not the expected one fails with Integrity and nothing is placed.
   */
  async #placeChecked(
    key: string,
    target: { path: string; exists: boolean | undefined; parentExists: boolean | undefined },
    expectedMd5: string | undefined,
    options: Pick<WriteOptions, "ifNoneMatch" | "mtime" | "signal">,
    fill: (tempPath: string) => Promise<string | undefined>,
  ): Promise<Entry> {
    const checkedFill = async (tempPath: string) => {
      const actual = await fill(tempPath);
      if (expectedMd5 !== undefined && actual !== expectedMd5) {
        throw errors.integrity(`MD5 mismatch: expected ${expectedMd5}, the file written has ${actual}`, {
          system: "file",
          path: target.path,
        });
      }
    };
    await placeAtomically(target.path, checkedFill, {
      exclusive: options.ifNoneMatch === "*",
      mtime: options.mtime,
      fsync: this.#fsync,
      signal: options.signal,
      target,
    });
    return this.#placedEntry(key, target.path);
  }

  /**
   * Large writes with a declared MD5 and a second CPU: the file is hashed as it reaches the disk, on a
   * worker thread (trailing-hash.ts), instead of core hashing every byte on the event loop before it
   * is written. A mismatch fails the write with Integrity and nothing is placed.
   */
  checksWriteMd5(options: WriteOptions): boolean {
    return (
      options.md5 !== undefined &&
      options.verifyMd5 !== false &&
      options.size !== undefined &&
      options.size >= HASH_ON_WORKER_FROM_BYTES &&
      availableParallelism() > 1
    );
  }

  /** The entry of a file this driver just placed (a regular file inside the root: no symlink check needed). */
  async #placedEntry(key: string, filePath: string): Promise<Entry> {
    return entryFromStats(key, await withFsErrors(filePath, "read", () => stat(filePath)));
  }

  /**
   * Files are unlinked (a symlink is removed, never its target). An empty directory is removed, as
   * deleting a directory marker would be; a directory with contents is refused with InvalidInput
   * (use deleteDirectory), so nothing is lost by accident. Every path is attempted; the first
   * failure is thrown afterwards.
   */
  async delete(paths: readonly string[], options: SignalOptions = {}): Promise<void> {
    const outcomes: PromiseSettledResult<void>[] = [];
    for (let start = 0; start < paths.length; start += DELETE_CONCURRENCY) {
      throwIfAborted(options.signal, { system: "file", path: paths[start] });
      const batch = paths.slice(start, start + DELETE_CONCURRENCY);
      outcomes.push(...(await Promise.allSettled(batch.map((path) => this.#deleteOne(path)))));
    }
    const failure = outcomes.find((outcome) => outcome.status === "rejected");
    if (failure) throw failure.reason;
  }

  async #deleteOne(path: string): Promise<void> {
    const filePath = await this.#root.resolve(path, { followLast: false });
    let stats: Stats;
    try {
      stats = await lstat(filePath);
    } catch (error) {
      if (fsErrorCode(error) === "ENOENT" || fsErrorCode(error) === "ENOTDIR") return;
      throw mapFsError(error, filePath);
    }
    if (!stats.isDirectory()) {
      await withFsErrors(filePath, "write", () => unlink(filePath)).catch(ignoreMissing);
      return;
    }
    try {
      await rmdir(filePath);
    } catch (error) {
      const code = fsErrorCode(error);
      if (code === "ENOENT") return;
      if (code === "ENOTEMPTY" || code === "EEXIST") {
        throw errors.invalidInput(
          `${filePath} is a directory with contents; use deleteDirectory to remove it`,
          {
            system: "file",
            path: filePath,
            cause: error,
          },
        );
      }
      throw mapFsError(error, filePath, "write");
    }
  }

  /** rm -r. The root itself is kept (emptied); a symlink is removed, not followed; missing is fine. */
  async deleteDirectory(path: string, _options?: SignalOptions): Promise<void> {
    if (path === "") {
      const rootPath = this.#root.dir;
      const names = await withFsErrors(rootPath, "read", () => readdir(rootPath)).catch(ignoreMissing);
      for (const name of names ?? [])
        await withFsErrors(rootPath, "write", () =>
          rm(join(rootPath, name), { recursive: true, force: true }),
        );
      return;
    }
    const filePath = await this.#root.resolve(path, { followLast: false });
    const stats = await lstat(filePath).catch(() => undefined);
    if (!stats) return;
    if (stats.isFile()) {
      throw errors.invalidInput(`${filePath} is a file, not a directory; use delete to remove it`, {
        system: "file",
        path: filePath,
      });
    }
    await withFsErrors(filePath, "write", () => rm(filePath, { recursive: true, force: true }));
  }

  /** A copy (reflink where the file system can; cancellable when large) into a temp file, given `mtime` if asked, then placed atomically. */
  async copy(from: string, to: string, options: CopyOptions = {}): Promise<Entry> {
    const { filePath: sourcePath, stats } = await this.#regularFileStats(from);
    const target = await this.#root.resolveTarget(to);
    refuseTempName(to, target.path);
    const place = { exclusive: options.ifNoneMatch === "*", mtime: options.mtime, target };
    if (stats.size <= SMALL_FILE_BYTES && !this.#fsync) {
      const placed = placeSync(
        target.path,
        (tempPath) =>
          copyFileSync(sourcePath, tempPath, constants.COPYFILE_FICLONE | constants.COPYFILE_EXCL),
        place,
      );
      return entryFromStats(to, placed);
    }
    await placeAtomically(
      target.path,
      async (tempPath) => {
        try {
          await copyFileCancellable(sourcePath, tempPath, options.signal);
        } catch (error) {
          // A full or read-only destination is the destination's problem: name it, not the source.
          throw isDestinationError(error)
            ? mapFsError(error, target.path, "write")
            : mapFsError(error, sourcePath, "read");
        }
      },
      { ...place, fsync: this.#fsync, signal: options.signal },
    );
    return this.#placedEntry(to, target.path);
  }

  /**
   * Copy many small files from this storage into the folder `toDir` of this storage, staged and moved
   * into place together (batch-copy.ts). Returns per item whether it was copied; those that were not
   * are for the caller to copy one by one. Only where keys need no symlink check (rooted at the file
   * system's root) and without fsync.
   */
  async copyBatch(
    toDir: string,
    items: readonly BatchCopyFile[],
    options: BatchCopyOptions = {},
  ): Promise<boolean[]> {
    const skipAll = () => items.map(() => false);
    if (this.#fsync || toDir === "" || !(await this.#root.isFileSystemRoot())) return skipAll();
    if (toDir.split("/").some((segment) => segment.startsWith(TEMP_PREFIX))) return skipAll();
    const batch: BatchCopyItem[] = [];
    const positions: number[] = [];
    items.forEach((item, index) => {
      // Listings never hold such names; a caller's own list might (the usual path refuses them).
      if (baseName(item.from).startsWith(TEMP_PREFIX) || baseName(item.relative).startsWith(TEMP_PREFIX))
        return;
      batch.push({
        source: this.#root.path(item.from),
        relative: item.relative,
        size: item.size,
        mtimeMs: item.mtime?.getTime(),
      });
      positions.push(index);
    });
    const done = skipAll();
    if (batch.length === 0) return done;
    const toItems = (report: ((indexes: readonly number[]) => void) | undefined) =>
      report && ((indexes: readonly number[]) => report(indexes.map((index) => positions[index]!)));
    const copied = await copyBatch(this.#root.path(toDir), batch, {
      signal: options.signal,
      onCopied: toItems(options.onCopied),
      onPlaced: toItems(options.onPlaced),
    });
    copied.forEach((isDone, index) => {
      done[positions[index]!] = isDone;
    });
    return done;
  }

  /** The path of `key` below the root directory (symbolic links on the way are not resolved). */
  localPath(key: string): string {
    return this.#root.path(key);
  }

  /** rename (files or whole directories), creating the target's parents; across devices, copy + unlink. */
  async move(from: string, to: string, options: CopyOptions = {}): Promise<Entry> {
    const sourcePath = await this.#root.resolve(from, { followLast: false });
    const targetPath = await this.#root.resolve(to);
    refuseTempName(to, targetPath);
    const source = await withFsErrors(sourcePath, "read", () => lstat(sourcePath));
    if (from === to) return this.stat(to);
    if (source.isDirectory() && to.startsWith(`${from}/`)) {
      throw errors.invalidInput(`cannot move the directory ${sourcePath} into itself (${targetPath})`, {
        system: "file",
        path: targetPath,
      });
    }
    await ensureParent(targetPath);
    try {
      if (options.ifNoneMatch !== "*") await rename(sourcePath, targetPath);
      else if (source.isDirectory()) await this.#renameDirectoryExclusive(sourcePath, targetPath);
      else {
        // link fails with EEXIST instead of replacing: the create-only check and the move are one step.
        await link(sourcePath, targetPath);
        await unlink(sourcePath);
      }
    } catch (error) {
      const code = fsErrorCode(error);
      if (code === "EEXIST" && options.ifNoneMatch === "*") {
        throw errors.conditionNotMet(`not moved: something already exists at ${targetPath}`, {
          system: "file",
          path: targetPath,
          cause: error,
        });
      }
      if (code === "EXDEV" && !source.isDirectory()) {
        await this.copy(from, to, options);
        await withFsErrors(sourcePath, "write", () => unlink(sourcePath));
      } else if (code === "ENOENT") {
        throw mapFsError(error, sourcePath);
      } else if (code === "ENOTDIR" || code === "EISDIR") {
        throw errors.invalidInput(
          `cannot move ${sourcePath} onto ${targetPath}: one is a directory and the other is not`,
          {
            system: "file",
            path: targetPath,
            cause: error,
          },
        );
      } else {
        throw mapFsError(error, targetPath, "write");
      }
    }
    return this.stat(to);
  }

  /**
   * Claim the target by creating it empty (mkdir fails with EEXIST if anything is there), then
   * rename the directory over it: POSIX rename replaces an empty directory atomically.
   */
  async #renameDirectoryExclusive(sourcePath: string, targetPath: string): Promise<void> {
    await mkdir(targetPath);
    try {
      await rename(sourcePath, targetPath);
    } catch (error) {
      await rmdir(targetPath).catch(() => undefined);
      throw error;
    }
  }

  async mkdir(path: string, _options?: SignalOptions): Promise<void> {
    const filePath = await this.#root.resolve(path);
    refuseTempName(path, filePath);
    try {
      await makeDirectories(filePath);
    } catch (error) {
      const code = fsErrorCode(error);
      if (code === "EEXIST" || code === "ENOTDIR") {
        throw errors.alreadyExists(`cannot create directory ${filePath}: a file is in the way`, {
          system: "file",
          path: filePath,
          cause: error,
        });
      }
      throw mapFsError(error, filePath, "write");
    }
  }

  async checksum(path: string, algorithm: HashAlgorithm, options: SignalOptions = {}): Promise<string> {
    const filePath = await this.#regularFile(path);
    return hashFile(filePath, algorithm, options.signal);
  }

  /** Stale temp files and staging folders below `prefix` (the rule: leftovers.ts). Links are not followed. */
  async cleanup(prefix: string, options: CleanupOptions): Promise<CleanupResult> {
    const root = this.#root;
    if (prefix !== "") await root.resolve(prefix, { followLast: false });
    return cleanTempLeftovers(
      {
        readDirectory: async (dir) => {
          const dirPath = root.path(dir);
          const names = await readdir(dirPath, { withFileTypes: true }).catch((error) => {
            if (["ENOENT", "ENOTDIR"].includes(fsErrorCode(error) ?? "")) return [];
            throw mapFsError(error, dirPath);
          });
          return names.map((dirent) => {
            // Only ferry's own names need a size and a time: no stat per user file.
            const stats = dirent.name.startsWith(TEMP_PREFIX)
              ? lstatSync(join(dirPath, dirent.name), { throwIfNoEntry: false })
              : undefined;
            return {
              name: dirent.name,
              directory: dirent.isDirectory(),
              size: stats?.size ?? 0,
              modified: stats?.mtime,
            };
          });
        },
        remove: (path) => {
          const filePath = root.path(path);
          return withFsErrors(filePath, "write", () => rm(filePath, { recursive: true, force: true }));
        },
      },
      prefix,
      options,
    );
  }

  async close(): Promise<void> {}

  async #regularFile(path: string): Promise<string> {
    return (await this.#regularFileStats(path)).filePath;
  }

  async #regularFileStats(path: string): Promise<{ filePath: string; stats: Stats }> {
    const filePath = await this.#root.resolve(path);
    refuseTempName(path, filePath);
    // Synchronous, as listings stat: a few microseconds, against a thread-pool round trip.
    let stats: Stats;
    try {
      stats = statSync(filePath);
    } catch (error) {
      throw mapFsError(error, filePath, "read");
    }
    if (stats.isDirectory())
      throw errors.invalidInput(`is a directory, not a file: ${filePath}`, {
        system: "file",
        path: filePath,
      });
    if (!stats.isFile()) throw notRegular(filePath);
    return { filePath, stats };
  }
}

function refuseTempName(key: string, filePath: string): void {
  if (baseName(key).startsWith(TEMP_PREFIX)) {
    throw errors.invalidInput(
      `names starting with "${TEMP_PREFIX}" are reserved for in-flight writes: ${filePath}`,
      {
        system: "file",
        path: filePath,
      },
    );
  }
}

function notRegular(filePath: string) {
  return errors.invalidInput(`not a regular file or directory (socket, FIFO or device): ${filePath}`, {
    system: "file",
    path: filePath,
  });
}

function ignoreMissing(error: unknown): undefined {
  if (fsErrorCode((error as { cause?: unknown }).cause) === "ENOENT" || fsErrorCode(error) === "ENOENT")
    return undefined;
  throw error;
}
