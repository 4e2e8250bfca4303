/** The GitHub server's repos, contents, auth, rate-limit and pagination behaviour, through @octokit/rest. */
import { Octokit } from "@octokit/rest";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type GithubBackend, printLogsOnFailure, startGithubServer } from "../../src/index.ts";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
let github: GithubBackend;
let octokit: Octokit;
let counter = 0;
const owner = "octo";
const fresh = (options: Parameters<GithubBackend["createRepo"]>[2] = {}) =>
  github.createRepo(owner, `repo-${++counter}`, options);
const client = (auth?: string) =>
  new Octokit({ baseUrl: github.baseUrl, log: quiet, ...(auth ? { auth } : {}) });

async function failure(
  promise: Promise<unknown>,
): Promise<{ status: number; message: string; data: unknown; headers: Record<string, string> }> {
  try {
    await promise;
  } catch (error) {
    const failed = error as {
      status: number;
      message: string;
      response?: { data: unknown; headers: Record<string, string> };
    };
    return {
      status: failed.status,
      message: failed.message,
      data: failed.response?.data,
      headers: failed.response?.headers ?? {},
    };
  }
  throw new Error("expected the request to fail");
}

beforeAll(async () => {
  github = await startGithubServer({ contentsInlineMaxBytes: 1024, contentsMaxBytes: 4096 });
  octokit = client(github.token);
});
afterEach((context) => printLogsOnFailure(context, github));
afterAll(() => github.stop());

describe("repository, branches, tags, commits", () => {
  it("describes the repository with its default branch and visibility", async () => {
    const repo = await fresh({ defaultBranch: "trunk", private: true });
    const { data, headers } = await octokit.repos.get({ owner, repo: repo.name });
    expect(data).toMatchObject({
      name: repo.name,
      full_name: `${owner}/${repo.name}`,
      private: true,
      visibility: "private",
      default_branch: "trunk",
    });
    expect(data.permissions).toMatchObject({ push: true, pull: true });
    expect(headers["x-ratelimit-limit"]).toBe("5000");
    expect(headers["x-ratelimit-resource"]).toBe("core");
    // GitHub sends an opaque id per request (hex groups joined by ":"); clients quote it in bug reports.
    expect(headers["x-github-request-id"]).toMatch(/^[0-9A-F]{4,}:[0-9A-Z]+$/);
  });

  it("resolves branches (with slashes), tags and shas through /commits/{ref} and /branches/{branch}", async () => {
    const repo = await fresh({ files: { "a.txt": "1" } });
    const first = (await repo.log())[0]!.sha;
    await repo.tag("v1", "main", { message: "annotated" });
    await repo.createBranch("feature/x", "main");
    const second = await repo.commit({ files: { "a.txt": "2" }, message: "second" });
    for (const [ref, sha] of [
      ["main", second],
      ["feature/x", first],
      ["v1", first],
      [first, first],
      [first.slice(0, 7), first],
    ] as const) {
      const { data } = await octokit.repos.getCommit({ owner, repo: repo.name, ref });
      expect(data.sha).toBe(sha);
    }
    const { data: shaOnly } = await octokit.request("GET /repos/{owner}/{repo}/commits/{ref}", {
      owner,
      repo: repo.name,
      ref: "main",
      headers: { accept: "application/vnd.github.sha" },
    });
    expect(String(shaOnly)).toBe(second);
    const { data: branch } = await octokit.repos.getBranch({ owner, repo: repo.name, branch: "feature/x" });
    expect(branch).toMatchObject({ name: "feature/x", commit: { sha: first }, protected: false });
    expect(
      (await failure(octokit.repos.getBranch({ owner, repo: repo.name, branch: "nope" }))).data,
    ).toMatchObject({ message: "Branch not found" });
    expect((await failure(octokit.repos.getCommit({ owner, repo: repo.name, ref: "nope" }))).status).toBe(
      422,
    );
  });

  it("paginates branches, tags and commits with Link headers that octokit.paginate follows", async () => {
    const repo = await fresh();
    for (let index = 0; index < 5; index += 1) await repo.createBranch(`b${index}`, "main");
    for (let index = 0; index < 3; index += 1) await repo.tag(`t${index}`, "main");
    for (let index = 0; index < 4; index += 1)
      await repo.commit({ files: { "n.txt": String(index) }, message: `c${index}` });
    const firstPage = await octokit.repos.listBranches({ owner, repo: repo.name, per_page: 2 });
    expect(firstPage.data).toHaveLength(2);
    expect(firstPage.headers.link).toContain('rel="next"');
    expect(firstPage.headers.link).toContain(
      `<${github.baseUrl}/repos/${owner}/${repo.name}/branches?per_page=2&page=2>`,
    );
    const branches = await octokit.paginate(octokit.repos.listBranches, {
      owner,
      repo: repo.name,
      per_page: 2,
    });
    expect(branches.map((branch) => branch.name)).toEqual(["b0", "b1", "b2", "b3", "b4", "main"]);
    const tags = await octokit.paginate(octokit.repos.listTags, { owner, repo: repo.name, per_page: 2 });
    expect(tags.map((tag) => tag.name)).toEqual(["t0", "t1", "t2"]);
    const commits = await octokit.paginate(octokit.repos.listCommits, {
      owner,
      repo: repo.name,
      per_page: 2,
    });
    expect(commits.map((commit) => commit.commit.message)).toEqual([
      "c3",
      "c2",
      "c1",
      "c0",
      "Initial commit",
    ]);
    const touching = await octokit.paginate(octokit.repos.listCommits, {
      owner,
      repo: repo.name,
      path: "README.md",
    });
    expect(touching).toHaveLength(1);
  });
});

