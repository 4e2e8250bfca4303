/**
 * A streaming reader for the `multipart/related` body of `uploadType=multipart`: a JSON part with
 * the object resource, then the media part. The media is handed on as it arrives (holding back only
 * enough bytes to recognise the closing delimiter), so a large upload is never held in memory.
 */
import { gcsErrors } from "./errors.ts";
import { parseJsonObject } from "./http.ts";

const MAX_HEADER_BYTES = 16 * 1024;
const MAX_METADATA_BYTES = 1024 * 1024;

export interface MultipartResult {
  resource: Record<string, unknown>;
  mediaContentType: string | undefined;
}

export function boundaryOf(contentType: string | undefined): string {
  const match = /^multipart\/related\s*;(?:.*;)?\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? "");
  const boundary = match?.[1] ?? match?.[2];
  if (!boundary)
    throw gcsErrors.invalid(
      "Content-Type must be multipart/related with a boundary for uploadType=multipart.",
    );
  return boundary;
}

export async function readMultipartRelated(
  body: AsyncIterable<Buffer>,
  boundary: string,
  writeMedia: (bytes: Buffer) => Promise<void>,
): Promise<MultipartResult> {
  const reader = new ChunkReader(body);
  const opening = Buffer.from(`--${boundary}`);
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  // The body opens with the first delimiter (a preamble before it is allowed and ignored).
  await reader.skipPast(opening, MAX_HEADER_BYTES, "multipart body has no opening boundary");
  const parts: { headers: Map<string, string> }[] = [];
  let resource: Record<string, unknown> | undefined;
  let mediaContentType: string | undefined;
  for (;;) {
    const after = await reader.take(2);
    if (after.equals(Buffer.from("--"))) break;
    if (!after.equals(Buffer.from("\r\n")))
      throw gcsErrors.invalid("Malformed multipart body: bad delimiter line.");
    const headerBlock = await reader.until(
      Buffer.from("\r\n\r\n"),
      MAX_HEADER_BYTES,
      "multipart part headers are not terminated",
    );
    const headers = parseHeaders(`${headerBlock.toString("latin1")}`);
    parts.push({ headers });
    if (parts.length === 1) {
      const json = await reader.until(
        delimiter,
        MAX_METADATA_BYTES,
        "multipart metadata part is not terminated",
      );
      resource = parseJsonObject(json.toString("utf8"));
    } else if (parts.length === 2) {
      mediaContentType = headers.get("content-type");
      await reader.streamUntil(delimiter, writeMedia);
    } else {
      throw gcsErrors.invalid("A multipart upload has exactly two parts: metadata and media.");
    }
  }
  if (parts.length !== 2 || resource === undefined)
    throw gcsErrors.invalid("A multipart upload has exactly two parts: metadata and media.");
  await reader.discardRest();
  return { resource, mediaContentType };
}

function parseHeaders(block: string): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of block.split("\r\n")) {
    if (line === "") continue;
    const at = line.indexOf(":");
    if (at < 0) throw gcsErrors.invalid("Malformed multipart part header.");
    headers.set(line.slice(0, at).trim().toLowerCase(), line.slice(at + 1).trim());
  }
  return headers;
}

/** Pull-based reading over an async iterable of buffers. */
class ChunkReader {
  readonly #iterator: AsyncIterator<Buffer>;
  #pending: Buffer = Buffer.alloc(0);
  #ended = false;

  constructor(source: AsyncIterable<Buffer>) {
    this.#iterator = source[Symbol.asyncIterator]();
  }

  async #fill(): Promise<boolean> {
    if (this.#ended) return false;
    const next = await this.#iterator.next();
    if (next.done) {
      this.#ended = true;
      return false;
    }
    this.#pending = this.#pending.length === 0 ? next.value : Buffer.concat([this.#pending, next.value]);
    return true;
  }

  async take(count: number): Promise<Buffer> {
    while (this.#pending.length < count)
      if (!(await this.#fill())) throw gcsErrors.invalid("Multipart body ended early.");
    const out = this.#pending.subarray(0, count);
    this.#pending = this.#pending.subarray(count);
    return out;
  }

  /** Bytes before `marker` (consuming the marker), at most `limit` of them. */
  async until(marker: Buffer, limit: number, problem: string): Promise<Buffer> {
    for (;;) {
      const at = this.#pending.indexOf(marker);
      if (at >= 0) {
        const out = Buffer.from(this.#pending.subarray(0, at));
        this.#pending = this.#pending.subarray(at + marker.length);
        return out;
      }
      if (this.#pending.length > limit + marker.length || !(await this.#fill()))
        throw gcsErrors.invalid(`Malformed multipart body: ${problem}.`);
    }
  }

  async skipPast(marker: Buffer, limit: number, problem: string): Promise<void> {
    await this.until(marker, limit, problem);
  }

  /** Hand on bytes up to `marker`, keeping back only a possible partial marker at the end. */
  async streamUntil(marker: Buffer, sink: (bytes: Buffer) => Promise<void>): Promise<void> {
    for (;;) {
      const at = this.#pending.indexOf(marker);
      if (at >= 0) {
        if (at > 0) await sink(Buffer.from(this.#pending.subarray(0, at)));
        this.#pending = this.#pending.subarray(at + marker.length);
        return;
      }
      const safe = this.#pending.length - (marker.length - 1);
      if (safe > 0) {
        await sink(Buffer.from(this.#pending.subarray(0, safe)));
        this.#pending = this.#pending.subarray(safe);
      }
      if (!(await this.#fill()))
        throw gcsErrors.invalid("Malformed multipart body: media part is not terminated.");
    }
  }

  async discardRest(): Promise<void> {
    this.#pending = Buffer.alloc(0);
    while (await this.#fill()) this.#pending = Buffer.alloc(0);
  }
}
