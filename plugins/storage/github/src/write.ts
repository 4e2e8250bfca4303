/**
 * Writes: blob bytes uploaded without holding a file in memory. The JSON body
 * `{"encoding":"base64","content":"…"}` is streamed as the source produces bytes (base64 in 3-byte
 * groups). A batch (git/batch.ts) uploads its files' blobs with these as it runs, then commits them.
 */
import type { Octokit } from "@octokit/rest";
import { withSignal } from "./client.ts";

const encoder = new TextEncoder();

export interface UploadedBlob {
  sha: string;
  size: number;
}

type Repo = { owner: string; repo: string };

/**
 * POST/PUT a JSON body `{...fields, "content": "<base64 of source>"}` streamed as the source yields.
 * A failing source (size/MD5 check, abort, read error) aborts the request and is what the caller
 * sees — not the network error fetch reports for the broken body.
 */
async function sendBase64Json(
  api: Octokit,
  route: string,
  params: Record<string, unknown>,
  fields: Record<string, unknown>,
  source: AsyncIterable<Uint8Array>,
  signal: AbortSignal | undefined,
): Promise<{ data: unknown; size: number }> {
  let size = 0;
  let sourceFailure: { error: unknown } | undefined;
  async function* body(): AsyncGenerator<Uint8Array> {
    yield encoder.encode(
      `${JSON.stringify(fields).slice(0, -1)}${Object.keys(fields).length ? "," : ""}"content":"`,
    );
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
      sourceFailure = { error };
      throw error;
    }
    yield encoder.encode(`${Buffer.from(carry).toString("base64")}"}`);
  }
  try {
    const { data } = await api.request(route, {
      ...params,
      // A streamed body: octokit hands it to fetch as is (with duplex: "half").
      data: body(),
      headers: { "content-type": "application/json; charset=utf-8" },
      request: withSignal(signal),
    });
    return { data, size };
  } catch (error) {
    if (sourceFailure) throw sourceFailure.error;
    throw error;
  }
}

export async function uploadBlob(
  api: Octokit,
  repo: Repo,
  source: AsyncIterable<Uint8Array>,
  signal?: AbortSignal,
): Promise<UploadedBlob> {
  const { data, size } = await sendBase64Json(
    api,
    "POST /repos/{owner}/{repo}/git/blobs",
    repo,
    { encoding: "base64" },
    source,
    signal,
  );
  return { sha: (data as { sha: string }).sha, size };
}

export interface FirstCommit {
  commit: string;
  tree: string;
  blob: string;
  size: number;
}

/**
 * The first file of an empty repository, through the contents API: GitHub's git data API refuses
 * empty repositories (409), and `PUT /contents/{path}` is how a repository gets its first commit.
 */
export async function createFirstFile(
  api: Octokit,
  repo: Repo,
  file: {
    path: string;
    branch: string;
    message: string;
    author?: object | undefined;
    committer?: object | undefined;
  },
  source: AsyncIterable<Uint8Array>,
  signal?: AbortSignal,
): Promise<FirstCommit> {
  const fields = {
    message: file.message,
    branch: file.branch,
    ...(file.author ? { author: file.author } : {}),
    ...(file.committer ? { committer: file.committer } : {}),
  };
  const { data, size } = await sendBase64Json(
    api,
    "PUT /repos/{owner}/{repo}/contents/{path}",
    { ...repo, path: file.path },
    fields,
    source,
    signal,
  );
  const answer = data as { content: { sha: string }; commit: { sha: string; tree: { sha: string } } };
  return { commit: answer.commit.sha, tree: answer.commit.tree.sha, blob: answer.content.sha, size };
}
