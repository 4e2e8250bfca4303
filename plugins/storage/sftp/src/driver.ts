/**
 * The SFTP storage driver: a directory on an SSH host ("cluster"). File operations go over SFTP;
 * when the host runs commands, copy, checksum and rm -r run there, so no bytes come back through
 * the client.
 */
import { posix } from "node:path";
import type { Readable } from "node:stream";
import {
  type Capabilities,
  type CleanupOptions,
  type CleanupResult,
  type CopyOptions,
  type Entry,
  type ExecOptions,
  type ExecResult,
  errors,
  FerryError,
  type HashAlgorithm,
  type ListOptions,
  type ProtectedKey,
  type ReadOptions,
  type SignalOptions,
  type StorageDriver,
  throwIfAborted,
  type WriteOptions,
} from "@ferry/plugin-kit";
import pLimit from "p-limit";
import type { Attributes } from "ssh2";
import { type HostFeatures, sftpCapabilities } from "./capabilities.ts";
import { cleanupHost } from "./cleanup.ts";
import type { HostPool } from "./client.ts";
import { ignoreNotFound, notRegular } from "./errors.ts";
import { entryOf, listDirectory } from "./list.ts";
import { DEFAULTS, type HostTools, hostTools, positive, type SftpOptions } from "./options.ts";
import { readFile, requireFile } from "./read.ts";
import { copyInto, md5OnHost, removeOnHost, removeTree } from "./ssh/server-side.ts";
import { isDirectoryMode, isFileMode, type SftpCalls } from "./ssh/sftp-calls.ts";
import { commandLine, run } from "./ssh/shell.ts";
import {
  defaultUploadChunk,
  ensureParent,
  makeDirectories,
  place,
  placeFeatures,
  placeUpload,
  reopenForWrite,
  TEMP_PREFIX,
  tempPathFor,
  uploadTo,
  WriteTargets,
} from "./write.ts";

export interface SftpDriverInit {
  pool: HostPool;
  /** Absolute directory on the host that keys are relative to. */
  base: string;
  /** Display URL of the root. */
  root: string;
  features: HostFeatures;
  options: SftpOptions;
}

export class SftpDriver implements StorageDriver {
  readonly system = "sftp";
  readonly root: string;
  readonly capabilities: Capabilities;
  readonly base: string;
  readonly features: HostFeatures;
  readonly #pool: HostPool;
  readonly #options: SftpOptions;
  readonly #tools: HostTools;
  readonly #chunkSize: number;
  readonly #concurrency: number;
  #closed = false;
  readonly #targets = new WriteTargets();

  constructor(init: SftpDriverInit) {
    this.#pool = init.pool;
    this.base = init.base;
    this.root = init.root;
    this.features = init.features;
    this.#options = init.options;
    this.#tools = hostTools(init.options);
    this.#chunkSize = positive(init.options.chunkSize) ?? DEFAULTS.chunkSize;
    this.#concurrency = positive(init.options.concurrency) ?? DEFAULTS.concurrency;
    this.capabilities = sftpCapabilities(init.features);
  }

  /** The shared connection pool of this host (for plugin-specific use and tests). */
  get pool(): HostPool {
    return this.#pool;
  }

