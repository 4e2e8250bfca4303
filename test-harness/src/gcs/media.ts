/** Object downloads (`alt=media`), with single byte ranges as GCS serves them. */
import { type FileHandle, open } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { pipeline } from "node:stream/promises";
import { gcsErrors } from "./errors.ts";
import { objectEtag } from "./resource.ts";
import type { StoredObject } from "./store.ts";

/** An inclusive byte span, or undefined for "the whole object". */
export type ByteSpan = { start: number; end: number } | undefined;

/**
 * GCS range semantics (mirrored by fake-gcs-server): a suffix range is clamped to the object, an end
 * past the size is clamped, a start at or past the size is 416, and a malformed, inverted or
 * multi-range header is ignored (the whole object with 200).
 */
export function parseRange(header: string | undefined, size: number): ByteSpan {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return undefined;
  const [, first, last] = match;
  if (first === "" && last === "") return undefined;
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) throw gcsErrors.rangeNotSatisfiable(size);
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === "" ? size - 1 : Number(last);
  if (last !== "" && end < start) return undefined;
  if (start >= size) throw gcsErrors.rangeNotSatisfiable(size);
  return { start, end: Math.min(end, size - 1) };
}

/**
 * Headers real GCS sends with media. `x-goog-stored-content-encoding: identity` turns on the
 * client's end-to-end check against `x-goog-hash`, which is sent as ONE comma-joined header
 * without spaces, the only form the client parses completely.
 */
function mediaHeaders(object: StoredObject): Record<string, string> {
  const headers: Record<string, string> = {
    "content-type": object.contentType ?? "application/octet-stream",
    etag: objectEtag(object),
    "last-modified": object.updated.toUTCString(),
    "x-goog-generation": String(object.generation),
    "x-goog-metageneration": String(object.metageneration),
    "x-goog-stored-content-length": String(object.size),
    "x-goog-stored-content-encoding": object.contentEncoding ?? "identity",
    "x-goog-hash": [`crc32c=${object.crc32c}`, ...(object.md5Hash ? [`md5=${object.md5Hash}`] : [])].join(
      ",",
    ),
    "accept-ranges": "bytes",
  };
  if (object.contentEncoding) headers["content-encoding"] = object.contentEncoding;
  for (const [key, value] of Object.entries(object.metadata ?? {})) {
    // Header values must be latin-1 without control characters; skip what HTTP cannot carry.
    if (/^[\x20-\x7e]*$/.test(key) && /^[\x20-\x7e]*$/.test(value))
      headers[`x-goog-meta-${key.toLowerCase()}`] = value;
  }
  return headers;
}

/**
 * Serve the bytes of the object `lookup` names. The file is opened before any header is sent: an
 * overwrite that lands between the lookup and the open unlinks the old file, and then the new live
 * object is served instead (an open file keeps its bytes however the object changes afterwards).
 */
export async function sendMedia(
  res: ServerResponse,
  lookup: () => StoredObject,
  rangeHeader: string | undefined,
  method: string,
): Promise<void> {
  let object = lookup();
  let handle: FileHandle | undefined;
  for (let attempt = 0; handle === undefined; attempt++) {
    try {
      handle = await open(object.file, "r");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT" || attempt >= 3) throw error;
      object = lookup();
    }
  }
  try {
    const span = parseRange(rangeHeader, object.size);
    const headers = mediaHeaders(object);
    if (span) {
      headers["content-range"] = `bytes ${span.start}-${span.end}/${object.size}`;
      headers["content-length"] = String(span.end - span.start + 1);
      res.writeHead(206, headers);
    } else {
      headers["content-length"] = String(object.size);
      res.writeHead(200, headers);
    }
    if (method === "HEAD" || object.size === 0) {
      res.end();
      return;
    }
    const stream = handle.createReadStream({
      ...(span ? { start: span.start, end: span.end } : {}),
      autoClose: false,
    });
    await pipeline(stream, res);
  } finally {
    await handle.close();
  }
}
