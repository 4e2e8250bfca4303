/**
 * A catalog on any storage:
 *
 *   <catalog>/<run-id>/<relative paths>            stored copies (put with storeCopy)
 *   <catalog>/<run-id>/<name><XYZ>.execution.log   stdout and stderr of each step
 *   <catalog>/<run-id>/<run-id>.json               the run log
 *   <catalog>/<run-id>/<run-id>.summary.json       the summary printed at the end
 *
 * Everything about one run is inside its folder, so a run can be copied, listed or removed as one.
 */
import { randomBytes } from "node:crypto";
import { constants, createReadStream, createWriteStream, lstatSync } from "node:fs";
import { copyFile, mkdir, rename, rm } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import type { Storage } from "@ferry/plugin-kit";
import {
  conditionalWritesHold,
  errors,
  FerryError,
  joinKey,
  relativeKey,
  TEMP_PREFIX,
  tempNameHead,
} from "@ferry/plugin-kit";
import { isDestinationError, mapFsError } from "@ferry/storage-local";
import { ferry } from "../default.ts";
import { formatLocation, type Location, type LocationLike, parseLocation } from "../location.ts";
import type { PluginRegistry } from "../plugins.ts";
import { SmallFileCapturer } from "./capturer.ts";
import { CLAIMS_FOLDER, claimRunId } from "./claim.ts";
import {
  type Fingerprint,
  HashingTap,
  hashLocalFile,
  type LocalFile,
  md5Of,
  streamNoFollow,
} from "./hashing.ts";
import { formatRunLog, type RunLog } from "./run-log.ts";

export const DEFAULT_CATALOG = ".catalog";
export const EXECUTION_LOG_SUFFIX = ".execution.log";

export function runLogName(runId: string): string {
  return `${runId}.json`;
}

export function summaryName(runId: string): string {
  return `${runId}.summary.json`;
}

/** Files of the run folder that belong to the run itself, not to what it captured. */
export function isRunOwnFile(runId: string, relativePath: string): boolean {
  if (relativePath.includes("/")) return false;
  return (
    relativePath === runLogName(runId) ||
    relativePath === summaryName(runId) ||
    relativePath.endsWith(EXECUTION_LOG_SUFFIX)
  );
}

export class CatalogStore {
  readonly storage: Storage;
  readonly location: Location;
  /** The directory of a catalog on local disk, for the small-file fast path. */
  readonly #localDirectory: string | undefined;
  readonly #localWriter = new SmallFileCapturer(TEMP_PREFIX);

  constructor(storage: Storage, location: Location) {
    this.storage = storage;
    this.location = location;
    this.#localDirectory = storage.capabilities.localPaths ? storage.localPath("") : undefined;
  }

  /** Resolve a catalog location (default `.catalog` in `cwd`) to its storage. */
  static async open(
    location: LocationLike | undefined,
    cwd: string,
    plugins: PluginRegistry = ferry,
  ): Promise<CatalogStore> {
    const resolved = await plugins.resolve(parseLocation(location ?? DEFAULT_CATALOG, { cwd }));
    return new CatalogStore(resolved.storage, resolved.location);
  }

  get url(): string {
    return this.location.url;
  }

  /** The catalog's directory relative to `cwd` when it is a local folder inside it (so it is never captured). */
  localDirectoryIn(cwd: string): string | undefined {
    if (this.location.system !== "file") return undefined;
    const rel = relative(cwd, `/${this.location.path}`);
    if (rel === "" || rel.startsWith("..") || isAbsolute(rel)) return undefined;
    return rel.split(sep).join("/");
  }

