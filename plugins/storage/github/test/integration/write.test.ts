/** Writing: one commit per batch, fast-forward-only ref updates, server-side copy and move, read-only refs. */
import { FerryError } from "@ferry/plugin-kit";
import { describe, expect, it } from "vitest";
import { githubDriver } from "../../src/index.ts";
import { commitCount, failure, filesAt, openStorage, repoName, text, useGithubServer } from "../fixture.ts";

const server = useGithubServer();

async function seeded(
  files: Record<string, string> = { "keep.txt": "keep", "old/a.txt": "a", "old/b.txt": "b" },
) {
  const name = repoName("write");
  const repo = await server.backend.createRepo("octo", name, { files });
  return { name, repo };
}

describe("commits", () => {
  it("a batch of puts and deletes is exactly one new commit, with the given message and author", async () => {
    const { name, repo } = await seeded();
    const storage = await openStorage(server.backend, `github://octo/${name}@main`, {
      author: { name: "Ferry Bot", email: "bot@example.com" },
    });
    const before = commitCount(repo);
    const result = await githubDriver(storage).batch(
      async (tx) => {
        await Promise.all([
          tx.write("new/one.txt", "1"),
          tx.write("new/two.bin", new Uint8Array([0, 255, 7])),
        ]);
        tx.delete(["old/a.txt", "does-not-exist.txt"]);
        tx.write("keep.txt", "replaced");
      },
      { message: "Add data, drop old/a.txt" },
    );
    expect(commitCount(repo)).toBe(before + 1);
    const [head] = await repo.log();
    expect(head).toMatchObject({ sha: result.commit, message: "Add data, drop old/a.txt" });
    expect((await repo.readCommit(head!.sha)).author).toMatchObject({
      name: "Ferry Bot",
      email: "bot@example.com",
    });
    expect(filesAt(repo)).toEqual(["keep.txt", "new/one.txt", "new/two.bin", "old/b.txt"]);
    expect((await repo.readFile("keep.txt"))?.toString()).toBe("replaced");
    expect([...((await repo.readFile("new/two.bin")) ?? [])]).toEqual([0, 255, 7]);
    // The writer sees its own commit at once.
    expect(await text(storage, "keep.txt")).toBe("replaced");
  });

  it("a batch callback may take the transaction's methods apart ({ write, delete, copy, move })", async () => {
    const { name, repo } = await seeded();
    const storage = await openStorage(server.backend, `github://octo/${name}@main`);
    const before = commitCount(repo);
    await githubDriver(storage).batch(async ({ write, delete: remove, copy, move, deleteDirectory }) => {
      await write("fresh.txt", "fresh");
      remove("old/a.txt");
      copy("keep.txt", "copied.txt");
      move("old/b.txt", "moved.txt");
      deleteDirectory("nothing-here");
    });
    expect(commitCount(repo)).toBe(before + 1);
    expect(filesAt(repo)).toEqual(["copied.txt", "fresh.txt", "keep.txt", "moved.txt"]);
  });

  it("single writes and deletes make one commit each; deleting nothing makes none", async () => {
    const { name, repo } = await seeded();
    const storage = await openStorage(server.backend, `github://octo/${name}`, {
      commitMessage: (summary) => `ferry: ${summary.written.length}+ ${summary.deleted.length}-`,
    });
    const before = commitCount(repo);
    await storage.write("x.txt", "x");
    await storage.delete(["old/a.txt", "old/b.txt"]);
    expect(commitCount(repo)).toBe(before + 2);
    await storage.delete("no/such/file.txt");
    expect(commitCount(repo)).toBe(before + 2);
    expect((await repo.log()).slice(0, 2).map((entry) => entry.message)).toEqual([
      "ferry: 0+ 2-",
      "ferry: 1+ 0-",
    ]);
    await storage.deleteDirectory("old");
    expect(commitCount(repo)).toBe(before + 2);
    expect(filesAt(repo)).toEqual(["keep.txt", "x.txt"]);
  });

  it("a batch whose callback throws commits nothing, even after its uploads finished", async () => {
    const { name, repo } = await seeded();
    const storage = await openStorage(server.backend, `github://octo/${name}`);
    const error = await githubDriver(storage)
      .batch(async (tx) => {
        await tx.write("half.txt", "uploaded");
        tx.delete("keep.txt");
        throw new Error("changed my mind");
      })
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe("changed my mind");
    expect(commitCount(repo)).toBe(1);
    expect(filesAt(repo)).toEqual(["keep.txt", "old/a.txt", "old/b.txt"]);
  });

  it("deleteDirectory removes a subtree in one commit", async () => {
    const { name, repo } = await seeded({ "d/a.txt": "a", "d/e/b.txt": "b", "z.txt": "z" });
    const storage = await openStorage(server.backend, `github://octo/${name}`);
    const before = commitCount(repo);
    await storage.deleteDirectory("d");
    expect(commitCount(repo)).toBe(before + 1);
    expect(filesAt(repo)).toEqual(["z.txt"]);
  });

  it("copy points a new tree entry at the same blob (no upload) and move renames in one commit", async () => {
    const { name, repo } = await seeded({ "src/data.bin": "payload" });
    const storage = await openStorage(server.backend, `github://octo/${name}`);
    const source = await storage.stat("src/data.bin");
    const logStart = server.backend.logs().length;
    const copied = await storage.copy("src/data.bin", "copy/data.bin");
    expect(copied.etag).toBe(source.etag);
    expect(server.backend.logs().slice(logStart)).not.toMatch(/POST \/repos\/octo\/[^/]+\/git\/blobs/);
    const before = commitCount(repo);
    const moved = await storage.move("copy/data.bin", "moved/data.bin");
    expect(moved.etag).toBe(source.etag);
    expect(commitCount(repo)).toBe(before + 1);
    expect(filesAt(repo)).toEqual(["moved/data.bin", "src/data.bin"]);
  });

  it("keeps an executable file executable when its content is replaced", async () => {
    const { name, repo } = await seeded({ "run.sh": "#!/bin/sh\n" });
    // Make run.sh executable with plumbing: a tree entry with mode 100755.
    const head = (await repo.log())[0]!.sha;
    const blob = (await repo.git.entryAt(head, "run.sh"))!.sha;
    const tree = await repo.git.writeTree([{ mode: "100755", type: "blob", sha: blob, path: "run.sh" }]);
    const author = { name: "t", email: "t@example.com", date: "2026-01-01T00:00:00Z" };
    const commit = await repo.git.writeCommit({
      tree,
      parents: [head],
      author,
      committer: author,
      message: "chmod +x",
    });
    await repo.git.updateRef("refs/heads/main", commit, head);
    const storage = await openStorage(server.backend, `github://octo/${name}`);
    await storage.write("run.sh", "#!/bin/sh\necho hi\n");
    expect((await repo.git.entryAt("main", "run.sh"))?.mode).toBe("100755");
  });
});

