/**
 * The streamed route and the checks every route shares. Bytes go from the source's read stream
 * straight into the destination's write (which is atomic: nothing appears under the final name
 * unless it completes), with the size declared and the source's MD5 passed along so the
 * destination verifies it before committing. Nothing touches local disk.
 */
import { createHash, type Hash } from "node:crypto";
import { pipeline, type Readable, Transform } from "node:stream";
import type { Entry, Storage } from "@ferry/plugin-kit";
import { errors, FerryError } from "@ferry/plugin-kit";

export interface FileCopy {
  source: Storage;
  sourceKey: string;
  sourceEntry: Entry;
  destination: Storage;
  destinationKey: string;
  signal: AbortSignal | undefined;
  partSize?: number | undefined;
  partConcurrency?: number | undefined;
  /** Ranged streams for one large file into a destination that writes ranges in place (default 4; 1: off). */
  multiThreadStreams?: number | undefined;
  /** Files from this size up are fetched as ranges, several at once (default 64 MiB). */
  multiThreadCutoff?: number | undefined;
  /** Bytes per ranged request (default: about a sixteenth of the file, 8 to 64 MiB). */
  multiThreadChunkSize?: number | undefined;
  /** Bytes moved so far for this attempt (resets to 0 when an attempt restarts). */
  onBytes: (bytesSoFar: number) => void;
}

/** Copy one file through this process. Returns the destination entry, verified. */
export async function streamCopy(job: FileCopy): Promise<Entry> {
  const { source, destination } = job;
  if (fetchesRanges(job)) return rangedCopy(job);
  const { entry: sourceEntry, declared } = await withLocalMd5(job);
  // Hash as bytes pass only when the source gave no MD5 and the destination is an object store that
  // reports one for what it stored (the ETag / Content-MD5 of the write). Disks — local, or SFTP,
  // whose MD5 is a separate md5sum on the host — report none with the write, so the digest would
  // never be compared: those writes are checked by size.
  const hash =
    !sourceEntry.md5 &&
    destination.capabilities.directories === "virtual" &&
    destination.capabilities.hashes.includes("md5")
      ? createHash("md5")
      : undefined;
  // The read gets its own signal, fired from the caller's only once this function holds the stream:
  // a stream aborted before anyone listens would raise an unhandled 'error' and end the process.
  const readAbort = new AbortController();
  const stopReading = () => readAbort.abort(job.signal?.reason);
  const readable = await source.read(job.sourceKey, { signal: readAbort.signal });
  readable.on("error", () => {}); // the consumer below sees the error; this only keeps it from being "unhandled"
  job.signal?.addEventListener("abort", stopReading, { once: true });
  if (job.signal?.aborted) stopReading();
  try {
    const written = await writeVerified({ ...job, sourceEntry }, readable, hash, declared);
    if (declared) await checkSourceUnchanged(job);
    return written;
  } finally {
    job.signal?.removeEventListener("abort", stopReading);
    if (!readable.destroyed) readable.destroy();
  }
}

/** Default of `multiThreadCutoff`: from this size up, a file goes as several ranged streams where it can. */
export const MULTI_THREAD_CUTOFF = 64 * 1024 * 1024;
/** Default of `multiThreadStreams`, as rclone's --multi-thread-streams. */
export const MULTI_THREAD_STREAMS = 4;
/**
 * Bytes per ranged request: about sixteen ranges per file, from 8 to 64 MiB each. Fewer, larger ranges
 * cost fewer requests; more, smaller ones let the MD5 of the written prefix keep closer behind.
 */
function rangeBytes(size: number, streams: number): number {
  const mib = 1024 * 1024;
  return Math.min(64 * mib, Math.max(8 * mib, Math.ceil(size / (streams * 4) / mib) * mib));
}

/**
 * A large file goes as ranged reads, several at once, written in place at the destination, when
 * the destination can do that (a local disk: `driver.writeRanges`) and the source reads real
 * ranges. Only with a source MD5: ranges are separate requests, and if the object were replaced
 * between them the MD5 check is what notices a file stitched from two versions.
 */
function fetchesRanges(job: FileCopy): boolean {
  const { source, destination, sourceEntry } = job;
  return (
    (job.multiThreadStreams ?? MULTI_THREAD_STREAMS) > 1 &&
    sourceEntry.size >= (job.multiThreadCutoff ?? MULTI_THREAD_CUTOFF) &&
    sourceEntry.md5 !== undefined &&
    source.system !== "file" &&
    source.capabilities.rangeRead &&
    destination.driver.writeRanges !== undefined
  );
}

async function rangedCopy(job: FileCopy): Promise<Entry> {
  const { source, destination, sourceEntry } = job;
  const streams = job.multiThreadStreams ?? MULTI_THREAD_STREAMS;
  const written = await destination.writeRanges(
    job.destinationKey,
    async (range, { signal }) => {
      const readable = await source.read(job.sourceKey, { range, signal });
      readable.on("error", () => {}); // the writer's loop sees the error; this only keeps it from being "unhandled"
      return readable;
    },
    {
      size: sourceEntry.size,
      streams,
      chunkSize: job.multiThreadChunkSize ?? rangeBytes(sourceEntry.size, streams),
      signal: job.signal,
      onProgress: job.onBytes,
      ...(sourceEntry.md5 ? { md5: sourceEntry.md5 } : {}),
      ...(sourceEntry.mtime && destination.capabilities.setMtime ? { mtime: sourceEntry.mtime } : {}),
    },
  );
  await verifyCopy(job, written, sourceEntry.md5);
  return written;
}

