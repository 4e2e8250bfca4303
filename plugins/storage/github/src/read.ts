/**
 * Reads: a file's blob streamed in the raw media type, with ranges sliced client-side (GitHub serves
 * no byte ranges); stream failures are typed too.
 */
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { type ByteRange, errors, mapStreamErrors, type ReadOptions } from "@ferry/plugin-kit";
import type { Octokit } from "@octokit/rest";
import { withSignal } from "./client.ts";
import { toGithubError } from "./errors.ts";
import type { GitEntry } from "./git/trees.ts";

/** The bytes of the file `entry` at `path` (undefined when nothing is there); `what` names it in messages. */
export async function readEntry(
  api: Octokit,
  repo: { owner: string; repo: string },
  file: { path: string; what: string; entry: GitEntry | undefined },
  options: ReadOptions,
): Promise<Readable> {
  const { path, what, entry } = file;
  if (!entry || entry.type === "commit")
    throw errors.notFound(`${what} does not exist`, { system: "github", path });
  if (entry.type === "tree")
    throw errors.invalidInput(`${what} is a directory, not a file`, { system: "github", path });
  const body = await downloadBlob(api, repo, entry, options.range, options.signal);
  // The answer streams on after this returns: its failures (a stall, a dropped connection) too are typed.
  return mapStreamErrors(body, (error) => toGithubError(error, { what, path }));
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
