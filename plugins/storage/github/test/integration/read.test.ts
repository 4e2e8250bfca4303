/** Reading repositories at a branch, tag or commit; truncated trees; auth, rate limits and missing things as typed errors. */
import { createHash } from "node:crypto";
import { createStorage, PluginRegistry, parseLocation } from "@ferry/core";
import { FerryError } from "@ferry/plugin-kit";
import { startGithubServer } from "@ferry/test-harness";
import { Octokit } from "@octokit/rest";
import { describe, expect, it } from "vitest";
import { github } from "../../src/index.ts";
import { failure, listPaths, openStorage, repoName, text, useGithubServer } from "../fixture.ts";

const server = useGithubServer();

describe("reading a folder at a ref", () => {
  it("lists and reads the same folder at a branch, a tag and a commit sha", async () => {
    const name = repoName();
    const repo = await server.backend.createRepo("octo", name, {
      files: { "data/a.txt": "a1", "data/sub/b.txt": "b1", "other.txt": "o" },
    });
    const first = (await repo.log())[0]!.sha;
    await repo.tag("v1", first, { message: "first release" });
    await repo.commit({ files: { "data/a.txt": "a2", "data/c.txt": "c2" }, message: "second" });

    const atBranch = await openStorage(server.backend, `github://octo/${name}@main/data`);
    const atTag = await openStorage(server.backend, `github://octo/${name}@v1`);
    const atSha = await openStorage(server.backend, `https://github.com/octo/${name}/tree/${first}/data`);

    expect(await listPaths(atBranch, "data")).toEqual(["data/a.txt", "data/c.txt", "data/sub/b.txt"]);
    expect(await listPaths(atTag, "data")).toEqual(["data/a.txt", "data/sub/b.txt"]);
    expect(await listPaths(atSha, "data")).toEqual(["data/a.txt", "data/sub/b.txt"]);
    expect(await text(atBranch, "data/a.txt")).toBe("a2");
    expect(await text(atTag, "data/a.txt")).toBe("a1");
    expect(await text(atSha, "data/a.txt")).toBe("a1");

    const level: [string, string][] = [];
    for await (const entry of atBranch.list("data")) level.push([entry.path, entry.kind]);
    expect(level).toEqual([
      ["data/a.txt", "file"],
      ["data/c.txt", "file"],
      ["data/sub", "directory"],
    ]);
    const stat = await atTag.stat("data/a.txt");
    const blobSha = createHash("sha1").update("blob 2\0a1").digest("hex");
    expect(stat).toMatchObject({ kind: "file", size: 2, etag: blobSha });
    expect(await atTag.checksum("data/a.txt", "git-sha1")).toBe(blobSha);
    expect(atSha.capabilities.write).toBe(false);
  });

  it("falls back to walking subtrees when GitHub truncates the recursive tree", async () => {
    const name = repoName();
    const files: Record<string, string> = {};
    for (let dir = 0; dir < 3; dir += 1)
      for (let file = 0; file < 4; file += 1) files[`d${dir}/f${file}.txt`] = `${dir}-${file}`;
    await server.backend.createRepo("octo", name, { files });
    const storage = await openStorage(server.backend, `github://octo/${name}`);
    const before = server.backend.logs().length;
    server.backend.settings.treeEntryLimit = 5;
    try {
      expect(await listPaths(storage)).toEqual(Object.keys(files).sort());
    } finally {
      server.backend.settings.treeEntryLimit = 100_000;
    }
    const requests = server.backend.logs().slice(before);
    // One recursive request came back truncated; the walk then fetched each subtree without `recursive`.
    expect(requests).toMatch(/git\/trees\/[0-9a-f]{40}\?recursive=1 -> 200/);
    expect(requests.match(/git\/trees\/[0-9a-f]{40} -> 200/g)?.length).toBeGreaterThanOrEqual(3);
    expect(await text(storage, "d2/f3.txt")).toBe("2-3");
  });

  it("streams files larger than the contents API serves inline, and slices ranges", async () => {
    const name = repoName();
    const big = new Uint8Array(3 * 1024 * 1024).map((_, index) => (index * 31) % 251);
    await server.backend.createRepo("octo", name, { files: { "big.bin": big } });
    const storage = await openStorage(server.backend, `github://octo/${name}`);
    const bytes = await storage.readBytes("big.bin");
    expect(bytes.byteLength).toBe(big.byteLength);
    expect(Buffer.compare(Buffer.from(bytes), Buffer.from(big))).toBe(0);
    const slice = await storage.readBytes("big.bin", { range: { offset: 1_000_000, length: 10 } });
    expect([...slice]).toEqual([...big.subarray(1_000_000, 1_000_010)]);
    expect(storage.capabilities.rangeRead).toBe(false);
  });

  it("resolves github:// locations through the registry by scheme", async () => {
    const name = repoName();
    await server.backend.createRepo("octo", name, { files: { "x/y.txt": "y" } });
    const registry = new PluginRegistry({ lazy: false }).use(
      github({ baseUrl: server.backend.baseUrl, token: server.backend.token }),
    );
    const { storage, path } = await registry.resolve(`github://octo/${name}/x/y.txt`);
    expect(await text(storage, path)).toBe("y");
    await registry.close();
  });
});

