/** Streaming reads with byte ranges, and streamed checksums. */
import { createHash } from "node:crypto";
import { closeSync, constants, createReadStream, fstatSync, openSync, readSync, type Stats } from "node:fs";
import { open } from "node:fs/promises";
import { Readable } from "node:stream";
import type { ByteRange, HashAlgorithm } from "@ferry/plugin-kit";
import { errors, throwIfAborted } from "@ferry/plugin-kit";
import { mapFsError } from "./errors.ts";

/** Inclusive start and exclusive end of `range` within an object of `size` bytes (clamped). */
export function clampRange(range: ByteRange | undefined, size: number): { start: number; end: number } {
  if (!range) return { start: 0, end: size };
  if ("suffix" in range) return { start: Math.max(0, size - range.suffix), end: size };
  const start = Math.min(range.offset, size);
  const end = range.length === undefined ? size : Math.min(size, start + range.length);
  return { start, end };
}

async function openFile(filePath: string) {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // O_NONBLOCK: opening a FIFO must not hang waiting for a writer; regular files ignore it.
    handle = await open(filePath, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw mapFsError(error, filePath);
  }
  try {
    return { handle, size: regularFileSize(await handle.stat(), filePath) };
  } catch (error) {
    await handle.close();
    throw mapFsError(error, filePath);
  }
}

/** `openFile` with synchronous calls: an open and an fstat cost less than one thread-pool round trip. */
function openFileSync(filePath: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(filePath, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw mapFsError(error, filePath);
  }
  try {
    return { fd, size: regularFileSize(fstatSync(fd), filePath) };
  } catch (error) {
    closeSync(fd);
    throw mapFsError(error, filePath);
  }
}

function regularFileSize(stats: Stats, filePath: string): number {
  if (stats.isDirectory())
    throw errors.invalidInput(`is a directory, not a file: ${filePath}`, {
      system: "file",
      path: filePath,
    });
  if (!stats.isFile()) {
    throw errors.invalidInput(`not a regular file (socket, FIFO or device): ${filePath}`, {
      system: "file",
      path: filePath,
    });
  }
  return stats.size;
}

const READ_CHUNK_BYTES = 512 * 1024;
/** Ranges up to this size are read whole, synchronously, into one buffer. */
const WHOLE_READ_BYTES = 256 * 1024;

/**
 * A file stream (back-pressured by Node's fs streams) over the requested range. A small range is read
 * at once with synchronous calls: for a file of a few KiB, the thread-pool round trips of an
 * asynchronous open, stat, read and close cost more than the reading.
 */
export async function readRange(
  filePath: string,
  range: ByteRange | undefined,
  signal?: AbortSignal | undefined,
): Promise<Readable> {
  const { fd, size } = openFileSync(filePath);
  const { start, end } = clampRange(range, size);
  if (end - start <= WHOLE_READ_BYTES) {
    try {
      const buffer = Buffer.allocUnsafe(end - start);
      let filled = 0;
      while (filled < buffer.byteLength) {
        const read = readSync(fd, buffer, filled, buffer.byteLength - filled, start + filled);
        if (read === 0) break; // the file shrank: the caller's size check reports it
        filled += read;
      }
      return Readable.from(filled === 0 ? [] : [buffer.subarray(0, filled)], { objectMode: false });
    } catch (error) {
      throw mapFsError(error, filePath);
    } finally {
      closeSync(fd);
    }
  }
  // `end` is inclusive for fs streams. The descriptor closes when the stream ends or is destroyed.
  const stream = createReadStream(filePath, {
    fd,
    start,
    end: end - 1,
    // Larger reads than the 64 KiB default: fewer thread-pool trips and fewer chunks through every
    // layer downstream (hashing, re-chunking into parts), at most READ_CHUNK_BYTES buffered per file.
    highWaterMark: Math.min(READ_CHUNK_BYTES, end - start),
    autoClose: true,
    ...(signal ? { signal } : {}),
  });
  return wrapErrors(stream, filePath);
}

/** Map late stream errors (I/O errors mid-read) onto FerryErrors naming the path. */
function wrapErrors(stream: Readable, filePath: string): Readable {
  const destroy = stream._destroy.bind(stream);
  stream._destroy = (error, callback) => destroy(error ? mapFsError(error, filePath) : error, callback);
  return stream;
}

const NODE_ALGORITHMS: Partial<Record<HashAlgorithm, string>> = {
  md5: "md5",
  sha1: "sha1",
  sha256: "sha256",
};

/** Lower-case hex digest, computed by streaming the file. */
export async function hashFile(
  filePath: string,
  algorithm: HashAlgorithm,
  signal: AbortSignal | undefined,
): Promise<string> {
  const nodeAlgorithm = NODE_ALGORITHMS[algorithm];
  if (!nodeAlgorithm)
    throw errors.unsupported(`local storage does not compute ${algorithm}`, {
      system: "file",
      path: filePath,
    });
  const hash = createHash(nodeAlgorithm);
  const { handle } = await openFile(filePath);
  try {
    // One buffer, read into again and again: a fresh chunk per read would leave the garbage
    // collector a file's worth of buffers to sweep.
    const buffer = Buffer.allocUnsafe(HASH_READ_BYTES);
    for (;;) {
      throwIfAborted(signal, { system: "file", path: filePath });
      const { bytesRead } = await handle.read(buffer, 0, buffer.byteLength, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } catch (error) {
    throw mapFsError(error, filePath);
  } finally {
    await handle.close();
  }
  return hash.digest("hex");
}

const HASH_READ_BYTES = 1024 * 1024;
