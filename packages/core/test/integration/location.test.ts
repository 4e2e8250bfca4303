import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { childLocation, FerryError } from "@ferry/plugin-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PluginRegistry, parseLocation } from "../../src/index.ts";

// The first-party plugins read their own grammars; the registry loads each one as a location names it.
const registry = new PluginRegistry();
const locate = (input: Parameters<typeof parseLocation>[0]) => registry.locate(input);

async function expectInvalid(input: Parameters<typeof parseLocation>[0], fragment: RegExp): Promise<void> {
  try {
    await locate(input);
  } catch (error) {
    expect(FerryError.isInstance(error, "InvalidInput")).toBe(true);
    expect((error as Error).message).toMatch(fragment);
    return;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be refused`);
}

describe("local paths", () => {
  it("absolute, relative, file:// and ~ all become file locations rooted at /", () => {
    expect(parseLocation("/data/x")).toMatchObject({
      system: "file",
      root: "/",
      path: "data/x",
      url: "file:///data/x",
    });
    expect(parseLocation("./a/b", { cwd: "/srv/project" })).toMatchObject({
      system: "file",
      path: "srv/project/a/b",
    });
    expect(parseLocation("a/../b", { cwd: "/srv" })).toMatchObject({ path: "srv/b" });
    expect(parseLocation("file:///tmp/with%20space")).toMatchObject({ path: "tmp/with space" });
    expect(parseLocation("~/notes").path).toBe(join(homedir(), "notes").slice(1));
    expect(parseLocation({ system: "file", path: "/tmp/x" })).toMatchObject({
      system: "file",
      path: "tmp/x",
    });
  });

  it("a relative file:// URL is refused", async () => {
    await expectInvalid("file://relative/path", /must be absolute/);
  });

  it("an empty location is refused", async () => {
    await expectInvalid("", /empty/);
    await expectInvalid("   ", /empty/);
  });
});

describe("object stores", () => {
  it("s3 and gs keep keys literally", async () => {
    expect(await locate("s3://my-bucket/a b/%41.txt")).toMatchObject({
      system: "s3",
      root: "my-bucket",
      bucket: "my-bucket",
      path: "a b/%41.txt",
    });
    expect(await locate("gs://data.example/x/")).toMatchObject({
      system: "gs",
      bucket: "data.example",
      path: "x",
    });
    expect(await locate("gcs://bucket1")).toMatchObject({ system: "gs", path: "" });
    expect(await locate({ system: "s3", path: "bucket1/ds/bert" })).toMatchObject({
      bucket: "bucket1",
      path: "ds/bert",
    });
  });

  it("malformed bucket names and credentials in URLs are refused without echoing secrets", async () => {
    await expectInvalid("s3://", /no bucket/);
    await expectInvalid("s3://Upper_Case/x", /invalid bucket name/);
    await expectInvalid("s3://ab/x", /invalid bucket name/);
    try {
      await locate("s3://AKIAEXAMPLE:s3cr3t@bucket/x");
      throw new Error("accepted credentials");
    } catch (error) {
      expect(FerryError.isInstance(error, "InvalidInput")).toBe(true);
      expect(String((error as Error).message)).not.toContain("s3cr3t");
      expect(String((error as FerryError).path)).not.toContain("s3cr3t");
    }
  });

  it("key segments . and .. are refused", async () => {
    await expectInvalid("s3://bucket1/a/../../etc/passwd", /may not leave their root/);
    await expectInvalid("gs://bucket1/./x", /may not leave their root/);
  });

  it("azure containers, accounts from https URLs", async () => {
    expect(await locate("az://my-container/p/q")).toMatchObject({
      system: "az",
      container: "my-container",
      path: "p/q",
    });
    expect(await locate("https://acct1.blob.core.windows.net/cont/x/y")).toMatchObject({
      system: "az",
      account: "acct1",
      container: "cont",
      path: "x/y",
    });
    expect(await locate({ system: "azure", path: "cont/a", account: "acct1" })).toMatchObject({
      account: "acct1",
    });
    await expectInvalid("az://Bad--Name/x", /invalid container name/);
    await expectInvalid("az://key@container/x", /account comes from options/);
  });
});

describe("github", () => {
  it("github:// with and without a ref", async () => {
    expect(await locate("github://octo/hello@v1.0/docs/a.md")).toMatchObject({
      system: "github",
      owner: "octo",
      repo: "hello",
      ref: "v1.0",
      root: "octo/hello@v1.0",
      path: "docs/a.md",
    });
    const noRef = await locate("github://octo/hello");
    expect(noRef.ref).toBeUndefined();
    expect(noRef.root).toBe("octo/hello");
    expect((await locate("github://octo/hello@feature%2Fx/a")).ref).toBe("feature/x");
  });

  it("https://github.com tree and blob URLs", async () => {
    expect(await locate("https://github.com/octo/hello/tree/main/data/set")).toMatchObject({
      system: "github",
      ref: "main",
      path: "data/set",
    });
    expect(await locate("https://github.com/octo/hello.git")).toMatchObject({ repo: "hello", path: "" });
    expect(await locate("https://github.com/octo/hello/blob/abc123/README.md")).toMatchObject({
      ref: "abc123",
      path: "README.md",
    });
  });

  it("malformed GitHub URLs are refused", async () => {
    await expectInvalid("github://octo", /owner and a repository/);
    await expectInvalid("github://octo/hello@/x", /empty ref/);
    await expectInvalid("https://github.com/octo/hello/issues/3", /tree\|blob/);
    await expectInvalid("https://github.com/octo/hello/tree", /no ref/);
    await expectInvalid("https://example.com/x", /no storage system is known/);
  });
});

describe("sftp and ssh", () => {
  let dir: string;
  const previous = process.env.FERRY_SSH_CONFIG;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "ferry-ssh-"));
    writeFileSync(
      join(dir, "config"),
      "Host gpu-box\n  HostName 10.1.2.3\n  User alice\n  Port 2222\n  IdentityFile ~/.ssh/id_gpu\n\nHost *.internal\n  User bob\n",
    );
    process.env.FERRY_SSH_CONFIG = join(dir, "config");
  });
  afterAll(() => {
    if (previous === undefined) delete process.env.FERRY_SSH_CONFIG;
    else process.env.FERRY_SSH_CONFIG = previous;
    rmSync(dir, { recursive: true, force: true });
  });

  it("sftp:// and ssh:// URLs with user and port", async () => {
    expect(await locate("sftp://me@example.org:2200/data/x")).toMatchObject({
      system: "sftp",
      user: "me",
      host: "example.org",
      port: 2200,
      root: "me@example.org:2200/",
      path: "data/x",
    });
    expect(await locate("ssh://example.org/~/runs")).toMatchObject({
      homeRelative: true,
      path: "runs",
      root: "example.org/~",
    });
  });

  it("an ~/.ssh/config alias fills user and port, in URL, scp and object forms", async () => {
    expect(await locate("ssh://gpu-box/data")).toMatchObject({
      alias: "gpu-box",
      user: "alice",
      port: 2222,
      path: "data",
    });
    expect(await locate("gpu-box:ckpt/last")).toMatchObject({
      system: "sftp",
      alias: "gpu-box",
      homeRelative: true,
      path: "ckpt/last",
    });
    expect(await locate({ system: "gpu-box", path: "/scratch/x" })).toMatchObject({
      system: "sftp",
      path: "scratch/x",
    });
  });

  it("host:path is local unless the host is an alias or a user is given", async () => {
    expect(await locate(parseLocation("notes:today.txt", { cwd: "/srv" }))).toMatchObject({
      system: "file",
      path: "srv/notes:today.txt",
    });
    expect(await locate("carol@box1:/x")).toMatchObject({
      system: "sftp",
      user: "carol",
      host: "box1",
      path: "x",
    });
  });

  it("passwords in URLs and bad ports are refused", async () => {
    await expectInvalid("sftp://me:hunter2@host/x", /passwords are never taken/);
    await expectInvalid("sftp://host:99999/x", /invalid port/);
    await expectInvalid("sftp://bad host/x", /malformed SSH URL|invalid host/);
  });
});

describe("child locations", () => {
  it("join below a base and refuse escapes", async () => {
    const base = await locate("s3://bucket1/runs");
    expect(childLocation(base, "a/b.txt")).toMatchObject({
      path: "runs/a/b.txt",
      url: "s3://bucket1/runs/a/b.txt",
    });
    expect(() => childLocation(base, "../../etc/passwd")).toThrow(/may not leave their root/);
  });
});
