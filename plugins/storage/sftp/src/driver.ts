/**
 * The SFTP storage driver: a directory on an SSH host ("cluster"). File operations go over SFTP;
 * when the host runs commands, copy, checksum and rm -r run there, so no bytes come back through
 * the client.
 */
import { posix } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import {
  baseCapabilities,
  type Capabilities,
  type CopyOptions,
  compareKeys,
  type Entry,
  type ExecOptions,
  type ExecResult,
  errors,
  FerryError,
  type HashAlgorithm,
  type ListOptions,
  type ReadOptions,
  type SignalOptions,
  type StorageDriver,
  throwIfAborted,
  type WriteOptions,
} from "@ferry/core";
import type { Attributes } from "ssh2";
import type { Connection } from "./connection.ts";
import { DEFAULTS, type SftpOptions } from "./options.ts";
import type { HostPool } from "./pool.ts";
import { ParallelReadStream, type RemoteFile } from "./read-stream.ts";
import {
  isDirectoryMode,
  isFileMode,
  isLinkMode,
  isLostConnection,
  mapSftpError,
  type SftpCalls,
} from "./sftp-ops.ts";
import { commandLine, run, runRaw, shellQuote } from "./shell.ts";
import {
  ensureParent,
  makeDirectories,
  place,
  placeFeatures,
  TEMP_PREFIX,
  tempPathFor,
  uploadTo,
} from "./write.ts";

/** What the host can do beyond plain SFTP, found out on first connection. */
export interface HostFeatures {
  /** Commands run (a shell answers exec requests). */
  exec: boolean;
  md5sum: boolean;
  cp: boolean;
  rm: boolean;
  /** The `copy-data` SFTP extension (OpenSSH 9.0+): server-side copy without a shell. */
  copyData: boolean;
}

export function sftpCapabilities(features: HostFeatures): Capabilities {
  const checksum = features.exec && features.md5sum;
  return {
    ...baseCapabilities,
    conditionalWrite: true,
    rangeRead: true,
    copy: (features.exec && features.cp) || features.copyData ? "native" : "emulated",
    move: "native",
    mkdir: "native",
    emptyDirectories: true,
    directories: "real",
    hashes: checksum ? ["md5"] : [],
    checksum,
    exec: features.exec,
    presign: false,
    listOrder: "lexicographic",
    listRecursive: "walk",
    mtime: "native",
    mtimePrecisionMs: 1000,
    setMtime: true,
    contentType: false,
    caseInsensitive: false,
    limits: { partSizeDefault: DEFAULTS.chunkSize, maxKeyBytes: 4096 },
  };
}

