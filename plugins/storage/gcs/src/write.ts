/**
 * Uploads, sent by ferry itself over the plugin's idle-watched connections (upload/): a known size
 * up to the resumable threshold goes in one multipart request carrying the MD5, so GCS itself
 * refuses corrupted bytes; anything larger, or of unknown size, is a resumable upload in chunks
 * (each chunk one retryable request, one chunk in memory, the last one carrying the MD5). Either way
 * the object appears only when the upload completes: a failure or abort leaves nothing, and the
 * resumable session is cancelled. A connection that stalls fails the upload with the stall error.
 */

import { createHash, type Hash } from "node:crypto";
import { collectBytes, debugLog, errors, type WriteOptions } from "@ferry/plugin-kit";
import { contentTypeOf } from "@ferry/plugin-kit/content-type";
import type { File } from "@google-cloud/storage";
import type { ObjectResource } from "./list.ts";
import { roundChunk } from "./options.ts";
import {
  type Chunk,
  cancelSession,
  multipartUpload,
  openSession,
  putChunk,
  querySession,
  type SessionState,
  type UploadTarget,
} from "./upload/protocol.ts";
import { backOff, RETRIES, retryable, type UploadConnection, withRetries } from "./upload/request.ts";

/** `NODE_DEBUG=ferry:gcs`: which upload path a write takes and why a session was cancelled (names and sizes only). */
const debug = debugLog("ferry:gcs");

export interface UploadSettings {
  chunkSize: number;
  resumableThreshold: number;
  contentType: string | undefined;
}

/**
 * The caller's mtime, as rclone records it (`mtime`, RFC 3339 with sub-second precision) and as
 * gsutil does (`goog-reserved-file-mtime`, whole seconds), so either tool shows it too.
 */
function mtimeMetadata(mtime: Date): Record<string, string> {
  return {
    mtime: mtime.toISOString(),
    "goog-reserved-file-mtime": String(Math.floor(mtime.getTime() / 1000)),
  };
}

/** The caller's content type, else (with `contentTypeDetection`) the one of the name's extension. */
export function contentTypeFor(path: string, options: WriteOptions, detection: boolean): string | undefined {
  return options.contentType ?? (detection ? contentTypeOf(path) : undefined);
}

/** Object fields sent with the upload (the resource body of the request). */
function uploadMetadata(options: WriteOptions, contentType: string | undefined): Record<string, unknown> {
  return {
    ...(contentType ? { contentType } : {}),
    ...(options.md5 ? { md5Hash: Buffer.from(options.md5, "hex").toString("base64") } : {}),
    ...(options.mtime ? { metadata: mtimeMetadata(options.mtime) } : {}),
  };
}

export async function upload(
  connection: UploadConnection,
  file: File,
  source: AsyncIterable<Uint8Array>,
  options: WriteOptions,
  settings: UploadSettings,
): Promise<ObjectResource> {
  const metadata = uploadMetadata(options, settings.contentType);
  const target: UploadTarget = {
    bucket: file.bucket.name,
    name: file.name,
    createOnly: options.ifNoneMatch === "*",
    signal: options.signal,
  };
  if (options.size !== undefined && options.size <= settings.resumableThreshold) {
    // Bounded by the threshold, like one resumable chunk: the MD5 has to be in the request's
    // metadata part, which goes before the bytes.
    debug("single-request upload of %s (%d bytes)", file.name, options.size);
    const bytes = await collectBytes(source);
    options.signal?.throwIfAborted();
    // The caller's MD5 when given (GCS then checks the bytes against what the caller expects),
    // else the one of the bytes in hand (GCS then catches corruption on the way).
    const md5Hash =
      (metadata.md5Hash as string | undefined) ?? createHash("md5").update(bytes).digest("base64");
    const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const stored = await withRetries(options.signal, () =>
      multipartUpload<ObjectResource>(connection, target, { ...metadata, md5Hash }, body),
    );
    await checkStoredMd5(file, stored, md5Hash);
    return stored;
  }
  const chunkSize = options.partSize === undefined ? settings.chunkSize : roundChunk(options.partSize);
  debug("resumable upload of %s (%s bytes, chunks of %d)", file.name, options.size ?? "unknown", chunkSize);
  // The session is opened first, so that a failure at any later point can cancel it by its URI.
  const uri = await withRetries(options.signal, () => openSession(connection, target, metadata));
  const hash = createHash("md5");
  let stored: ObjectResource | undefined;
  try {
    for await (const chunk of chunksOf(source, chunkSize, hash, metadata.md5Hash as string | undefined))
      stored = await sendChunk<ObjectResource>(connection, uri, chunk, target);
    if (stored === undefined) throw sessionError(target, "ended without the object resource");
  } catch (error) {
    debug("upload of %s failed (%s); cancelling its session", file.name, (error as Error)?.name ?? "error");
    await cancelSession(connection, uri);
    throw error;
  }
  // Complete: the session is gone, the object is there (and removed again if its MD5 is not ours).
  await checkStoredMd5(file, stored, (metadata.md5Hash as string | undefined) ?? hash.digest("base64"));
  return stored;
}