  /**
   * The login's home directory, where it lies under this storage's base (a storage rooted at the home
   * itself is refused as a whole root already).
   */
  async protectedKeys(): Promise<readonly ProtectedKey[]> {
    const home = await this.#pool.fact("home", () =>
      this.#pool.run((connection) => connection.calls.realpath(".")),
    );
    const base = this.base === "/" ? "" : this.base.replace(/\/+$/, "");
    const normal = home.replace(/\/+$/, "") || "/";
    if (normal === (base || "/") || !normal.startsWith(`${base}/`)) return [];
    const host = this.root.replace(/^(sftp:\/\/[^/]*).*$/, "$1");
    return [{ key: normal.slice(base.length + 1), what: `the login's home directory on ${host}` }];
  }

  /** Absolute path on the host for a key. */
  pathOf(key: string): string {
    return key === "" ? this.base : posix.join(this.base, key);
  }

  #refuseTempName(key: string): void {
    if (posix.basename(key).startsWith(TEMP_PREFIX)) {
      throw errors.invalidInput(
        `names starting with "${TEMP_PREFIX}" are reserved for in-flight writes: ${key}`,
        { system: "sftp", path: key },
      );
    }
  }

  async stat(key: string): Promise<Entry> {
    const path = this.pathOf(key);
    const attrs = await this.#pool.run((connection) => connection.calls.stat(path));
    if (!isDirectoryMode(attrs.mode) && !isFileMode(attrs.mode)) throw notRegular(path, this.#pool.label);
    return entryOf(key, attrs);
  }

  async *list(dir: string, options: ListOptions = {}): AsyncIterable<Entry> {
    yield* await listDirectory(this.#pool, this.pathOf(dir), dir, options.signal);
  }

  read(key: string, options: ReadOptions = {}): Promise<Readable> {
    return readFile(this.#pool, this.pathOf(key), options, {
      chunkSize: this.#chunkSize,
      concurrency: this.#concurrency,
    });
  }

  async write(key: string, source: AsyncIterable<Uint8Array>, options: WriteOptions = {}): Promise<Entry> {
    this.#refuseTempName(key);
    const path = this.pathOf(key);
    const temp = tempPathFor(path);
    const exclusive = options.ifNoneMatch === "*";
    let consumed = false;
    const tracked = (async function* () {
      consumed = true;
      yield* source;
    })();
    try {
      return await this.#pool.run(
        async (connection) => {
          const tuning = {
            chunkSize:
              positive(options.partSize) ??
              positive(this.#options.chunkSize) ??
              defaultUploadChunk(connection.calls),
            concurrency: positive(options.concurrency) ?? this.#concurrency,
            size: options.size,
            mtime: options.mtime,
            signal: options.signal,
            reopen: () => reopenForWrite(this.#pool, temp),
          };
          const upload = (alongsideOpen?: () => Promise<void>) =>
            uploadTo(connection, temp, tracked, { ...tuning, alongsideOpen });
          const uploaded = await this.#targets.upload(
            connection.calls,
            path,
            exclusive,
            upload,
            () => consumed,
          );
          return placeUpload(uploaded, temp, { key, path }, exclusive, options.mtime);
        },
        // The source is consumed as it is sent: the whole write is repeated on a fresh connection
        // only when the old one was found dead before the first byte was taken (after that, the
        // upload itself resumes once).
        { retry: () => !consumed },
      );
    } catch (error) {
      await this.#removeQuietly(temp);
      throw error;
    }
  }

  /** Best-effort removal of a temporary file after a failure, on a fresh connection if the old one died. */
  async #removeQuietly(temp: string): Promise<void> {
    if (this.#closed) return;
    await this.#pool.run((connection) => connection.calls.unlink(temp)).catch(() => undefined);
  }

  /** Every path is attempted, `concurrency` at a time (SFTP pipelines them); the first failure is thrown afterwards. */
  async delete(paths: readonly string[], options: SignalOptions = {}): Promise<void> {
    const limit = pLimit(this.#concurrency);
    const results = await Promise.allSettled(
      paths.map((key) =>
        limit(() => {
          throwIfAborted(options.signal, { system: "sftp", path: key });
          return this.#pool.run((connection) => this.#deleteOne(connection.calls, this.pathOf(key)));
        }),
      ),
    );
    const failure = results.find((result) => result.status === "rejected");
    if (failure) throw failure.reason;
  }

  async #deleteOne(calls: SftpCalls, path: string): Promise<void> {
    let attrs: Attributes;
    try {
      attrs = await calls.lstat(path);
    } catch (error) {
      if (FerryError.isInstance(error, "NotFound")) return;
      throw error;
    }
    if (!isDirectoryMode(attrs.mode)) {
      await calls.unlink(path).catch(ignoreNotFound);
      return;
    }
    try {
      await calls.rmdir(path);
    } catch (error) {
      if (FerryError.isInstance(error, "NotFound")) return;
      if (FerryError.isInstance(error, "Unexpected")) {
        throw errors.invalidInput(
          `${path} on ${calls.host} is a directory with contents; use deleteDirectory to remove it`,
          { system: "sftp", path, cause: error },
        );
      }
      throw error;
    }
  }

  /** Stale temp files of ferry's writes below `key` (cleanup.ts). */
  cleanup(key: string, options: CleanupOptions): Promise<CleanupResult> {
    return cleanupHost(this.#pool, (path) => this.pathOf(path), key, options);
  }

  /** rm -r on the host (one command when it runs commands, else a walk over SFTP). The root itself is emptied, not removed. */
  async deleteDirectory(key: string): Promise<void> {
    const path = this.pathOf(key);
    await this.#pool.run(async (connection) => {
      const calls = connection.calls;
      const attrs = await calls.lstat(path).catch(ignoreNotFound);
      if (!attrs) return;
      if (!isDirectoryMode(attrs.mode)) {
        if (key === "") return;
        throw errors.invalidInput(
          `${path} on ${calls.host} is a file, not a directory; use delete to remove it`,
          { system: "sftp", path },
        );
      }
      if (this.features.exec && this.features.rm)
        await removeOnHost(connection, path, key === "", this.#tools);
      else await removeTree(calls, path, key === "");
    });
  }

  async mkdir(key: string): Promise<void> {
    this.#refuseTempName(key);
    const path = this.pathOf(key);
    await this.#pool.run((connection) => makeDirectories(connection.calls, path));
  }

  async move(from: string, to: string, options: CopyOptions = {}): Promise<Entry> {
    this.#refuseTempName(to);
    const source = this.pathOf(from);
    const target = this.pathOf(to);
    await this.#pool.run(async (connection) => {
      const calls = connection.calls;
      const attrs = await calls.lstat(source);
      if (from === to) return;
      await ensureParent(calls, target);
      const exclusive = options.ifNoneMatch === "*";
      // Hard links are for files; directories take the rename that refuses to replace.
      const features = {
        ...placeFeatures(connection),
        ...(isDirectoryMode(attrs.mode) ? { hardlink: false } : {}),
      };
      await place(calls, source, target, exclusive, features);
    });
    return this.stat(to);
  }

  async copy(from: string, to: string, options: CopyOptions = {}): Promise<Entry> {
    this.#refuseTempName(to);
    const source = this.pathOf(from);
    const target = this.pathOf(to);
    const temp = tempPathFor(target);
    const exclusive = options.ifNoneMatch === "*";
    try {
      await this.#pool.run(async (connection) => {
        const calls = connection.calls;
        const attrs = await calls.stat(source);
        requireFile(attrs, source, calls.host);
        await this.#targets.check(calls, target, exclusive);
        const plan = {
          command: this.features.exec && this.features.cp,
          copyData: this.features.copyData,
          tools: this.#tools,
          chunkSize: this.#chunkSize,
          concurrency: this.#concurrency,
        };
        await copyInto(connection, { path: source, size: attrs.size }, temp, plan, options.signal);
        await place(calls, temp, target, exclusive, placeFeatures(connection));
      });
    } catch (error) {
      await this.#removeQuietly(temp);
      throw error;
    }
    return this.stat(to);
  }

  async checksum(key: string, algorithm: HashAlgorithm, options: SignalOptions = {}): Promise<string> {
    const path = this.pathOf(key);
    if (algorithm !== "md5" || !this.capabilities.checksum) {
      throw errors.unsupported(`sftp storage computes only md5 (with md5sum on the host), not ${algorithm}`, {
        system: "sftp",
        path,
      });
    }
    return this.#pool.run(async (connection) => {
      requireFile(await connection.calls.stat(path), path, connection.label);
      return md5OnHost(connection, path, this.#tools, options.signal);
    });
  }

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const cwd = options.cwd === undefined ? this.base : posix.resolve(this.base, options.cwd);
    const line = commandLine(command, { cwd, env: options.env });
    // A command may have side effects: it is repeated on a fresh connection only when the old one
    // was found dead before the command started.
    let started = false;
    return this.#pool.run(
      (connection) =>
        run(connection, line, {
          stdin: options.stdin,
          signal: options.signal,
          onStart: () => {
            started = true;
          },
        }),
      { retry: () => !started },
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.release();
  }
}
