/**
 * Uploads. A known size up to the resumable threshold goes in one multipart request carrying the
 * MD5, so GCS itself refuses corrupted bytes; anything larger, or of unknown size, is a resumable
 * upload in chunks (each chunk one retryable request, one chunk in memory). Either way the object
 * appears only when the upload completes: a failure or abort leaves nothing, and the resumable
 * session is cancelled.
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { collectBytes, debugLog, errors, type WriteOptions } from "@ferry/plugin-kit";
import type { CreateWriteStreamOptions, File, SaveOptions } from "@google-cloud/storage";
import { mtimeMetadata, type ObjectResource } from "./entries.ts";
import { roundChunk } from "./options.ts";

/** `NODE_DEBUG=ferry:gcs`: which upload path a write takes and why a session was cancelled (names and sizes only). */
const debug = debugLog("ferry:gcs");

export interface UploadSettings {
  chunkSize: number;
  resumableThreshold: number;
  contentType: string | undefined;
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
  file: File,
  source: AsyncIterable<Uint8Array>,
  options: WriteOptions,
  settings: UploadSettings,
): Promise<ObjectResource> {
  const metadata = uploadMetadata(options, settings.contentType);
  const preconditionOpts = options.ifNoneMatch === "*" ? { ifGenerationMatch: 0 } : undefined;
  if (options.size !== undefined && options.size <= settings.resumableThreshold) {
    // Bounded by the threshold, like one resumable chunk: the MD5 has to be in the request's
    // metadata part, which goes before the bytes.
    debug("single-request upload of %s (%d bytes)", file.name, options.size);
    const bytes = await collectBytes(source);
    options.signal?.throwIfAborted();
    // The caller's MD5 when given (GCS then checks the bytes against what the caller expects),
    // else the one of the bytes in hand (GCS then catches corruption on the way).
    const md5Hash = metadata.md5Hash ?? createHash("md5").update(bytes).digest("base64");
    const save: SaveOptions = {
      resumable: false,
      metadata: { ...metadata, md5Hash },
      ...(preconditionOpts ? { preconditionOpts } : {}),
    };
    await file.save(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), save);
    const stored = file.metadata as ObjectResource;
    await checkStoredMd5(file, stored, md5Hash as string);
    return stored;
  }
  debug(
    "resumable upload of %s (%s bytes, chunks of %d)",
    file.name,
    options.size ?? "unknown",
    chunkSizeFor(options, settings),
  );
  // The session is opened first, so that a failure at any later point can cancel it by its URI.
  const [session] = await file.createResumableUpload({
    metadata,
    ...(preconditionOpts ? { preconditionOpts } : {}),
  });
  const stream: CreateWriteStreamOptions = {
    resumable: true,
    uri: session,
    offset: 0,
    chunkSize: chunkSizeFor(options, settings),
    // The client hashes what it sends and compares the md5Hash of the object resource the upload
    // returns; on a mismatch it deletes the object and fails (FILE_NO_UPLOAD: Integrity). MD5 rather
    // than the default CRC32C, so the MD5 ferry reports for the object is one that was checked.
    validation: "md5",
    metadata,
    ...(preconditionOpts ? { preconditionOpts } : {}),
  };
  try {
    await pipeline(
      Readable.from(source),
      file.createWriteStream(stream),
      ...(options.signal ? [{ signal: options.signal }] : []),
    );
  } catch (error) {
    debug("upload of %s failed (%s); cancelling its session", file.name, (error as Error)?.name ?? "error");
    await cancelSession(session);
    throw error;
  }
  return file.metadata as ObjectResource;
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

function chunkSizeFor(options: WriteOptions, settings: UploadSettings): number {
  return options.partSize === undefined ? settings.chunkSize : roundChunk(options.partSize);
}

/**
 * A session that will never complete is cancelled (DELETE on its URI, answered with 499), so the
 * server drops the bytes it holds instead of keeping them for a week. Best effort: the upload has
 * already failed, and an unfinished session never becomes an object.
 */
async function cancelSession(uri: string): Promise<void> {
  try {
    const response = await fetch(uri, { method: "DELETE", signal: AbortSignal.timeout(10_000) });
    await response.body?.cancel();
  } catch {
    // the session expires on its own
  }
}