describe("contents", () => {
  it("returns files as base64 and directories as arrays, at a branch, tag or sha", async () => {
    const repo = await fresh({ files: { "dir/a b.txt": "abc", "dir/sub/c.txt": "c", "top.txt": "t" } });
    const sha = (await repo.log())[0]!.sha;
    await repo.tag("v1", sha);
    await repo.commit({ files: { "dir/a b.txt": "changed" } });
    const { data: file } = await octokit.repos.getContent({
      owner,
      repo: repo.name,
      path: "dir/a b.txt",
      ref: "v1",
    });
    expect(file).toMatchObject({
      type: "file",
      encoding: "base64",
      size: 3,
      name: "a b.txt",
      path: "dir/a b.txt",
    });
    expect(Buffer.from((file as { content: string }).content, "base64").toString()).toBe("abc");
    const { data: current } = await octokit.repos.getContent({ owner, repo: repo.name, path: "dir/a b.txt" });
    expect(Buffer.from((current as { content: string }).content, "base64").toString()).toBe("changed");
    const { data: atSha } = await octokit.repos.getContent({
      owner,
      repo: repo.name,
      path: "dir/a b.txt",
      ref: sha,
    });
    expect((atSha as { sha: string }).sha).toBe((file as { sha: string }).sha);
    const { data: dir } = await octokit.repos.getContent({ owner, repo: repo.name, path: "dir" });
    expect((dir as { name: string; type: string }[]).map((entry) => [entry.name, entry.type])).toEqual([
      ["a b.txt", "file"],
      ["sub", "dir"],
    ]);
    const { data: root } = await octokit.repos.getContent({ owner, repo: repo.name, path: "" });
    expect((root as { name: string }[]).map((entry) => entry.name)).toEqual(["dir", "top.txt"]);
    const { data: object } = await octokit.repos.getContent({
      owner,
      repo: repo.name,
      path: "dir",
      mediaType: { format: "object" },
    });
    expect((object as unknown as { type: string; entries: unknown[] }).type).toBe("dir");
    expect((object as unknown as { entries: unknown[] }).entries).toHaveLength(2);
    expect(
      (await failure(octokit.repos.getContent({ owner, repo: repo.name, path: "missing.txt" }))).data,
    ).toMatchObject({
      message: "Not Found",
      documentation_url: "https://docs.github.com/rest/repos/contents#get-repository-content",
      status: "404",
    });
    expect(
      (await failure(octokit.repos.getContent({ owner, repo: repo.name, path: "top.txt", ref: "nope" })))
        .data,
    ).toMatchObject({
      message: "No commit found for the ref nope",
    });
  });

  it("serves raw bytes, omits content above the inline limit and refuses files past the maximum", async () => {
    const binary = new Uint8Array(2000).map((_, index) => (index * 7) % 256);
    const repo = await fresh({ files: { "big.bin": binary, "huge.bin": new Uint8Array(5000) } });
    const { data: json } = await octokit.repos.getContent({ owner, repo: repo.name, path: "big.bin" });
    expect(json).toMatchObject({ encoding: "none", content: "", size: 2000 });
    const raw = await octokit.request("GET /repos/{owner}/{repo}/contents/{path}", {
      owner,
      repo: repo.name,
      path: "big.bin",
      headers: { accept: "application/vnd.github.raw" },
      request: { parseSuccessResponseBody: false },
    });
    expect(new Uint8Array(await new Response(raw.data as unknown as ReadableStream).arrayBuffer())).toEqual(
      binary,
    );
    const tooLarge = await failure(
      octokit.repos.getContent({ owner, repo: repo.name, path: "huge.bin", mediaType: { format: "raw" } }),
    );
    expect(tooLarge.status).toBe(403);
    expect(tooLarge.data).toMatchObject({ errors: [{ resource: "Blob", field: "data", code: "too_large" }] });
  });
});