/** Local files from this size up are hashed before an upload that wants their MD5 (see withLocalMd5). */
const DECLARE_MD5_FROM_BYTES = 16 * 1024 * 1024;

/**
 * A large local file bound for an object store is hashed first, as rclone does, so that the upload
 * can declare its MD5: the store keeps it with the object from the start (S3 multipart uploads
 * otherwise record it afterwards with a server-side copy of the whole object). The bytes are not
 * hashed a second time as they are sent (every part still carries its own Content-MD5); instead the
 * file is checked afterwards, as rclone does: if its size or modified time changed since it was
 * listed, the copy is removed and the file fails with Integrity (see checkSourceUnchanged).
 */
async function withLocalMd5(job: FileCopy): Promise<{ entry: Entry; declared: boolean }> {
  const { source, destination, sourceEntry } = job;
  if (
    sourceEntry.md5 ||
    sourceEntry.size < DECLARE_MD5_FROM_BYTES ||
    source.system !== "file" ||
    sourceEntry.mtime === undefined ||
    !source.capabilities.hashes.includes("md5") ||
    destination.capabilities.directories !== "virtual" ||
    !destination.capabilities.hashes.includes("md5")
  )
    return { entry: sourceEntry, declared: false };
  const md5 = await source.checksum(job.sourceKey, "md5", { signal: job.signal });
  return { entry: { ...sourceEntry, md5 }, declared: true };
}

/** After a copy whose MD5 was declared from the file: the file must still be as it was listed. */
async function checkSourceUnchanged(job: FileCopy): Promise<void> {
  const now = await job.source.stat(job.sourceKey, { signal: job.signal });
  const listed = job.sourceEntry;
  if (now.size === listed.size && now.mtime?.getTime() === listed.mtime?.getTime()) return;
  await removeQuietly(job.destination, job.destinationKey);
  throw errors.integrity(
    `${job.sourceKey} changed while it was being copied (size or modified time); the destination copy was removed`,
    { system: job.destination.system, path: job.destinationKey },
  );
}

async function writeVerified(
  job: FileCopy,
  readable: Readable,
  hash: Hash | undefined,
  md5Declared: boolean,
): Promise<Entry> {
  const { destination, sourceEntry } = job;
  let body: Readable = readable;
  if (hash) {
    const hasher = hashing(hash);
    // pipeline destroys every stage with the first error, so the write sees the read's failure.
    pipeline(readable, hasher, () => {});
    body = hasher;
  }
  const written = await destination.write(job.destinationKey, body, {
    size: sourceEntry.size,
    signal: job.signal,
    onProgress: job.onBytes,
    ...(sourceEntry.md5 ? { md5: sourceEntry.md5 } : {}),
    ...(md5Declared ? { verifyMd5: false } : {}),
    ...(sourceEntry.mtime && destination.capabilities.setMtime ? { mtime: sourceEntry.mtime } : {}),
    ...(sourceEntry.contentType && destination.capabilities.contentType
      ? { contentType: sourceEntry.contentType }
      : {}),
    ...(job.partSize ? { partSize: job.partSize } : {}),
    ...(job.partConcurrency ? { concurrency: job.partConcurrency } : {}),
  });
  await verifyCopy(job, written, sourceEntry.md5 ?? hash?.digest("hex"));
  return written;
}

function hashing(hash: Hash): Transform {
  return new Transform({
    transform(chunk: Uint8Array, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
}

/**
 * After any route: the destination must hold the source's size, and the same MD5 wherever both
 * ends have one. On a mismatch the destination object is removed and Integrity is raised.
 */
export async function verifyCopy(
  job: Pick<FileCopy, "destination" | "destinationKey" | "sourceEntry" | "signal">,
  written: Entry,
  expectedMd5: string | undefined,
): Promise<void> {
  const problem =
    written.size !== job.sourceEntry.size
      ? `size mismatch: source has ${job.sourceEntry.size} bytes, destination ${written.size}`
      : expectedMd5 && written.md5 && written.md5.toLowerCase() !== expectedMd5.toLowerCase()
        ? `MD5 mismatch: source ${expectedMd5.toLowerCase()}, destination ${written.md5.toLowerCase()}`
        : undefined;
  if (!problem) return;
  await removeQuietly(job.destination, job.destinationKey);
  // What arrived is not what was sent: corrupted or cut on the way, so another attempt may get through.
  throw errors.integrity(`${problem}; the destination copy was removed`, {
    system: job.destination.system,
    path: job.destinationKey,
    retryable: true,
  });
}

/** Best effort: the caller is already reporting the real error. */
async function removeQuietly(storage: Storage, key: string): Promise<void> {
  try {
    await storage.delete([key]);
  } catch (error) {
    if (!FerryError.isInstance(error)) throw error;
  }
}
