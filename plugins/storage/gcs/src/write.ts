/**
 * Uploads. A known size up to the resumable threshold goes in one multipart request carrying the
 * MD5, so GCS itself refuses corrupted bytes; anything larger, or of unknown size, is a resumable
 * upload in chunks (each chunk one retryable request, one chunk in memory). Either way the object
 * appears only when the upload completes: a failure or abort leaves nothing, and the resumable
 * session is cancelled. The client's timeout does not reach uploads, so ferry watches their progress
 * and ends a stalled one itself (see `send`).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { createHash } from "node:crypto";
import { subscribe } from "node:diagnostics_channel";
import type { ClientRequest } from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { collectBytes, debugLog, errors, findStall, type WriteOptions, watchWritable } from "@ferry/core";
import type { CreateWriteStreamOptions, File } from "@google-cloud/storage";
import { mtimeMetadata, type ObjectResource } from "./entries.ts";
import { roundChunk } from "./options.ts";

/** `NODE_DEBUG=ferry:gcs`: which upload path a write takes and why a session was cancelled (names and sizes only). */
const debug = debugLog("ferry:gcs");

export interface UploadSettings {
  chunkSize: number;
  resumableThreshold: number;
  contentType: string | undefined;
  /** The idle timeout in ms (0: none) and the `host:port` it names. */
  idle?: { timeoutMs: number; host: string } | undefined;
}

/** Pieces the single-request upload hands the client, so its progress shows as they go out. */
const PIECE = 64 * 1024;

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
    const save: CreateWriteStreamOptions = {
      resumable: false,
      metadata: { ...metadata, md5Hash },
      ...(preconditionOpts ? { preconditionOpts } : {}),
    };
    async function* pieces() {
      for (let offset = 0; offset < bytes.byteLength; offset += PIECE)
        yield bytes.subarray(offset, offset + PIECE);
    }
    await sendRetried(file, pieces, save, options, settings);
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
    await send(file, source, stream, options, settings);
  } catch (error) {
    debug("upload of %s failed (%s); cancelling its session", file.name, (error as Error)?.name ?? "error");
    await cancelSession(session);
    throw error;
  }
  return file.metadata as ObjectResource;
}

/**
 * A single-request upload retried as the client's own `file.save` would (its retry options: a
 * retryable error, up to `maxRetries` times, delays growing by `retryDelayMultiplier` from 1 s), the
 * bytes being in hand. A stall is not retried here: the caller's retry (the transfer engine's) is.
 */
async function sendRetried(
  file: File,
  pieces: () => AsyncIterable<Uint8Array>,
  streamOptions: CreateWriteStreamOptions,
  options: WriteOptions,
  settings: UploadSettings,
): Promise<void> {
  const retry = file.storage.retryOptions;
  for (let attempt = 0; ; attempt++) {
    try {
      await send(file, pieces(), streamOptions, options, settings);
      return;
    } catch (error) {
      const retryable =
        attempt < (retry.maxRetries ?? 3) &&
        !findStall(error) &&
        !options.signal?.aborted &&
        (retry.retryableErrorFn?.(error as Parameters<NonNullable<typeof retry.retryableErrorFn>>[0]) ??
          false);
      if (!retryable) throw error;
      const delay = Math.min(
        1000 * (retry.retryDelayMultiplier ?? 2) ** attempt,
        1000 * (retry.maxRetryDelay ?? 64),
      );
      debug(
        "single-request upload of %s failed (%s); retrying in %d ms",
        file.name,
        (error as Error)?.name ?? "error",
        delay,
      );
      await sleep(delay, undefined, options.signal ? { signal: options.signal } : {});
    }
  }
}

/**
 * The requests an upload has open, so a failed upload can end them: the client aborts none of its
 * own when its write stream is destroyed, and a stalled socket would stay open. Requests are told
 * apart by the async context they are made in (each upload runs in its own).
 */
const uploadRequests = new AsyncLocalStorage<Set<ClientRequest>>();
let subscribed = false;
function trackRequests(): void {
  if (subscribed) return;
  subscribed = true;
  subscribe("http.client.request.start", (message) => {
    const requests = uploadRequests.getStore();
    if (!requests) return;
    const { request } = message as { request: ClientRequest };
    requests.add(request);
    request.once("close", () => requests.delete(request));
  });
}

/**
 * Pipes `source` into the client's write stream. The client's own timeout does not reach uploads,
 * so the upload's progress is watched from here: bytes the client pulls from the source, bytes it
 * reports sent, and once the source has ended the wait for the service's answer. When none of them
 * moves for the idle timeout the write stream is destroyed (its request aborted) with the stall
 * error, which the caller reports as "no data from HOST for N s while writing gs://bucket/key".
 */
async function send(
  file: File,
  source: AsyncIterable<Uint8Array>,
  streamOptions: CreateWriteStreamOptions,
  options: WriteOptions,
  settings: UploadSettings,
): Promise<void> {
  let moved = 0;
  async function* counted() {
    for await (const chunk of source) {
      moved += chunk.byteLength;
      yield chunk;
    }
  }
  const sink = file.createWriteStream(streamOptions);
  sink.on("progress", () => {
    moved += 1;
  });
  const idle = settings.idle;
  const requests = new Set<ClientRequest>();
  const stop =
    idle && idle.timeoutMs > 0
      ? watchWritable(sink, () => moved, {
          host: idle.host,
          timeoutMs: () => idle.timeoutMs,
          busy: () => true,
          system: "gs",
        })
      : undefined;
  trackRequests();
  try {
    await uploadRequests.run(requests, () =>
      pipeline(Readable.from(counted()), sink, ...(options.signal ? [{ signal: options.signal }] : [])),
    );
  } catch (error) {
    // The requests of a failed upload are ended with it (a stalled one would hold its socket).
    for (const request of requests) request.destroy(error as Error);
    throw error;
  } finally {
    stop?.();
  }
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
