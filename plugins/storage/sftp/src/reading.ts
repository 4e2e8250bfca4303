/**
 * The read side: entries from SFTP attributes, directory listings (sorted per directory), and byte
 * streams of a file or a span of it, with read-ahead and a resume after a dropped connection.
 */
import { posix } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import {
  compareKeys,
  type Entry,
  errors,
  FerryError,
  type ReadOptions,
  throwIfAborted,
} from "@ferry/plugin-kit";
import type { Attributes } from "ssh2";
import type { HostPool } from "./pool.ts";
import { ParallelReadStream, type RemoteFile } from "./read-stream.ts";
import { isDirectoryMode, isFileMode, isLinkMode, isLostConnection, mapSftpError } from "./sftp-ops.ts";
import { TEMP_PREFIX } from "./write.ts";

export function entryOf(key: string, attrs: Attributes): Entry {
  return {
    path: key,
    kind: isDirectoryMode(attrs.mode) ? "directory" : "file",
    size: isDirectoryMode(attrs.mode) ? 0 : attrs.size,
    mtime: new Date(attrs.mtime * 1000),
  };
}

export function notRegular(path: string, host: string): FerryError {
  return errors.invalidInput(`not a regular file or directory (socket, FIFO or device): ${path} on ${host}`, {
    system: "sftp",
    path,
  });
}

/** Only regular files can be read, copied or checksummed. */
export function requireFile(attrs: Attributes, path: string, host: string): void {
  if (isDirectoryMode(attrs.mode)) {
    throw errors.invalidInput(`is a directory, not a file: ${path} on ${host}`, { system: "sftp", path });
  }
  if (!isFileMode(attrs.mode)) throw notRegular(path, host);
}

/**
 * One directory's entries (keys `dir/name`), sorted by UTF-8 bytes with a directory `d` sorting as
 * `d/` — readdir order is the server's. Symlinks are followed as stat does (a dangling one is left
 * out), in-flight temporary files are hidden, and a missing directory or a file lists as empty.
 */
export async function listDirectory(
  pool: HostPool,
  path: string,
  dir: string,
  signal?: AbortSignal,
): Promise<Entry[]> {
  const opened = await pool.run(async (connection) => {
    let handle: Buffer;
    try {
      handle = await connection.calls.opendir(path);
    } catch (error) {
      if (FerryError.isInstance(error, "NotFound")) return undefined;
      const attrs = await connection.calls.statOrNothing(path);
      if (!attrs || !isDirectoryMode(attrs.mode)) return undefined;
      throw error;
    }
    pool.hold(connection);
    return { connection, handle };
  });
  if (!opened) return [];
  const { connection, handle } = opened;
  const calls = connection.calls;
  const entries: Entry[] = [];
  try {
    for (;;) {
      throwIfAborted(signal, { system: "sftp", path: dir });
      const batch = await calls.readdirBatch(handle, path);
      if (!batch) break;
      for (const item of batch) {
        const name = item.filename;
        if (name === "." || name === ".." || name.startsWith(TEMP_PREFIX)) continue;
        let attrs: Attributes | undefined = item.attrs;
        if (isLinkMode(attrs.mode)) attrs = await calls.statOrNothing(posix.join(path, name));
        if (!attrs || (!isDirectoryMode(attrs.mode) && !isFileMode(attrs.mode))) continue;
        entries.push(entryOf(dir === "" ? name : `${dir}/${name}`, attrs));
      }
    }
  } finally {
    await calls.close(handle, path).catch(() => undefined);
    pool.giveBack(connection);
  }
  const sortKey = (entry: Entry) => (entry.kind === "directory" ? `${entry.path}/` : entry.path);
  return entries.sort((a, b) => compareKeys(sortKey(a), sortKey(b)));
}

/** Open `path` for reading on a pooled connection, held until the file is released. */
function openForRead(pool: HostPool, path: string): Promise<RemoteFile> {
  return pool.run(async (connection) => {
    const attrs = await connection.calls.stat(path);
    requireFile(attrs, path, pool.label);
    const handle = await connection.calls.open(path, "r", "read");
    return {
      calls: connection.calls,
      handle,
      size: attrs.size,
      mtime: attrs.mtime,
      lost: (error: unknown) => connection.gone || isLostConnection(error),
      release: pool.keep(connection),
    };
  });
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
  const ctx = { system: "sftp", path, cause: error };
  if (isLostConnection(error)) {
    return errors.transient(`the SSH connection to ${host} dropped while reading ${path}`, ctx);
  }
  return errors.unexpected(`reading ${path} on ${host} failed: ${(error as Error).message}`, ctx);
}

export interface ReadTuning {
  chunkSize: number;
  concurrency: number;
}

/** A stream of `path` (or the requested range of it); errors on it are FerryErrors. */
export async function readFile(
  pool: HostPool,
  path: string,
  options: ReadOptions,
  tuning: ReadTuning,
): Promise<Readable> {
  const file = await openForRead(pool, path);
  const span = byteSpan(file.size, options.range);
  if (span.length === 0) {
    await file.calls.close(file.handle, path).catch(() => undefined);
    file.release();
    return new PassThrough().end();
  }
  const source = new ParallelReadStream(file, path, { ...span, ...tuning }, () => openForRead(pool, path));
  const output = new PassThrough({ highWaterMark: tuning.chunkSize });
  // Errors from the channel become ferry errors (a dropped connection: Transient) on the stream we
  // hand out; a consumer that stops early closes the remote handle.
  source.on("error", (error: Error) => output.destroy(readError(error, path, pool.label) as Error));
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
