/**
 * Blob bytes in and out without holding a file in memory: uploads stream the JSON body
 * `{"encoding":"base64","content":"…"}` as the source produces bytes (base64 in 3-byte groups);
 * downloads stream the raw media type and slice ranges client-side (GitHub serves no byte ranges).
 */
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import type { ByteRange } from "@ferry/core";
import type { Octokit } from "@octokit/rest";
import { withSignal } from "./client.ts";

const encoder = new TextEncoder();

export interface UploadedBlob {
  sha: string;
  size: number;
}

export async function uploadBlob(
  api: Octokit,
  repo: { owner: string; repo: string },
  source: AsyncIterable<Uint8Array>,
  signal?: AbortSignal,
): Promise<UploadedBlob> {
  let size = 0;
  let sourceFailure: { error: unknown } | undefined;
  async function* body(): AsyncGenerator<Uint8Array> {
    yield encoder.encode('{"encoding":"base64","content":"');
    let carry: Uint8Array = new Uint8Array(0);
    try {
      for await (const chunk of source) {
        size += chunk.byteLength;
        const joined = carry.byteLength === 0 ? chunk : Buffer.concat([carry, chunk]);
        const whole = joined.byteLength - (joined.byteLength % 3);
        if (whole > 0)
          yield encoder.encode(Buffer.from(joined.buffer, joined.byteOffset, whole).toString("base64"));
        carry = joined.slice(whole);
      }
    } catch (error) {
      // The source failed (size/MD5 check, abort, a read error): remember it, so the caller sees
      // that error rather than the network error fetch reports for the broken body.
      sourceFailure = { error };
      throw error;
    }
    yield encoder.encode(`${Buffer.from(carry).toString("base64")}"}`);
  }
  try {
    const { data } = await api.request("POST /repos/{owner}/{repo}/git/blobs", {
      owner: repo.owner,
      repo: repo.repo,
      // A streamed body: octokit hands it to fetch as is (with duplex: "half").
      data: body() as unknown as string,
      headers: { "content-type": "application/json; charset=utf-8" },
      request: withSignal(signal),
    } as unknown as Parameters<Octokit["git"]["createBlob"]>[0]);
    return { sha: (data as { sha: string }).sha, size };
  } catch (error) {
    if (sourceFailure) throw sourceFailure.error;
    throw error;
  }
}

export async function downloadBlob(
  api: Octokit,
  repo: { owner: string; repo: string },
  blob: { sha: string; size: number },
  range: ByteRange | undefined,
  signal?: AbortSignal,
): Promise<Readable> {
  const { data } = await api.request("GET /repos/{owner}/{repo}/git/blobs/{file_sha}", {
    owner: repo.owner,
    repo: repo.repo,
    file_sha: blob.sha,
    headers: { accept: "application/vnd.github.raw" },
    request: { parseSuccessResponseBody: false, ...withSignal(signal) },
  });
  const stream = Readable.fromWeb(data as unknown as WebReadableStream<Uint8Array>);
  if (!range) return stream;
  const start = "suffix" in range ? Math.max(0, blob.size - range.suffix) : range.offset;
  const end =
    "suffix" in range
      ? blob.size
      : range.length === undefined
        ? blob.size
        : Math.min(blob.size, range.offset + range.length);
  return Readable.from(slice(stream, start, end), { objectMode: false });
}

/** Bytes [start, end) of a stream; stops reading (and closes the download) once `end` is reached. */
async function* slice(source: Readable, start: number, end: number): AsyncGenerator<Uint8Array> {
  if (end <= start) {
    source.destroy();
    return;
  }
  let position = 0;
  for await (const chunk of source as AsyncIterable<Uint8Array>) {
    const from = Math.max(0, start - position);
    const to = Math.min(chunk.byteLength, end - position);
    position += chunk.byteLength;
    if (to > from) yield chunk.subarray(from, to);
    if (position >= end) return;
  }
}