describe("contents writes", () => {
  it("creates, updates and deletes a file as one commit each, with GitHub's conflict answers", async () => {
    const repo = await fresh({ files: { "a.txt": "a" } });
    const put = (extra: Record<string, unknown>) =>
      octokit.repos.createOrUpdateFileContents({
        owner,
        repo: repo.name,
        path: "dir/n b.txt",
        message: "m",
        content: "",
        ...extra,
      });
    const created = await put({ content: Buffer.from("one").toString("base64"), message: "create" });
    expect(created.status).toBe(201);
    expect(created.data.content).toMatchObject({
      path: "dir/n b.txt",
      name: "n b.txt",
      size: 3,
      type: "file",
    });
    expect(created.data.commit).toMatchObject({
      message: "create",
      parents: [{ sha: (await repo.log())[1]!.sha }],
    });
    const noSha = await failure(put({ content: Buffer.from("two").toString("base64") }));
    expect(noSha).toMatchObject({
      status: 422,
      data: { message: 'Invalid request.\n\n"sha" wasn\'t supplied.' },
    });
    const stale = await failure(put({ content: Buffer.from("two").toString("base64"), sha: "0".repeat(40) }));
    expect(stale).toMatchObject({
      status: 409,
      data: { message: `dir/n b.txt does not match ${"0".repeat(40)}` },
    });
    const updated = await put({
      content: Buffer.from("two").toString("base64"),
      sha: created.data.content!.sha,
      message: "update",
    });
    expect(updated.status).toBe(200);
    expect((await repo.readFile("dir/n b.txt"))?.toString()).toBe("two");
    const removed = await octokit.repos.deleteFile({
      owner,
      repo: repo.name,
      path: "dir/n b.txt",
      message: "remove",
      sha: updated.data.content!.sha!,
    });
    expect(removed.data.content).toBeNull();
    expect((await repo.log()).map((entry) => entry.message)).toEqual([
      "remove",
      "update",
      "create",
      "Initial commit",
    ]);
    expect(
      (
        await failure(
          octokit.repos.deleteFile({
            owner,
            repo: repo.name,
            path: "nope.txt",
            message: "m",
            sha: "1".repeat(40),
          }),
        )
      ).status,
    ).toBe(404);
  });

  it("starts an empty repository: the first PUT creates the default branch", async () => {
    const repo = await fresh({ empty: true, defaultBranch: "trunk" });
    const created = await octokit.repos.createOrUpdateFileContents({
      owner,
      repo: repo.name,
      path: "first.txt",
      message: "first",
      content: Buffer.from("hello").toString("base64"),
    });
    expect(created.data.commit.parents).toEqual([]);
    expect((await octokit.git.getRef({ owner, repo: repo.name, ref: "heads/trunk" })).data.object.sha).toBe(
      created.data.commit.sha,
    );
    const elsewhere = await failure(
      octokit.repos.createOrUpdateFileContents({
        owner,
        repo: repo.name,
        path: "x",
        message: "m",
        content: "",
        branch: "nope",
      }),
    );
    expect(elsewhere.status).toBe(404);
  });
});