describe("configuration", () => {
  it("takes the token from GITHUB_TOKEN, then GH_TOKEN, when none is given", async () => {
    const name = repoName();
    await server.backend.createRepo("octo", name, { private: true, files: { "p.txt": "p" } });
    const saved = { GITHUB_TOKEN: process.env.GITHUB_TOKEN, GH_TOKEN: process.env.GH_TOKEN };
    try {
      delete process.env.GITHUB_TOKEN;
      process.env.GH_TOKEN = server.backend.token;
      const viaGh = createStorage(
        await github({ baseUrl: server.backend.baseUrl }).create(parseLocation(`github://octo/${name}`)),
      );
      expect(await text(viaGh, "p.txt")).toBe("p");
      process.env.GITHUB_TOKEN = server.backend.token;
      process.env.GH_TOKEN = "ghp_wrong";
      const viaGithub = createStorage(
        await github({ baseUrl: server.backend.baseUrl }).create(parseLocation(`github://octo/${name}`)),
      );
      expect(await text(viaGithub, "p.txt")).toBe("p");
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

  it("uses the caller's own Octokit, and a GitHub Enterprise style base URL", async () => {
    const enterprise = await startGithubServer({ pathPrefix: "/api/v3" });
    try {
      const name = repoName();
      await enterprise.createRepo("corp", name, { files: { "e.txt": "enterprise" } });
      const octokit = new Octokit({ baseUrl: enterprise.baseUrl, auth: enterprise.token });
      const storage = createStorage(await github({ octokit }).create(parseLocation(`github://corp/${name}`)));
      expect(await text(storage, "e.txt")).toBe("enterprise");
      await storage.write("f.txt", "written");
      expect((await enterprise.repo("corp", name)!.readFile("f.txt"))?.toString()).toBe("written");
    } finally {
      await enterprise.stop();
    }
  });
});

describe("caching and limits", () => {
  it("reuses a branch's resolved commit for treeCacheTtl; 0 sees a push from elsewhere at once", async () => {
    const name = repoName();
    const repo = await server.backend.createRepo("octo", name, { files: { "v.txt": "1" } });
    const cached = await openStorage(server.backend, `github://octo/${name}`, { treeCacheTtl: 3_600_000 });
    const fresh = await openStorage(server.backend, `github://octo/${name}`, { treeCacheTtl: 0 });
    expect(await text(cached, "v.txt")).toBe("1");
    expect(await text(fresh, "v.txt")).toBe("1");
    await repo.commit({ files: { "v.txt": "2" } });
    expect(await text(cached, "v.txt")).toBe("1");
    expect(await text(fresh, "v.txt")).toBe("2");
  });

  it("a file larger than the blobs API serves is Unsupported, naming it", async () => {
    const limited = await startGithubServer({ blobMaxBytes: 1024 });
    try {
      const name = repoName();
      await limited.createRepo("octo", name, { files: { "huge.bin": new Uint8Array(2048) } });
      const storage = await openStorage(limited, `github://octo/${name}`);
      expect((await storage.stat("huge.bin")).size).toBe(2048);
      const error = await failure(storage.readBytes("huge.bin"));
      expect(error.code).toBe("Unsupported");
      expect(error.message).toContain(`octo/${name}/huge.bin`);
    } finally {
      await limited.stop();
    }
  });
});

describe("auth, limits and missing things", () => {
  it("reads a private repository with a token and reports it as not found without one", async () => {
    const name = repoName();
    await server.backend.createRepo("octo", name, { private: true, files: { "secret.txt": "s" } });
    expect(await text(await openStorage(server.backend, `github://octo/${name}`), "secret.txt")).toBe("s");
    // No token option and none in the environment: an anonymous client.
    const saved = { GITHUB_TOKEN: process.env.GITHUB_TOKEN, GH_TOKEN: process.env.GH_TOKEN };
    delete process.env.GITHUB_TOKEN;
    delete process.env.GH_TOKEN;
    const withoutToken = createStorage(
      await github({ baseUrl: server.backend.baseUrl }).create(parseLocation(`github://octo/${name}`)),
    );
    Object.assign(
      process.env,
      Object.fromEntries(Object.entries(saved).filter(([, value]) => value !== undefined)),
    );
    const error = await failure(withoutToken.readBytes("secret.txt"));
    expect(error.code).toBe("NotFound");
    expect(error.message).toContain(`octo/${name}`);
    expect(error.message).toMatch(/private/);
  });

  it("maps a bad token to PermissionDenied without echoing it", async () => {
    const name = repoName();
    await server.backend.createRepo("octo", name);
    const token = "ghp_this-token-is-wrong";
    const storage = await openStorage(server.backend, `github://octo/${name}`, { token });
    const error = await failure(storage.stat("README.md"));
    expect(error.code).toBe("PermissionDenied");
    expect(error.message).toMatch(/bad credentials/);
    expect(error.message).not.toContain(token);
    expect(JSON.stringify(error.toJSON())).not.toContain(token);
  });

  it("maps an exhausted rate limit to Transient with the reset time", async () => {
    const limited = await startGithubServer({ rateLimit: { authenticated: 4 } });
    try {
      const name = repoName();
      await limited.createRepo("octo", name, { files: { "a.txt": "a" } });
      const storage = await openStorage(limited, `github://octo/${name}`, { treeCacheTtl: 0 });
      let error: FerryError | undefined;
      for (let attempt = 0; attempt < 10 && !error; attempt += 1) {
        try {
          await storage.stat("a.txt");
        } catch (caught) {
          if (!FerryError.isInstance(caught)) throw caught;
          error = caught;
        }
      }
      expect(error?.code).toBe("Transient");
      expect(error?.retryable).toBe(true);
      expect(error?.retryAfter?.getTime()).toBeGreaterThan(Date.now());
      expect(error?.message).toContain(error!.retryAfter!.toISOString());
      expect(error?.message).toMatch(/rate limit \(4 requests per hour\) exceeded/);
    } finally {
      await limited.stop();
    }
  });

  it("maps a secondary rate limit to Transient, retrying after GitHub's retry-after", async () => {
    const limited = await startGithubServer({ secondaryRateLimit: { requests: 2, retryAfterSeconds: 120 } });
    try {
      const name = repoName();
      await limited.createRepo("octo", name, { files: { "a.txt": "a" } });
      const storage = await openStorage(limited, `github://octo/${name}`, { treeCacheTtl: 0 });
      const before = Date.now();
      let error: FerryError | undefined;
      for (let attempt = 0; attempt < 5 && !error; attempt += 1)
        error = await storage.stat("a.txt").then(
          () => undefined,
          (caught: FerryError) => caught,
        );
      expect(error?.code).toBe("Transient");
      expect(error?.message).toMatch(/secondary rate limit exceeded/);
      expect(error!.retryAfter!.getTime()).toBeGreaterThanOrEqual(before + 120_000);
    } finally {
      await limited.stop();
    }
  });

  it("names the missing repository, the missing ref and the missing path", async () => {
    const name = repoName();
    await server.backend.createRepo("octo", name, { files: { "a.txt": "a" } });
    const missingRepo = await failure(
      (await openStorage(server.backend, "github://octo/no-such-repo")).stat("a.txt"),
    );
    expect(missingRepo.code).toBe("NotFound");
    expect(missingRepo.message).toContain("repository octo/no-such-repo");
    const missingRef = await failure(
      (await openStorage(server.backend, `github://octo/${name}@no-such-branch`)).readBytes("a.txt"),
    );
    expect(missingRef.code).toBe("NotFound");
    expect(missingRef.message).toContain('ref "no-such-branch"');
    expect(missingRef.message).toContain(`octo/${name}`);
    const missingPath = await failure(
      (await openStorage(server.backend, `github://octo/${name}@main`)).readBytes("nope/b.txt"),
    );
    expect(missingPath.code).toBe("NotFound");
    expect(missingPath.message).toContain(`octo/${name}@main/nope/b.txt`);
    const listing = await failure(listPaths(await openStorage(server.backend, "github://octo/no-such-repo")));
    expect(listing.code).toBe("NotFound");
  });

  it("reports an empty repository (no commits) as NotFound saying so", async () => {
    const name = repoName();
    await server.backend.createRepo("octo", name, { empty: true });
    const error = await failure((await openStorage(server.backend, `github://octo/${name}`)).stat("a.txt"));
    expect(error.code).toBe("NotFound");
    expect(error.message).toMatch(/empty/);
  });
});