/**
 * The source in chunks of `chunkSize` bytes, each hashed into `hash` as it is cut; the last one
 * (possibly short, or empty for an empty source) carries the object's size and MD5 (`md5Base64`,
 * the caller's, else the one of the bytes). One chunk and one source piece are held at a time.
 */
async function* chunksOf(
  source: AsyncIterable<Uint8Array>,
  chunkSize: number,
  hash: Hash,
  md5Base64: string | undefined,
): AsyncGenerator<Chunk> {
  let pieces: Buffer[] = [];
  let held = 0;
  let offset = 0;
  const cut = (size: number): Buffer => {
    const all = pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces, held);
    const bytes = all.subarray(0, size);
    pieces = size < held ? [all.subarray(size)] : [];
    held -= size;
    hash.update(bytes);
    return bytes;
  };
  for await (const piece of source) {
    pieces.push(Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength));
    held += piece.byteLength;
    // More than a chunk: the first chunk is not the last one.
    while (held > chunkSize) {
      const bytes = cut(chunkSize);
      yield { offset, bytes };
      offset += bytes.length;
    }
  }
  const bytes = cut(held);
  const total = offset + bytes.length;
  yield { offset, bytes, total, md5Base64: md5Base64 ?? hash.copy().digest("base64") };
}

/**
 * Puts one chunk into the session until the session holds all of it (a 308 answer may say it kept
 * less): after a lost request or a 408/429/5xx the session is asked what it holds and the rest is
 * sent, up to RETRIES times without progress, as the client's own resumable upload does. The object
 * resource when this was the last chunk.
 */
async function sendChunk<T>(
  connection: UploadConnection,
  uri: string,
  chunk: Chunk,
  target: UploadTarget,
): Promise<T | undefined> {
  const signal = target.signal;
  /** Bytes of the chunk the session holds. */
  let sent = 0;
  /** Failed requests (and answers that kept nothing new) since the session last took bytes. */
  let failures = 0;
  /** The last request got no usable answer: ask the session what it holds before sending more. */
  let lost = false;
  for (;;) {
    let state: SessionState<T>;
    try {
      state = lost
        ? await querySession<T>(connection, uri, chunk.total, signal)
        : await putChunk<T>(connection, uri, rest(chunk, sent), signal);
    } catch (error) {
      if (!retryable(error) || failures >= RETRIES || signal?.aborted) throw error;
      failures += 1;
      await backOff(failures, signal);
      lost = true;
      continue;
    }
    if ("resource" in state) {
      if (chunk.total === undefined) throw sessionError(target, "completed before its last chunk was sent");
      return state.resource;
    }
    const kept = state.held - chunk.offset;
    if (kept < 0 || kept > chunk.bytes.length) {
      const expected = `${chunk.offset} to ${chunk.offset + chunk.bytes.length}`;
      throw sessionError(target, `holds ${state.held} bytes, expected ${expected}`);
    }
    if (kept === chunk.bytes.length && chunk.total === undefined) return undefined;
    if (kept > sent) failures = 0;
    else if (!lost) {
      failures += 1;
      if (failures > RETRIES) throw sessionError(target, "kept none of the bytes sent");
    }
    sent = kept;
    lost = false;
  }
}

/** What is left of `chunk` once the session holds its first `sent` bytes. */
function rest(chunk: Chunk, sent: number): Chunk {
  return { ...chunk, offset: chunk.offset + sent, bytes: chunk.bytes.subarray(sent) };
}

/** A session answer that breaks the protocol: no retry can mend it, the transfer starts over. */
function sessionError(target: UploadTarget, problem: string): Error {
  return errors.transient(
    `write gs://${target.bucket}/${target.name}: the resumable upload session ${problem}`,
    {
      system: "gs",
      path: target.name,
    },
  );
}

/**
 * The object resource an upload returns states the MD5 of what GCS stored. GCS refuses a body that
 * does not match the md5Hash sent with it; this checks the answer too, so a server that let one
 * through (or an answer changed on the way) does not leave an object ferry would vouch for.
 */
async function checkStoredMd5(file: File, stored: ObjectResource, sent: string): Promise<void> {
  if (stored.md5Hash === undefined || stored.md5Hash === sent) return;
  try {
    // Only the generation just written: a later writer's object stays.
    await file.delete(stored.generation === undefined ? {} : { ifGenerationMatch: stored.generation });
  } catch (error) {
    debug("removing %s after an MD5 mismatch failed (%s)", file.name, (error as Error)?.name ?? "error");
  }
  const hex = (base64: string) => Buffer.from(base64, "base64").toString("hex");
  throw errors.integrity(
    `write gs://${file.bucket.name}/${file.name}: GCS stored other bytes than were sent (md5Hash ${hex(stored.md5Hash)}, sent ${hex(sent)}): corrupted on the way`,
    { system: "gs", path: file.name, retryable: true },
  );
}