describe("concurrent writers", () => {
  it("a push that lands between reading and committing makes the batch ConditionNotMet, losing nothing", async () => {
    const { name, repo } = await seeded();
    const writer = await openStorage(server.backend, `github://octo/${name}`);
    const base = (await repo.log())[0]!.sha;
    // Someone else pushes after the writer decided what to commit.
    const theirs = await repo.commit({ files: { "theirs.txt": "theirs" }, message: "their push" });
    const error = await failure(
      githubDriver(writer).batch((tx) => tx.write("mine.txt", "mine").then(() => undefined), {
        baseCommit: base,
      }),
    );
    expect(error.code).toBe("ConditionNotMet");
    expect(error.message).toMatch(/moved/);
    expect((await repo.log())[0]!.sha).toBe(theirs);
    expect(filesAt(repo)).toContain("theirs.txt");
    expect(filesAt(repo)).not.toContain("mine.txt");
  });

  it("two writers racing from the same base: exactly one commit lands, the other is ConditionNotMet", async () => {
    const { name, repo } = await seeded();
    const [left, right] = await Promise.all([
      openStorage(server.backend, `github://octo/${name}`),
      openStorage(server.backend, `github://octo/${name}`),
    ]);
    const base = (await repo.log())[0]!.sha;
    const results = await Promise.allSettled([
      githubDriver(left).batch(async (tx) => void (await tx.write("left.txt", "L")), { baseCommit: base }),
      githubDriver(right).batch(async (tx) => void (await tx.write("right.txt", "R")), { baseCommit: base }),
    ]);
    const won = results.filter((result) => result.status === "fulfilled");
    const lost = results.filter((result): result is PromiseRejectedResult => result.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(FerryError.isInstance(lost[0]!.reason, "ConditionNotMet")).toBe(true);
    expect(commitCount(repo)).toBe(2);
    expect(filesAt(repo).filter((path) => path === "left.txt" || path === "right.txt")).toHaveLength(1);
  });

  it("writers racing without a pinned base never lose an acknowledged write", async () => {
    const { name, repo } = await seeded();
    const writers = await Promise.all(
      [1, 2, 3].map(() => openStorage(server.backend, `github://octo/${name}`)),
    );
    const attempts = writers.flatMap((storage, writer) =>
      [0, 1, 2].map((index) => ({ storage, path: `w${writer}/${index}.txt` })),
    );
    const results = await Promise.allSettled(attempts.map(({ storage, path }) => storage.write(path, path)));
    const landed = attempts
      .filter((_, index) => results[index]!.status === "fulfilled")
      .map(({ path }) => path);
    for (const result of results) {
      if (result.status === "rejected")
        expect(FerryError.isInstance(result.reason, "ConditionNotMet")).toBe(true);
    }
    expect(landed.length).toBeGreaterThan(0);
    expect(commitCount(repo)).toBe(1 + landed.length);
    const files = filesAt(repo);
    for (const path of landed) expect(files).toContain(path);
  });

  it("parallel writes through one storage are queued into consecutive commits, none refused", async () => {
    const { name, repo } = await seeded();
    const storage = await openStorage(server.backend, `github://octo/${name}`);
    await Promise.all(
      Array.from({ length: 6 }, (_, index) => storage.write(`p/${index}.txt`, String(index))),
    );
    expect(commitCount(repo)).toBe(7);
    expect(filesAt(repo).filter((path) => path.startsWith("p/"))).toHaveLength(6);
  });
});

describe("an empty repository", () => {
  it("gets its first commit from the first write (through the contents API), then commits as usual", async () => {
    const name = repoName("empty");
    const repo = await server.backend.createRepo("octo", name, { empty: true, defaultBranch: "trunk" });
    const storage = await openStorage(server.backend, `github://octo/${name}`);
    const entry = await storage.write("data/first.txt", "first", { ifNoneMatch: "*" });
    expect(entry).toMatchObject({ path: "data/first.txt", size: 5 });
    expect(commitCount(repo, "trunk")).toBe(1);
    expect(await text(storage, "data/first.txt")).toBe("first");
    await storage.write("data/second.txt", "second");
    expect(commitCount(repo, "trunk")).toBe(2);
    expect(filesAt(repo, "trunk")).toEqual(["data/first.txt", "data/second.txt"]);
  });

  it("a batch on an empty repository: the first file starts it, the rest is one more commit", async () => {
    const name = repoName("empty");
    const repo = await server.backend.createRepo("octo", name, { empty: true });
    const storage = await openStorage(server.backend, `github://octo/${name}@main`);
    const result = await githubDriver(storage).batch(
      async (tx) => {
        await tx.write("a.txt", "a");
        await Promise.all([tx.write("b.txt", "b"), tx.write("c/d.txt", "d")]);
        tx.delete("nothing-here.txt");
      },
      { message: "seed" },
    );
    expect(commitCount(repo)).toBe(2);
    expect((await repo.log()).map((commit) => commit.message)).toEqual(["seed", "seed"]);
    expect((await repo.log())[0]!.sha).toBe(result.commit);
    expect(filesAt(repo)).toEqual(["a.txt", "b.txt", "c/d.txt"]);
  });

  it("deleting in an empty repository is a no-op; copying from it is NotFound", async () => {
    const name = repoName("empty");
    await server.backend.createRepo("octo", name, { empty: true });
    const storage = await openStorage(server.backend, `github://octo/${name}`);
    await storage.delete(["a.txt"]);
    expect((await failure(storage.copy("a.txt", "b.txt"))).code).toBe("NotFound");
  });
});

describe("what cannot be written", () => {
  it("refuses writes at a tag or a commit sha, naming the ref", async () => {
    const { name, repo } = await seeded();
    await repo.tag("v1", "main");
    const atTag = await openStorage(server.backend, `github://octo/${name}@v1`);
    const tagError = await failure(atTag.write("x.txt", "x"));
    expect(tagError.code).toBe("Unsupported");
    expect(tagError.message).toContain(`octo/${name}@v1 is a tag; only branches are writable`);
    const sha = (await repo.log())[0]!.sha;
    const atSha = await openStorage(server.backend, `github://octo/${name}@${sha}`);
    expect((await failure(atSha.write("x.txt", "x"))).code).toBe("Unsupported");
    expect(commitCount(repo)).toBe(1);
  });

  it("a token without push access is PermissionDenied and commits nothing", async () => {
    const { name, repo } = await seeded();
    const storage = await openStorage(server.backend, `github://octo/${name}`, {
      token: server.backend.issueToken({ canWrite: false }),
    });
    expect(await text(storage, "keep.txt")).toBe("keep");
    expect((await failure(storage.write("x.txt", "x"))).code).toBe("PermissionDenied");
    expect(commitCount(repo)).toBe(1);
  });

  it("a write to a missing branch names it", async () => {
    const { name } = await seeded();
    const storage = await openStorage(server.backend, `github://octo/${name}@nope`);
    const error = await failure(storage.write("x.txt", "x"));
    expect(error.code).toBe("NotFound");
    expect(error.message).toContain('ref "nope"');
  });
});