function entryOf(key: string, attrs: Attributes): Entry {
  return {
    path: key,
    kind: isDirectoryMode(attrs.mode) ? "directory" : "file",
    size: isDirectoryMode(attrs.mode) ? 0 : attrs.size,
    mtime: new Date(attrs.mtime * 1000),
  };
}

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
  #closed = false;

  constructor(init: SftpDriverInit) {
    this.#pool = init.pool;
    this.base = init.base;
    this.root = init.root;
    this.features = init.features;
    this.#options = init.options;
    this.capabilities = sftpCapabilities(init.features);
  }

  /** The shared connection pool of this host (for plugin-specific use and tests). */
  get pool(): HostPool {
    return this.#pool;
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
    const path = this.pathOf(dir);
    const opened = await this.#pool.run(async (connection) => {
      let handle: Buffer;
      try {
        handle = await connection.calls.opendir(path);
      } catch (error) {
        // A missing directory, or a file, lists as empty.
        if (FerryError.isInstance(error, "NotFound")) return undefined;
        const attrs = await connection.calls.statOrNothing(path);
        if (!attrs || !isDirectoryMode(attrs.mode)) return undefined;
        throw error;
      }
      this.#pool.hold(connection);
      return { connection, handle };
    });
    if (!opened) return;
    const { connection, handle } = opened;
    const calls = connection.calls;
    // readdir order is the server's; one directory's entries are sorted here (a directory `d`
    // sorting as `d/`), which is what core would otherwise buffer to do.
    const entries: Entry[] = [];
    try {
      for (;;) {
        throwIfAborted(options.signal, { system: "sftp", path: dir });
        const batch = await calls.readdirBatch(handle, path);
        if (!batch) break;
        for (const item of batch) {
          const name = item.filename;
          if (name === "." || name === ".." || name.startsWith(TEMP_PREFIX)) continue;
          let attrs: Attributes | undefined = item.attrs;
          const childPath = posix.join(path, name);
          // Symlinks are followed, as stat does; a dangling one is left out.
          if (isLinkMode(attrs.mode)) attrs = await calls.statOrNothing(childPath);
          if (!attrs || (!isDirectoryMode(attrs.mode) && !isFileMode(attrs.mode))) continue;
          entries.push(entryOf(dir === "" ? name : `${dir}/${name}`, attrs));
        }
      }
    } finally {
      await calls.close(handle, path).catch(() => undefined);
      this.#pool.giveBack(connection);
    }
    const sortKey = (entry: Entry) => (entry.kind === "directory" ? `${entry.path}/` : entry.path);
    entries.sort((a, b) => compareKeys(sortKey(a), sortKey(b)));
    yield* entries;
  }

  /** Open `path` for reading on a pooled connection, held until the file is released. */
  #openForRead(path: string): Promise<RemoteFile> {
    const label = this.#pool.label;
    return this.#pool.run(async (connection) => {
      const attrs = await connection.calls.stat(path);
      if (isDirectoryMode(attrs.mode)) {
        throw errors.invalidInput(`is a directory, not a file: ${path} on ${label}`, {
          system: "sftp",
          path,
        });
      }
      if (!isFileMode(attrs.mode)) throw notRegular(path, label);
      const handle = await connection.calls.open(path, "r", "read");
      this.#pool.hold(connection);
      let released = false;
      return {
        calls: connection.calls,
        handle,
        size: attrs.size,
        mtime: attrs.mtime,
        lost: (error: unknown) => connection.dead || isLostConnection(error),
        release: () => {
          if (released) return;
          released = true;
          this.#pool.giveBack(connection);
        },
      };
    });
  }

  async read(key: string, options: ReadOptions = {}): Promise<Readable> {
    const path = this.pathOf(key);
    const file = await this.#openForRead(path);
    const span = byteSpan(file.size, options.range);
    if (span.length === 0) {
      await file.calls.close(file.handle, path).catch(() => undefined);
      file.release();
      return new PassThrough().end();
    }
    const source = new ParallelReadStream(
      file,
      path,
      {
        ...span,
        chunkSize: this.#options.chunkSize ?? DEFAULTS.chunkSize,
        concurrency: this.#options.concurrency ?? DEFAULTS.concurrency,
      },
      () => this.#openForRead(path),
    );
    const output = new PassThrough({ highWaterMark: this.#options.chunkSize ?? DEFAULTS.chunkSize });
    // Errors from the channel become ferry errors (a dropped connection: Transient) on the stream we
    // hand out; a consumer that stops early closes the remote handle.
    source.on("error", (error: Error) => output.destroy(readError(error, path, this.#pool.label) as Error));
    output.once("close", () => source.destroy());
    source.pipe(output);
    const signal = options.signal;
    if (signal) {
      const onAbort = () => output.destroy(errors.aborted(`read aborted: ${path}`, { system: "sftp", path }));
      signal.addEventListener("abort", onAbort, { once: true });
      output.once("close", () => signal.removeEventListener("abort", onAbort));
    }
    return output;
  }

  async write(key: string, source: AsyncIterable<Uint8Array>, options: WriteOptions = {}): Promise<Entry> {
    this.#refuseTempName(key);
    const path = this.pathOf(key);
    const temp = tempPathFor(path);
    const exclusive = options.ifNoneMatch === "*";
    try {
      return await this.#pool.run(
        async (connection) => {
          const calls = connection.calls;
          await this.#checkTarget(calls, path, exclusive);
          await uploadTo(calls, temp, source, {
            chunkSize: positive(options.partSize) ?? this.#options.chunkSize ?? DEFAULTS.chunkSize,
            concurrency: positive(options.concurrency) ?? this.#options.concurrency ?? DEFAULTS.concurrency,
            mtime: options.mtime,
            signal: options.signal,
          });
          await place(calls, temp, path, exclusive, placeFeatures(connection));
          return entryOf(key, await calls.stat(path));
        },
        // The source is consumed as it is sent, so a write cannot be replayed on a new connection.
        { retry: false },
      );
    } catch (error) {
      await this.#removeQuietly(temp);
      throw error;
    }
  }

  /** Refuse early what the final placement would refuse, and create the parents. */
  async #checkTarget(calls: SftpCalls, path: string, exclusive: boolean): Promise<void> {
    const existing = await calls.statOrNothing(path).catch(() => undefined);
    if (existing && isDirectoryMode(existing.mode)) {
      throw errors.invalidInput(`cannot write ${path} on ${calls.host}: a directory is there`, {
        system: "sftp",
        path,
      });
    }
    if (existing && exclusive) {
      throw errors.conditionNotMet(`not created: something already exists at ${path} on ${calls.host}`, {
        system: "sftp",
        path,
      });
    }
    if (!existing) await ensureParent(calls, path);
  }

  /** Best-effort removal of a temporary file after a failure, on a fresh connection if the old one died. */
  async #removeQuietly(temp: string): Promise<void> {
    if (this.#closed) return;
    await this.#pool.run((connection) => connection.calls.unlink(temp)).catch(() => undefined);
  }

  async delete(paths: readonly string[], options: SignalOptions = {}): Promise<void> {
    let failure: unknown;
    for (const key of paths) {
      throwIfAborted(options.signal, { system: "sftp", path: key });
      try {
        await this.#pool.run((connection) => this.#deleteOne(connection.calls, this.pathOf(key)));
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
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
      if (this.features.exec && this.features.rm) {
        const rm = this.#options.execCommands?.rm ?? "rm";
        const command =
          key === ""
            ? `find ${shellQuote(path)} -mindepth 1 -maxdepth 1 -exec ${rm} -rf -- {} +`
            : `${rm} -rf -- ${shellQuote(path)}`;
        await this.#runChecked(connection, command, path);
        return;
      }
      await removeTree(calls, path, key !== "");
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
        if (isDirectoryMode(attrs.mode))
          throw errors.invalidInput(`is a directory, not a file: ${source} on ${calls.host}`, {
            system: "sftp",
            path: source,
          });
        await this.#checkTarget(calls, target, exclusive);
        await this.#copyInto(connection, source, temp, attrs.size, options.signal);
        await place(calls, temp, target, exclusive, placeFeatures(connection));
      });
    } catch (error) {
      await this.#removeQuietly(temp);
      throw error;
    }
    return this.stat(to);
  }

  /** The bytes of `source` into a new file `temp`: `cp` on the host, else `copy-data`, else streamed through the client. */
  async #copyInto(
    connection: Connection,
    source: string,
    temp: string,
    size: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const calls = connection.calls;
    if (this.features.exec && this.features.cp) {
      const cp = this.#options.execCommands?.cp ?? "cp";
      await this.#runChecked(
        connection,
        `${cp} -- ${shellQuote(source)} ${shellQuote(temp)}`,
        source,
        signal,
      );
      return;
    }
    const sourceHandle = await calls.open(source, "r", "read");
    if (this.features.copyData) {
      try {
        const targetHandle = await calls.open(temp, "wx", "write", 0o644);
        try {
          await calls.copyData(sourceHandle, targetHandle, temp);
        } finally {
          await calls.close(targetHandle, temp);
        }
      } finally {
        await calls.close(sourceHandle, source).catch(() => undefined);
      }
      return;
    }
    // Neither a shell nor copy-data: the bytes come through this process, read ahead in parallel.
    const chunkSize = this.#options.chunkSize ?? DEFAULTS.chunkSize;
    const concurrency = this.#options.concurrency ?? DEFAULTS.concurrency;
    const file: RemoteFile = {
      calls,
      handle: sourceHandle,
      size,
      mtime: 0,
      lost: () => false,
      // The stream closes the handle; the connection belongs to the surrounding operation.
      release: () => {},
    };
    const stream = new ParallelReadStream(file, source, { start: 0, length: size, chunkSize, concurrency });
    try {
      await uploadTo(calls, temp, stream, { chunkSize, concurrency, signal });
    } finally {
      stream.destroy();
    }
  }

  async checksum(key: string, algorithm: HashAlgorithm, options: SignalOptions = {}): Promise<string> {
    const path = this.pathOf(key);
    if (algorithm !== "md5" || !this.capabilities.checksum) {
      throw errors.unsupported(`sftp storage computes only md5 (with md5sum on the host), not ${algorithm}`, {
        system: "sftp",
        path,
      });
    }
    const md5sum = this.#options.execCommands?.md5sum ?? "md5sum";
    return this.#pool.run(async (connection) => {
      const attrs = await connection.calls.stat(path);
      if (isDirectoryMode(attrs.mode))
        throw errors.invalidInput(`is a directory, not a file: ${path} on ${connection.label}`, {
          system: "sftp",
          path,
        });
      // Read from stdin so the output never has to be parsed around an escaped file name.
      const result = await this.#runChecked(
        connection,
        `${md5sum} < ${shellQuote(path)}`,
        path,
        options.signal,
      );
      const match = /^\\?([0-9a-f]{32})\b/.exec(result.stdout);
      if (!match)
        throw errors.unexpected(
          `unexpected output from ${md5sum} on ${connection.label}: ${result.stdout.slice(0, 200)}`,
          { system: "sftp", path },
        );
      return match[1]!;
    });
  }

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const cwd = options.cwd === undefined ? this.base : posix.resolve(this.base, options.cwd);
    const line = commandLine(command, { cwd, env: options.env });
    // A command may have side effects, so it is never re-run after a dropped connection.
    return this.#pool.run(
      (connection) => run(connection, line, { stdin: options.stdin, signal: options.signal }),
      { retry: false },
    );
  }

  /** Run a ferry-built command; a non-zero exit becomes a typed error carrying stderr. */
  async #runChecked(
    connection: Connection,
    command: string,
    path: string,
    signal?: AbortSignal,
  ): Promise<ExecResult> {
    const raw = await runRaw(connection, command, { signal });
    const result = {
      exitCode: raw.exitCode,
      stdout: raw.stdout.toString("utf8"),
      stderr: raw.stderr.toString("utf8"),
    };
    if (result.exitCode === 0) return result;
    const detail = result.stderr.trim().split("\n").slice(-3).join("; ");
    const ctx = { system: "sftp", path };
    if (/permission denied/i.test(detail))
      throw errors.permissionDenied(`permission denied on ${connection.label}: ${detail}`, ctx);
    if (/no such file/i.test(detail))
      throw errors.notFound(`no such file or directory on ${connection.label}: ${detail}`, ctx);
    throw errors.unexpected(`command on ${connection.label} exited with ${result.exitCode}: ${detail}`, ctx);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.release();
  }
}

