/** The GitHub server's git data API, driven through @octokit/rest exactly as a client would. */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { Octokit } from "@octokit/rest";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type GithubBackend, printLogsOnFailure, startGithubServer } from "../../src/index.ts";

let github: GithubBackend;
let octokit: Octokit;
let counter = 0;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const owner = "octo";
const fresh = (options: Parameters<GithubBackend["createRepo"]>[2] = {}) =>
  github.createRepo(owner, `repo-${++counter}`, options);

function gitBlobSha(content: string | Uint8Array): string {
  const bytes = typeof content === "string" ? Buffer.from(content) : Buffer.from(content);
  return createHash("sha1").update(`blob ${bytes.byteLength}\0`).update(bytes).digest("hex");
}

async function status(
  promise: Promise<unknown>,
): Promise<{ status: number; message: string; data: unknown }> {
  try {
    await promise;
  } catch (error) {
    const failure = error as { status: number; message: string; response?: { data: unknown } };
    return { status: failure.status, message: failure.message, data: failure.response?.data };
  }
  throw new Error("expected the request to fail");
}

beforeAll(async () => {
  github = await startGithubServer();
  octokit = new Octokit({ baseUrl: github.baseUrl, auth: github.token, log: quiet });
});
afterEach((context) => printLogsOnFailure(context, github));
afterAll(() => github.stop());

describe("refs", () => {
  it("gets a branch ref (with %2F in the parameter) and lists matching refs by prefix", async () => {
    const repo = await fresh({ files: { "a.txt": "a" } });
    await repo.createBranch("feature/x", "main");
    await repo.tag("v1", "main");
    const head = (await repo.log())[0]!.sha;
    const { data } = await octokit.git.getRef({ owner, repo: repo.name, ref: "heads/feature/x" });
    expect(data).toMatchObject({ ref: "refs/heads/feature/x", object: { type: "commit", sha: head } });
    expect(data.url).toBe(`${github.baseUrl}/repos/${owner}/${repo.name}/git/refs/heads/feature/x`);
    const matching = await octokit.git.listMatchingRefs({ owner, repo: repo.name, ref: "heads/feat" });
    expect(matching.data.map((ref) => ref.ref)).toEqual(["refs/heads/feature/x"]);
    expect((await status(octokit.git.getRef({ owner, repo: repo.name, ref: "heads/nope" }))).status).toBe(
      404,
    );
  });

  it("annotated tags point at a tag object that peels to the commit", async () => {
    const repo = await fresh();
    await repo.tag("v2", "main", { message: "release 2" });
    const { data: ref } = await octokit.git.getRef({ owner, repo: repo.name, ref: "tags/v2" });
    expect(ref.object.type).toBe("tag");
    const { data: tag } = await octokit.git.getTag({ owner, repo: repo.name, tag_sha: ref.object.sha });
    expect(tag).toMatchObject({
      tag: "v2",
      message: "release 2\n",
      object: { type: "commit", sha: (await repo.log())[0]!.sha },
    });
  });

  it("updateRef fast-forwards, refuses a non fast-forward with 422, and force moves it anyway", async () => {
    const repo = await fresh({ files: { "a.txt": "a" } });
    const base = (await repo.log())[0]!.sha;
    const { data: baseCommit } = await octokit.git.getCommit({ owner, repo: repo.name, commit_sha: base });
    const one = await octokit.git.createCommit({
      owner,
      repo: repo.name,
      message: "one",
      tree: baseCommit.tree.sha,
      parents: [base],
    });
    const two = await octokit.git.createCommit({
      owner,
      repo: repo.name,
      message: "two",
      tree: baseCommit.tree.sha,
      parents: [base],
    });
    const moved = await octokit.git.updateRef({
      owner,
      repo: repo.name,
      ref: "heads/main",
      sha: one.data.sha,
      force: false,
    });
    expect(moved.data.object.sha).toBe(one.data.sha);
    const refused = await status(
      octokit.git.updateRef({ owner, repo: repo.name, ref: "heads/main", sha: two.data.sha, force: false }),
    );
    expect(refused.status).toBe(422);
    expect(refused.message).toBe(
      "Update is not a fast forward - https://docs.github.com/rest/git/refs#update-a-reference",
    );
    expect((await repo.log())[0]!.sha).toBe(one.data.sha);
    await octokit.git.updateRef({
      owner,
      repo: repo.name,
      ref: "heads/main",
      sha: two.data.sha,
      force: true,
    });
    expect((await repo.log())[0]!.sha).toBe(two.data.sha);
    const missing = await status(
      octokit.git.updateRef({ owner, repo: repo.name, ref: "heads/none", sha: two.data.sha }),
    );
    expect(missing).toMatchObject({ status: 422, data: { message: "Reference does not exist" } });
  });

  it("creates and deletes refs; an existing ref is 422", async () => {
    const repo = await fresh();
    const head = (await repo.log())[0]!.sha;
    const {
      data,
      status: code,
      headers,
    } = await octokit.git.createRef({ owner, repo: repo.name, ref: "refs/heads/new", sha: head });
    expect(code).toBe(201);
    expect(headers.location).toBe(data.url);
    expect(
      (await status(octokit.git.createRef({ owner, repo: repo.name, ref: "refs/heads/new", sha: head })))
        .data,
    ).toMatchObject({
      message: "Reference already exists",
    });
    expect((await octokit.git.deleteRef({ owner, repo: repo.name, ref: "heads/new" })).status).toBe(204);
    expect((await status(octokit.git.deleteRef({ owner, repo: repo.name, ref: "heads/new" }))).status).toBe(
      422,
    );
  });
});

