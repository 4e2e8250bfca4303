/**
 * Change detection in the directions the model test (local → each system) does not take: cloud →
 * local, cloud → cloud, from and to GitHub, and a local file whose mtime cannot be trusted. Each
 * case edits a file keeping its size — the edit a size check misses — and expects the copy to carry it.
 */
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { copy, createStorage, local, PluginRegistry, parseLocation } from "@ferry/core";
import type { Storage } from "@ferry/plugin-kit";
import { azure } from "@ferry/storage-azure";
import { github } from "@ferry/storage-github";
import { s3 } from "@ferry/storage-s3";
import {
  type AzuriteBackend,
  type GithubBackend,
  type S3Backend,
  startAzurite,
  startGithubServer,
  startS3rver,
} from "@ferry/test-harness";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

let s3Server: S3Backend;
let azurite: AzuriteBackend;
let githubServer: GithubBackend;
let work: string;

beforeAll(async () => {
  [s3Server, azurite, githubServer] = await Promise.all([startS3rver(), startAzurite(), startGithubServer()]);
});
afterAll(() => Promise.all([s3Server?.stop(), azurite?.stop(), githubServer?.stop()]));
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), "ferry-change-"));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

const registry = () => new PluginRegistry({ lazy: false }).use(local());

async function bucket(): Promise<Storage> {
  const name = await s3Server.createBucket();
  const plugin = s3({
    endpoint: s3Server.endpoint,
    region: s3Server.region,
    credentials: { ...s3Server.credentials },
    capabilities: { conditionalWrite: false },
  });
  return createStorage(await plugin.create(parseLocation(`s3://${name}`)));
}

async function container(): Promise<Storage> {
  const name = await azurite.createContainer();
  const plugin = azure({ connectionString: azurite.connectionString });
  return createStorage(await plugin.create(parseLocation(`az://${name}`)));
}

async function repository(): Promise<{ storage: Storage; commits: () => Promise<number> }> {
  const name = `change-${process.pid}-${Math.floor(performance.now())}`;
  const repo = await githubServer.createRepo("octo", name, { files: {} });
  const plugin = github({ baseUrl: githubServer.baseUrl, token: githubServer.token });
  return {
    storage: createStorage(await plugin.create(parseLocation(`github://octo/${name}`))),
    commits: async () => (await repo.log()).length,
  };
}

const text = async (storage: Storage, key: string) => new TextDecoder().decode(await storage.readBytes(key));

/**
 * Past two whole-second boundaries: a time kept in whole seconds then differs from one taken before
 * by more than the 1 s within which two times count as equal. (Within it, a same-sized replacement
 * is invisible to any time rule: the documented limit.)
 */
async function pastPrecision(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 2001 - (Date.now() % 1000)));
}

describe("change detection, every direction", () => {
  it("S3 → local: an object replaced by one of the same size is copied again", async () => {
    const source = await bucket();
    await source.write("d/a.txt", "version 1");
    const destination = join(work, "out");
    expect((await copy({ storage: source, path: "d" }, destination, { registry: registry() })).copied).toBe(
      1,
    );
    await pastPrecision();
    await source.write("d/a.txt", "version 2");
    const again = await copy({ storage: source, path: "d" }, destination, { registry: registry() });
    expect(again.plan.map((action) => [action.path, action.action, action.reason])).toEqual([
      ["a.txt", "copy", "modified time differs"],
    ]);
    expect(readFileSync(join(destination, "a.txt"), "utf8")).toBe("version 2");
    const third = await copy({ storage: source, path: "d" }, destination, { registry: registry() });
    expect([third.copied, third.skipped]).toEqual([0, 1]);
  });

  it("S3 → Azure: the MD5s both listings carry decide, edit or not", async () => {
    const [source, destination] = await Promise.all([bucket(), container()]);
    await source.write("a.txt", "version 1");
    await copy({ storage: source, path: "" }, { storage: destination, path: "" });
    await source.write("a.txt", "version 2");
    const again = await copy({ storage: source, path: "" }, { storage: destination, path: "" });
    expect(again.plan.map((action) => action.reason)).toEqual(["hash differs"]);
    expect(await text(destination, "a.txt")).toBe("version 2");
    const third = await copy({ storage: source, path: "" }, { storage: destination, path: "" });
    expect(third.plan.map((action) => action.reason)).toEqual(["same size and hash"]);
  });

  it("local → S3: a file moved over the copied one with an older mtime is copied (its ctime is new)", async () => {
    const destination = await bucket();
    const dir = join(work, "src");
    mkdirSync(dir);
    writeFileSync(join(dir, "a.txt"), "version 1");
    await copy(dir, { storage: destination, path: "" }, { registry: registry() });
    // An older file of the same size, as `cp -p` or `tar -x` leave it, moved into place.
    writeFileSync(join(work, "older.txt"), "version 0");
    const hourAgo = Date.now() / 1000 - 3600;
    utimesSync(join(work, "older.txt"), hourAgo, hourAgo);
    renameSync(join(work, "older.txt"), join(dir, "a.txt"));
    const again = await copy(dir, { storage: destination, path: "" }, { registry: registry() });
    expect(again.plan.map((action) => action.reason)).toEqual(["source newer than the destination"]);
    expect(await text(destination, "a.txt")).toBe("version 0");
  });

  it("local → GitHub: a same-sized edit is committed; an unchanged tree makes no commit", async () => {
    const { storage, commits } = await repository();
    const dir = join(work, "src");
    mkdirSync(dir);
    writeFileSync(join(dir, "a.txt"), "version 1");
    await copy(dir, { storage, path: "" }, { registry: registry() });
    writeFileSync(join(dir, "a.txt"), "version 2");
    const again = await copy(dir, { storage, path: "" }, { registry: registry() });
    expect(again.plan.map((action) => action.reason)).toEqual(["git blob id differs"]);
    expect(await text(storage, "a.txt")).toBe("version 2");
    const before = await commits();
    const third = await copy(dir, { storage, path: "" }, { registry: registry() });
    expect(third.plan.map((action) => action.reason)).toEqual(["same size and git blob id"]);
    expect(await commits()).toBe(before);
  });

  it("local → GitHub with checksum: no MD5 in common, so the git blob ids decide (not size alone)", async () => {
    const { storage } = await repository();
    const dir = join(work, "src");
    mkdirSync(dir);
    writeFileSync(join(dir, "a.txt"), "version 1");
    await copy(dir, { storage, path: "" }, { registry: registry(), checksum: true });
    writeFileSync(join(dir, "a.txt"), "version 2");
    const again = await copy(dir, { storage, path: "" }, { registry: registry(), checksum: true });
    expect(again.plan.map((action) => action.reason)).toEqual(["git blob id differs"]);
    expect(again.notes.join("\n")).toContain("no MD5 in common");
    expect(await text(storage, "a.txt")).toBe("version 2");
  });

  it("GitHub → local: a same-sized edit in the repository reaches the local copy", async () => {
    const { storage } = await repository();
    await storage.write("a.txt", "version 1");
    const destination = join(work, "out");
    await copy({ storage, path: "" }, destination, { registry: registry() });
    await storage.write("a.txt", "version 2");
    const again = await copy({ storage, path: "" }, destination, { registry: registry() });
    expect(again.plan.map((action) => action.reason)).toEqual(["git blob id differs"]);
    expect(readFileSync(join(destination, "a.txt"), "utf8")).toBe("version 2");
    const third = await copy({ storage, path: "" }, destination, { registry: registry() });
    expect(third.plan.map((action) => action.reason)).toEqual(["same size and git blob id"]);
  });
});