function positive(value: number | undefined): number | undefined {
  return value !== undefined && Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

/** Offset and length to read, clamped to the file. */
function byteSpan(size: number, range: ReadOptions["range"]): { start: number; length: number } {
  if (!range) return { start: 0, length: size };
  if ("suffix" in range) {
    const length = Math.min(range.suffix, size);
    return { start: size - length, length };
  }
  const start = Math.min(range.offset, size);
  const length = Math.min(range.length ?? size - start, size - start);
  return { start, length };
}

function readError(error: unknown, path: string, host: string): unknown {
  if (FerryError.isInstance(error)) return error;
  const mapped = mapSftpError(error, path, host);
  if (mapped !== error) return mapped;
  if (isLostConnection(error)) {
    return errors.transient(`the SSH connection to ${host} dropped while reading ${path}`, {
      system: "sftp",
      path,
      cause: error,
    });
  }
  return errors.unexpected(`reading ${path} on ${host} failed: ${(error as Error).message}`, {
    system: "sftp",
    path,
    cause: error,
  });
}

function ignoreNotFound(error: unknown): undefined {
  if (FerryError.isInstance(error, "NotFound")) return undefined;
  throw error;
}

function notRegular(path: string, host: string): FerryError {
  return errors.invalidInput(`not a regular file or directory (socket, FIFO or device): ${path} on ${host}`, {
    system: "sftp",
    path,
  });
}

/** rm -r over SFTP, depth first; `removeSelf` false empties the directory. */
async function removeTree(calls: SftpCalls, dir: string, removeSelf: boolean): Promise<void> {
  const handle = await calls.opendir(dir);
  const children: { path: string; directory: boolean }[] = [];
  try {
    for (
      let batch = await calls.readdirBatch(handle, dir);
      batch;
      batch = await calls.readdirBatch(handle, dir)
    ) {
      for (const item of batch) {
        if (item.filename === "." || item.filename === "..") continue;
        children.push({ path: posix.join(dir, item.filename), directory: isDirectoryMode(item.attrs.mode) });
      }
    }
  } finally {
    await calls.close(handle, dir).catch(() => undefined);
  }
  for (const child of children) {
    if (child.directory) await removeTree(calls, child.path, true);
    else await calls.unlink(child.path).catch(ignoreNotFound);
  }
  if (removeSelf) await calls.rmdir(dir).catch(ignoreNotFound);
}
