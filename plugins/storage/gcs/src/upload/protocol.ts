/**
 * The JSON API's upload requests (objects.insert on `/upload/storage/v1`): a multipart upload of
 * metadata and bytes in one request, and resumable sessions — opened with `uploadType=resumable`
 * (the session URI comes back in `Location`), fed with PUTs carrying `Content-Range`, answered `308`
 * with the `Range` the server holds until the last one, which answers with the object resource.
 */
import { randomBytes } from "node:crypto";
import { type Answer, apiError, objectOf, send, type UploadConnection } from "./request.ts";

/** The object an upload creates. */
export interface UploadTarget {
  bucket: string;
  name: string;
  /** `ifGenerationMatch=0`: create only. */
  createOnly: boolean;
  signal?: AbortSignal | undefined;
}

/** Where a resumable session stands: complete (the object resource), or this many bytes held. */
export type SessionState<T> = { resource: T } | { held: number };

function insertUrl(connection: UploadConnection, target: UploadTarget, uploadType: string): string {
  const query = new URLSearchParams({ uploadType, name: target.name });
  if (target.createOnly) query.set("ifGenerationMatch", "0");
  return `${connection.endpoint}/upload/storage/v1/b/${encodeURIComponent(target.bucket)}/o?${query}`;
}

function expect2xx(answer: Answer): Answer {
  if (answer.status >= 200 && answer.status < 300) return answer;
  throw apiError(answer);
}

/** Metadata and bytes in one `multipart/related` request; the object resource it answers with. */
export async function multipartUpload<T>(
  connection: UploadConnection,
  target: UploadTarget,
  resource: Record<string, unknown>,
  bytes: Buffer,
): Promise<T> {
  const boundary = `ferry-${randomBytes(16).toString("hex")}`;
  const mediaType =
    typeof resource.contentType === "string" ? resource.contentType : "application/octet-stream";
  const head =
    `--${boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n${JSON.stringify({ ...resource, name: target.name })}\r\n` +
    `--${boundary}\r\nContent-Type: ${mediaType}\r\n\r\n`;
  const answer = await send(connection, {
    method: "POST",
    url: insertUrl(connection, target, "multipart"),
    headers: { "content-type": `multipart/related; boundary=${boundary}` },
    body: [Buffer.from(head), bytes, Buffer.from(`\r\n--${boundary}--\r\n`)],
    signal: target.signal,
  });
  return objectOf<T>(expect2xx(answer));
}

/** Opens a resumable session for the object; its URI. */
export async function openSession(
  connection: UploadConnection,
  target: UploadTarget,
  resource: Record<string, unknown>,
): Promise<string> {
  const contentType = typeof resource.contentType === "string" ? resource.contentType : undefined;
  const answer = await send(connection, {
    method: "POST",
    url: insertUrl(connection, target, "resumable"),
    headers: {
      "content-type": "application/json; charset=UTF-8",
      ...(contentType ? { "x-upload-content-type": contentType } : {}),
    },
    body: [Buffer.from(JSON.stringify({ ...resource, name: target.name }))],
    signal: target.signal,
  });
  const location = expect2xx(answer).headers.location;
  if (!location)
    throw Object.assign(new Error("GCS opened no resumable session (no Location)"), { code: 502 });
  return location;
}

/** What a session answer says: 200/201 with the object, or 308 with the bytes held (`Range: bytes=0-N`). */
function stateOf<T>(answer: Answer): SessionState<T> {
  if (answer.status === 200 || answer.status === 201) return { resource: objectOf<T>(answer) };
  if (answer.status !== 308) throw apiError(answer);
  const range = /^bytes=0-(\d+)$/.exec(String(answer.headers.range ?? ""));
  return { held: range ? Number(range[1]) + 1 : 0 };
}

export interface Chunk {
  /** Offset of `bytes` in the object. */
  offset: number;
  bytes: Buffer;
  /** The object's size when this is its last chunk (the request then completes the upload). */
  total?: number | undefined;
  /** `X-Goog-Hash` of the last chunk: the server refuses the upload when the object's MD5 differs. */
  md5Base64?: string | undefined;
}

/** PUTs `chunk` into the session; where the session then stands. */
export async function putChunk<T>(
  connection: UploadConnection,
  uri: string,
  chunk: Chunk,
  signal: AbortSignal | undefined,
): Promise<SessionState<T>> {
  const { offset, bytes, total } = chunk;
  const span = bytes.length === 0 ? "*" : `${offset}-${offset + bytes.length - 1}`;
  const answer = await send(connection, {
    method: "PUT",
    url: uri,
    headers: {
      "content-range": `bytes ${span}/${total ?? "*"}`,
      ...(chunk.md5Base64 ? { "x-goog-hash": `md5=${chunk.md5Base64}` } : {}),
    },
    body: [bytes],
    signal,
  });
  return stateOf<T>(answer);
}

/** Asks the session what it holds (after a lost request); `total` when the last chunk was being sent. */
export async function querySession<T>(
  connection: UploadConnection,
  uri: string,
  total: number | undefined,
  signal: AbortSignal | undefined,
): Promise<SessionState<T>> {
  const answer = await send(connection, {
    method: "PUT",
    url: uri,
    headers: { "content-range": `bytes */${total ?? "*"}` },
    signal,
  });
  return stateOf<T>(answer);
}

/**
 * A session that will never complete is cancelled (DELETE on its URI, answered with 499), so the
 * server drops the bytes it holds instead of keeping them for a week. Best effort: the upload has
 * already failed, and an unfinished session never becomes an object.
 */
export async function cancelSession(connection: UploadConnection, uri: string): Promise<void> {
  try {
    await send(connection, { method: "DELETE", url: uri, signal: AbortSignal.timeout(10_000) });
  } catch {
    // the session expires on its own
  }
}