describe("authentication and rate limits", () => {
  it("hides a private repository without a token (404), and rejects a bad token with 401 Bad credentials", async () => {
    const repo = await fresh({ private: true });
    expect((await failure(client().repos.get({ owner, repo: repo.name }))).status).toBe(404);
    const bad = await failure(client("ghp_not-a-real-token").repos.get({ owner, repo: repo.name }));
    expect(bad).toMatchObject({ status: 401, data: { message: "Bad credentials" } });
    expect(bad.message).not.toContain("ghp_not-a-real-token");
    const bearer = await client().repos.get({
      owner,
      repo: repo.name,
      headers: { authorization: `Bearer ${github.token}` },
    });
    expect(bearer.data.private).toBe(true);
  });

  it("requires a token to write (401) and push access (403 for a read-only token)", async () => {
    const repo = await fresh();
    expect(
      (await failure(client().git.createBlob({ owner, repo: repo.name, content: "x" }))).data,
    ).toMatchObject({ message: "Requires authentication" });
    const readOnly = github.issueToken({ canWrite: false });
    expect(
      (await failure(client(readOnly).git.createBlob({ owner, repo: repo.name, content: "x" }))).status,
    ).toBe(403);
  });

  it("counts requests per token and answers past the limit with 403, remaining 0 and the reset time", async () => {
    const repo = await fresh();
    const limited = await startGithubServer({ rateLimit: { authenticated: 3, status: 429 } });
    try {
      await limited.createRepo(owner, repo.name);
      const api = new Octokit({ baseUrl: limited.baseUrl, auth: limited.token, log: quiet });
      const first = await api.repos.get({ owner, repo: repo.name });
      expect(first.headers).toMatchObject({
        "x-ratelimit-limit": "3",
        "x-ratelimit-remaining": "2",
        "x-ratelimit-used": "1",
      });
      await api.repos.get({ owner, repo: repo.name });
      await api.repos.get({ owner, repo: repo.name });
      const refused = await failure(api.repos.get({ owner, repo: repo.name }));
      expect(refused.status).toBe(429);
      expect(refused.headers["x-ratelimit-remaining"]).toBe("0");
      expect(Number(refused.headers["x-ratelimit-reset"])).toBeGreaterThan(Date.now() / 1000);
      expect((refused.data as { message: string }).message).toMatch(
        /^API rate limit exceeded for user ID \d+\.$/,
      );
      const { data: rate } = await api.rateLimit.get();
      expect(rate.rate).toMatchObject({ limit: 3, remaining: 0, used: 3 });
      const other = new Octokit({ baseUrl: limited.baseUrl, auth: limited.issueToken(), log: quiet });
      expect((await other.repos.get({ owner, repo: repo.name })).status).toBe(200);
    } finally {
      await limited.stop();
    }
  });

  it("answers a secondary rate limit with 403, retry-after and budget left", async () => {
    const limited = await startGithubServer({ secondaryRateLimit: { requests: 2, retryAfterSeconds: 30 } });
    try {
      const repo = await limited.createRepo(owner, "burst");
      const api = new Octokit({ baseUrl: limited.baseUrl, auth: limited.token, log: quiet });
      await api.repos.get({ owner, repo: repo.name });
      await api.repos.get({ owner, repo: repo.name });
      const refused = await failure(api.repos.get({ owner, repo: repo.name }));
      expect(refused.status).toBe(403);
      expect(refused.headers["retry-after"]).toBe("30");
      expect(Number(refused.headers["x-ratelimit-remaining"])).toBeGreaterThan(0);
      expect((refused.data as { message: string }).message).toMatch(
        /^You have exceeded a secondary rate limit/,
      );
    } finally {
      await limited.stop();
    }
  });

  it("serves under a GitHub Enterprise style path prefix", async () => {
    const enterprise = await startGithubServer({ pathPrefix: "/api/v3" });
    try {
      await enterprise.createRepo("corp", "data");
      expect(enterprise.baseUrl.endsWith("/api/v3")).toBe(true);
      const api = new Octokit({ baseUrl: enterprise.baseUrl, auth: enterprise.token, log: quiet });
      expect((await api.repos.get({ owner: "corp", repo: "data" })).data.full_name).toBe("corp/data");
      const unknown = await failure(api.request("GET /nothing/here"));
      expect(unknown.status).toBe(404);
    } finally {
      await enterprise.stop();
    }
  });
});
