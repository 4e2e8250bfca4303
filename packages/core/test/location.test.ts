import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { FerryError } from "@ferry/plugin-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { childLocation, parseLocation } from "../src/index.ts";

function expectInvalid(input: Parameters<typeof parseLocation>[0], fragment: RegExp): void {
  try {
    parseLocation(input);
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

  it("a relative file:// URL is refused", () => {
    expectInvalid("file://relative/path", /must be absolute/);
  });

  it("an empty location is refused", () => {
    expectInvalid("", /empty/);
    expectInvalid("   ", /empty/);
  });
});

describe("object stores", () => {
  it("s3 and gs keep keys literally", () => {
    expect(parseLocation("s3://my-bucket/a b/%41.txt")).toMatchObject({
      system: "s3",
      root: "my-bucket",
      bucket: "my-bucket",
      path: "a b/%41.txt",
    });
    expect(parseLocation("gs://data.example/x/")).toMatchObject({
      system: "gs",
      bucket: "data.example",
      path: "x",
    });
    expect(parseLocation("gcs://bucket1")).toMatchObject({ system: "gs", path: "" });
    expect(parseLocation({ system: "s3", path: "bucket1/ds/bert" })).toMatchObject({
      bucket: "bucket1",
      path: "ds/bert",
    });
  });

  it("malformed bucket names and credentials in URLs are refused without echoing secrets", () => {
    expectInvalid("s3://", /no bucket/);
    expectInvalid("s3://Upper_Case/x", /invalid bucket name/);
    expectInvalid("s3://ab/x", /invalid bucket name/);
    try {
      parseLocation("s3://AKIAEXAMPLE:s3cr3t@bucket/x");
      throw new Error("accepted credentials");
    } catch (error) {
      expect(FerryError.isInstance(error, "InvalidInput")).toBe(true);
      expect(String((error as Error).message)).not.toContain("s3cr3t");
      expect(String((error as FerryError).path)).not.toContain("s3cr3t");
    }
  });

  it("key segments . and .. are refused", () => {
    expectInvalid("s3://bucket1/a/../../etc/passwd", /may not leave their root/);
    expectInvalid("gs://bucket1/./x", /may not leave their root/);
  });

  it("azure containers, accounts from https URLs", () => {
    expect(parseLocation("az://my-container/p/q")).toMatchObject({
      system: "az",
      container: "my-container",
      path: "p/q",
    });
    expect(parseLocation("https://acct1.blob.core.windows.net/cont/x/y")).toMatchObject({
      system: "az",
      account: "acct1",
      container: "cont",
      path: "x/y",
    });
    expect(parseLocation({ system: "azure", path: "cont/a", account: "acct1" })).toMatchObject({
      account: "acct1",
    });
    expectInvalid("az://Bad--Name/x", /invalid container name/);
    expectInvalid("az://key@container/x", /account comes from options/);
  });
});

describe("github", () => {
  it("github:// with and without a ref", () => {
    expect(parseLocation("github://octo/hello@v1.0/docs/a.md")).toMatchObject({
      system: "github",
      owner: "octo",
      repo: "hello",
      ref: "v1.0",
      root: "octo/hello@v1.0",
      path: "docs/a.md",
    });
    const noRef = parseLocation("github://octo/hello");
    expect(noRef.ref).toBeUndefined();
    expect(noRef.root).toBe("octo/hello");
    expect(parseLocation("github://octo/hello@feature%2Fx/a").ref).toBe("feature/x");
  });

  it("https://github.com tree and blob URLs", () => {
    expect(parseLocation("https://github.com/octo/hello/tree/main/data/set")).toMatchObject({
      system: "github",
      ref: "main",
      path: "data/set",
    });
    expect(parseLocation("https://github.com/octo/hello.git")).toMatchObject({ repo: "hello", path: "" });
    expect(parseLocation("https://github.com/octo/hello/blob/abc123/README.md")).toMatchObject({
      ref: "abc123",
      path: "README.md",
    });
  });

  it("malformed GitHub URLs are refused", () => {
    expectInvalid("github://octo", /owner and a repository/);
    expectInvalid("github://octo/hello@/x", /empty ref/);
    expectInvalid("https://github.com/octo/hello/issues/3", /tree\|blob/);
    expectInvalid("https://github.com/octo/hello/tree", /no ref/);
    expectInvalid("https://example.com/x", /no storage system is known/);
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

  it("sftp:// and ssh:// URLs with user and port", () => {
    expect(parseLocation("sftp://me@example.org:2200/data/x")).toMatchObject({
      system: "sftp",
      user: "me",
      host: "example.org",
      port: 2200,
      root: "me@example.org:2200/",
      path: "data/x",
    });
    expect(parseLocation("ssh://example.org/~/runs")).toMatchObject({
      homeRelative: true,
      path: "runs",
      root: "example.org/~",
    });
  });

  it("an ~/.ssh/config alias fills user and port, in URL, scp and object forms", () => {
    expect(parseLocation("ssh://gpu-box/data")).toMatchObject({
      alias: "gpu-box",
      user: "alice",
      port: 2222,
      path: "data",
    });
    expect(parseLocation("gpu-box:ckpt/last")).toMatchObject({
      system: "sftp",
      alias: "gpu-box",
      homeRelative: true,
      path: "ckpt/last",
    });
    expect(parseLocation({ system: "gpu-box", path: "/scratch/x" })).toMatchObject({
      system: "sftp",
      path: "scratch/x",
    });
  });

  it("host:path is local unless the host is an alias or a user is given", () => {
    expect(parseLocation("notes:today.txt", { cwd: "/srv" })).toMatchObject({
      system: "file",
      path: "srv/notes:today.txt",
    });
    expect(parseLocation("carol@box1:/x")).toMatchObject({
      system: "sftp",
      user: "carol",
      host: "box1",
      path: "x",
    });
  });

  it("passwords in URLs and bad ports are refused", () => {
    expectInvalid("sftp://me:hunter2@host/x", /passwords are never taken/);
    expectInvalid("sftp://host:99999/x", /invalid port/);
    expectInvalid("sftp://bad host/x", /malformed SSH URL|invalid host/);
  });
});

describe("child locations", () => {
  it("join below a base and refuse escapes", () => {
    const base = parseLocation("s3://bucket1/runs");
    expect(childLocation(base, "a/b.txt")).toMatchObject({
      path: "runs/a/b.txt",
      url: "s3://bucket1/runs/a/b.txt",
    });
    expect(() => childLocation(base, "../../etc/passwd")).toThrow(/may not leave their root/);
  });
});