  /** Where a captured file's copy goes when the catalog is on local disk; undefined for other storage. */
  localPath(runId: string, relativePath: string): string | undefined {
    if (this.#localDirectory === undefined) return undefined;
    return join(this.#localDirectory, ...this.key(runId, relativePath).split("/"));
  }

  key(runId: string, relativePath = ""): string {
    return joinKey(this.location.path, runId, relativePath);
  }

  display(runId: string, relativePath = ""): string {
    const base = formatLocation(this.location).replace(/\/$/, "");
    return [base, runId, relativePath].filter(Boolean).join("/");
  }

  async runExists(runId: string): Promise<boolean> {
    for await (const _ of this.storage.list(this.key(runId), { limit: 1 })) return true;
    return false;
  }

  async readRunLog(runId: string): Promise<RunLog> {
    const key = this.key(runId, runLogName(runId));
    let bytes: Uint8Array;
    try {
      bytes = await this.storage.readBytes(key);
    } catch (error) {
      if (FerryError.isInstance(error, "NotFound")) {
        throw errors.notFound(`run ${runId} has no run log in the catalog ${formatLocation(this.location)}`, {
          path: this.display(runId),
          cause: error,
        });
      }
      throw error;
    }
    let log: unknown;
    try {
      log = JSON.parse(new TextDecoder().decode(bytes));
    } catch (error) {
      throw errors.invalidInput(`run log ${this.display(runId, runLogName(runId))} is not valid JSON`, {
        cause: error,
      });
    }
    if (
      typeof log !== "object" ||
      log === null ||
      (log as RunLog).runId !== runId ||
      !Array.isArray((log as RunLog).steps)
    ) {
      throw errors.invalidInput(`${this.display(runId, runLogName(runId))} is not a ferry run log`);
    }
    return log as RunLog;
  }

  /** Write the run log (replacing it). */
  async writeRunLog(log: RunLog): Promise<void> {
    await this.storage.write(this.key(log.runId, runLogName(log.runId)), formatRunLog(log), {
      contentType: "application/json",
    });
  }

  /**
   * Write the first run log of a new run, taking its id: false when the id is already taken. With
   * create-only writes that the storage really honours (conditionalWritesHold) that is one write;
   * otherwise a claim protocol (claim.ts) makes sure only one starter gets the id.
   */
  async createRunLog(log: RunLog): Promise<boolean> {
    const key = this.key(log.runId, runLogName(log.runId));
    const claims = joinKey(this.location.path, CLAIMS_FOLDER, log.runId);
    // Asked next to the claims, not in the run folder: a storage that probes its server (S3) writes
    // there, and a probe object in the run folder would make the run look started to another starter.
    if (await conditionalWritesHold(this.storage, joinKey(claims, "probe"))) {
      try {
        await this.storage.write(key, formatRunLog(log), {
          contentType: "application/json",
          ifNoneMatch: "*",
        });
        return true;
      } catch (error) {
        if (FerryError.isInstance(error, "ConditionNotMet")) return false;
        throw error;
      }
    }
    const claim = await claimRunId({
      storage: this.storage,
      claims,
      taken: () => this.runExists(log.runId),
      display: this.display(log.runId),
    });
    if (claim === undefined) return false;
    try {
      await this.writeRunLog(log);
    } finally {
      await claim.release();
    }
    return true;
  }

  async writeJson(runId: string, name: string, value: unknown): Promise<void> {
    await this.storage.write(this.key(runId, name), `${JSON.stringify(value, null, 2)}\n`, {
      contentType: "application/json",
    });
  }

  /**
   * Put a local file into the run folder, hashing it on the way (one read). A small file arrives
   * with its bytes (see openLocalFile) and, for a catalog on local disk, is written with synchronous
   * calls (temp file + rename, as the local driver does): for thousands of small files the thread-pool
   * round trips of asynchronous I/O cost more than the I/O itself. Large files stream.
   */
  async storeFile(
    runId: string,
    relativePath: string,
    localPath: string,
    file: LocalFile,
    signal?: AbortSignal,
  ): Promise<Fingerprint> {
    const key = this.key(runId, relativePath);
    if (file.bytes) {
      const md5 = md5Of(file.bytes);
      if (this.#localDirectory !== undefined)
        this.#localWriter.write(join(this.#localDirectory, ...key.split("/")), file.bytes);
      else await this.storage.write(key, file.bytes, { size: file.size, md5, signal });
      return { md5, size: file.size };
    }
    if (this.#localDirectory !== undefined)
      return this.#copyLocal(localPath, join(this.#localDirectory, ...key.split("/")));
    const tap = new HashingTap();
    await this.storage.write(key, tap.tap(streamNoFollow(localPath)), {
      size: file.size,
      signal,
    });
    return tap.result();
  }

  /**
   * A large file into a local catalog: the kernel copies it (a reflink where the file system can)
   * while the hash is computed from the source, instead of pushing every byte through JavaScript.
   * If the source changes meanwhile (size or mtime), the copy is dropped and Integrity raised.
   */
  async #copyLocal(localPath: string, path: string): Promise<Fingerprint> {
    // lstat: a link that replaced the file since the patterns were expanded is not copied through.
    const before = lstatSync(localPath);
    if (!before.isFile())
      throw errors.invalidInput(
        `${localPath} is no longer a regular file (a symbolic link?); it was not captured`,
        {
          path: localPath,
        },
      );
    const parent = dirname(path);
    await mkdir(parent, { recursive: true });
    const temp = join(parent, `${tempNameHead()}-${basename(path)}`);
    try {
      const [fingerprint] = await Promise.all([
        hashLocalFile(localPath),
        copyFile(localPath, temp, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE),
      ]);
      const after = lstatSync(localPath);
      if (
        after.size !== before.size ||
        after.mtimeMs !== before.mtimeMs ||
        fingerprint.size !== before.size
      ) {
        throw errors.integrity(`${localPath} changed while it was being captured; run the capture again`, {
          path: localPath,
        });
      }
      await rename(temp, path);
      return fingerprint;
    } catch (error) {
      await rm(temp, { force: true });
      // A full or read-only catalog disk is the catalog's problem: name the catalog's file, not the source.
      throw isDestinationError(error) ? mapFsError(error, path, "write") : mapFsError(error, localPath);
    }
  }

  /**
   * Stream a key of the catalog into a local file, hashing it on the way. The file appears under its
   * name only when complete (temp file + rename), replacing what was there.
   */
  async fetchFile(
    key: string,
    localPath: string,
    options: {
      expectedMd5?: string | undefined;
      signal?: AbortSignal | undefined;
      /** Called after the copy is complete and checked, right before it replaces `localPath`. */
      beforePlace?: (() => Promise<void>) | undefined;
    } = {},
  ): Promise<Fingerprint> {
    const { signal, expectedMd5 } = options;
    await mkdir(dirname(localPath), { recursive: true });
    const temp = `${localPath}.ferry-get-${randomBytes(4).toString("hex")}`;
    const tap = new HashingTap();
    try {
      const stream = await this.storage.read(key, { signal });
      await pipeline(tap.tap(stream), createWriteStream(temp, { flags: "wx" }), signal ? { signal } : {});
      const { md5 } = tap.result();
      if (expectedMd5 !== undefined && md5 !== expectedMd5) {
        throw errors.integrity(
          `${formatLocation(this.location)}/${relativeKey(this.location.path, key) ?? key} has MD5 ${md5}, but its run log recorded ${expectedMd5}: the stored copy changed since it was captured`,
          {
            path: key,
          },
        );
      }
      await options.beforePlace?.();
      await rename(temp, localPath);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    return tap.result();
  }

  /** Keys in a run folder, relative to it, captured files only (not the run's own files), sorted. */
  async runFiles(runId: string): Promise<string[]> {
    const base = this.key(runId);
    const files: string[] = [];
    for await (const entry of this.storage.list(base, { recursive: true })) {
      const rel = relativeKey(base, entry.path);
      if (rel !== undefined && rel !== "" && !isRunOwnFile(runId, rel)) files.push(rel);
    }
    return files;
  }

  /** Run ids: the folders directly under the catalog root. */
  async runIds(): Promise<string[]> {
    const ids: string[] = [];
    for await (const entry of this.storage.list(this.location.path)) {
      if (entry.kind === "directory") {
        const id = relativeKey(this.location.path, entry.path);
        if (id && id !== CLAIMS_FOLDER) ids.push(id);
      }
    }
    return ids;
  }

  async deleteRun(runId: string): Promise<void> {
    await this.storage.deleteDirectory(this.key(runId));
  }

  /** Read a stored copy as a stream (for verify). */
  read(runId: string, relativePath: string, signal?: AbortSignal) {
    return this.storage.read(this.key(runId, relativePath), { signal });
  }

  /** Upload a local file (e.g. the execution log) as it is. */
  async uploadFile(runId: string, name: string, localPath: string): Promise<void> {
    await this.storage.write(this.key(runId, name), createReadStream(localPath), {
      contentType: "text/plain",
    });
  }
}