describe("blobs, trees and commits", () => {
  it("creates blobs whose sha is git's own id, and reads them back as base64 or raw bytes", async () => {
    const repo = await fresh();
    const bytes = new Uint8Array(Array.from({ length: 300 }, (_, index) => index % 256));
    const created = await octokit.git.createBlob({
      owner,
      repo: repo.name,
      content: Buffer.from(bytes).toString("base64"),
      encoding: "base64",
    });
    expect(created.data.sha).toBe(gitBlobSha(bytes));
    const text = await octokit.git.createBlob({
      owner,
      repo: repo.name,
      content: "héllo",
      encoding: "utf-8",
    });
    expect(text.data.sha).toBe(gitBlobSha("héllo"));
    const { data } = await octokit.git.getBlob({ owner, repo: repo.name, file_sha: created.data.sha });
    expect(data).toMatchObject({ sha: created.data.sha, size: 300, encoding: "base64" });
    expect(data.content.split("\n").every((line) => line.length <= 60)).toBe(true);
    expect(new Uint8Array(Buffer.from(data.content, "base64"))).toEqual(bytes);
    const raw = await octokit.request("GET /repos/{owner}/{repo}/git/blobs/{file_sha}", {
      owner,
      repo: repo.name,
      file_sha: created.data.sha,
      headers: { accept: "application/vnd.github.raw+json" },
      request: { parseSuccessResponseBody: false },
    });
    const streamed = new Uint8Array(await new Response(raw.data as unknown as ReadableStream).arrayBuffer());
    expect(streamed).toEqual(bytes);
    expect(raw.headers["content-type"]).toBe("application/vnd.github.raw; charset=utf-8");
    expect(
      (await status(octokit.git.getBlob({ owner, repo: repo.name, file_sha: "0".repeat(40) }))).status,
    ).toBe(404);
  });

  it("builds a tree over base_tree (add, replace, delete, nested) and commits it", async () => {
    const repo = await fresh({
      files: { "keep.txt": "keep", "gone.txt": "gone", "dir/old.txt": "old", "dir/sub/x.txt": "x" },
    });
    const head = (await repo.log())[0]!.sha;
    const { data: commit } = await octokit.git.getCommit({ owner, repo: repo.name, commit_sha: head });
    const blob = await octokit.git.createBlob({ owner, repo: repo.name, content: "new" });
    const { data: tree, status: code } = await octokit.git.createTree({
      owner,
      repo: repo.name,
      base_tree: commit.tree.sha,
      tree: [
        { path: "dir/new.txt", mode: "100644", type: "blob", sha: blob.data.sha },
        { path: "gone.txt", mode: "100644", type: "blob", sha: null },
        { path: "dir/sub/x.txt", mode: "100644", type: "blob", sha: null },
        { path: "inline.txt", mode: "100644", type: "blob", content: "inline" },
      ],
    });
    expect(code).toBe(201);
    expect(tree.tree.map((entry) => entry.path)).toEqual(["dir", "inline.txt", "keep.txt"]);
    const made = await octokit.git.createCommit({
      owner,
      repo: repo.name,
      message: "change",
      tree: tree.sha,
      parents: [head],
      author: { name: "A", email: "a@example.com", date: "2026-01-02T03:04:05Z" },
    });
    expect(made.data).toMatchObject({
      message: "change",
      author: { name: "A", date: "2026-01-02T03:04:05Z" },
      parents: [{ sha: head }],
    });
    expect(made.data.committer.name).toBe("A");
    await octokit.git.updateRef({ owner, repo: repo.name, ref: "heads/main", sha: made.data.sha });
    const files = execFileSync("git", ["--git-dir", repo.gitDir, "ls-tree", "-r", "--name-only", "main"], {
      encoding: "utf8",
    });
    expect(files.trim().split("\n")).toEqual(["dir/new.txt", "dir/old.txt", "inline.txt", "keep.txt"]);
    expect((await repo.readFile("inline.txt"))?.toString()).toBe("inline");
  });

  it("rejects deleting a missing path, bad modes and unknown trees/parents with 422", async () => {
    const repo = await fresh();
    const head = (await repo.log())[0]!.sha;
    const { data: commit } = await octokit.git.getCommit({ owner, repo: repo.name, commit_sha: head });
    const base = { owner, repo: repo.name, base_tree: commit.tree.sha };
    const refusedTrees = [
      { path: "nope", mode: "100644", type: "blob", sha: null },
      { path: "a", mode: "100600", type: "blob", content: "x" },
      { path: "../a", mode: "100644", type: "blob", content: "x" },
    ] as const;
    for (const entry of refusedTrees) {
      const answer = await status(
        octokit.git.createTree({ ...base, tree: [entry as unknown as { path: string; mode: "100644" }] }),
      );
      expect(answer.status, JSON.stringify(entry)).toBe(422);
    }
    expect(
      (await status(octokit.git.createCommit({ owner, repo: repo.name, message: "m", tree: "1".repeat(40) })))
        .data,
    ).toMatchObject({
      message: "Tree SHA does not exist",
    });
    expect(
      (
        await status(
          octokit.git.createCommit({
            owner,
            repo: repo.name,
            message: "m",
            tree: commit.tree.sha,
            parents: ["2".repeat(40)],
          }),
        )
      ).data,
    ).toMatchObject({ message: "Parent SHA does not exist or is not a commit object" });
  });

  it("lists trees recursively (subtrees, sizes, modes) and truncates past the configured limit", async () => {
    const repo = await fresh({ files: { "a.txt": "aa", "d/b.txt": "bbb", "d/e/c.txt": "c" } });
    const { data } = await octokit.git.getTree({ owner, repo: repo.name, tree_sha: "main", recursive: "1" });
    expect(data.truncated).toBe(false);
    expect(data.tree.map((entry) => [entry.path, entry.type, entry.size])).toEqual([
      ["a.txt", "blob", 2],
      ["d", "tree", undefined],
      ["d/b.txt", "blob", 3],
      ["d/e", "tree", undefined],
      ["d/e/c.txt", "blob", 1],
    ]);
    const level = await octokit.git.getTree({ owner, repo: repo.name, tree_sha: data.tree[1]!.sha });
    expect(level.data.tree.map((entry) => entry.path)).toEqual(["b.txt", "e"]);
    const byPath = await octokit.git.getTree({ owner, repo: repo.name, tree_sha: "main:d/e" });
    expect(byPath.data.tree.map((entry) => entry.path)).toEqual(["c.txt"]);
    github.settings.treeEntryLimit = 3;
    try {
      const cut = await octokit.git.getTree({ owner, repo: repo.name, tree_sha: "main", recursive: "true" });
      expect(cut.data.truncated).toBe(true);
      expect(cut.data.tree).toHaveLength(3);
    } finally {
      github.settings.treeEntryLimit = 100_000;
    }
    expect(
      (await status(octokit.git.getTree({ owner, repo: repo.name, tree_sha: "f".repeat(40) }))).status,
    ).toBe(404);
  });

  it("answers 409 Git Repository is empty for an empty repository", async () => {
    const repo = await fresh({ empty: true });
    const answer = await status(octokit.git.getRef({ owner, repo: repo.name, ref: "heads/main" }));
    expect(answer).toMatchObject({ status: 409, data: { message: "Git Repository is empty." } });
    expect((await status(octokit.git.createBlob({ owner, repo: repo.name, content: "x" }))).status).toBe(409);
    expect((await octokit.repos.get({ owner, repo: repo.name })).data.default_branch).toBe("main");
  });
});
