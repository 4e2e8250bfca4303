/**
 * Local-only behaviour of the file storage: the symlink policy, temp files, name edge cases,
 * permission errors and the default registry. The shared contract is covered by the conformance
 * run in packages/conformance/test/local.test.ts.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { createServer } from "node:net";
import { availableParallelism, platform, tmpdir } from "node:os";
import { join } from "node:path";
import { type ErrorCode, FerryError, type Storage } from "@ferry/plugin-kit";
import { mapFsError } from "@ferry/storage-local";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ferry, local, localStorage, PluginRegistry } from "../src/index.ts";

let base: string;
let rootDir: string;
let outside: string;
let storage: Storage;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), "ferry-local-"));
  rootDir = join(base, "root");
  outside = join(base, "outside");
  await mkdir(rootDir);
  await mkdir(outside);
  await writeFile(join(outside, "secret.txt"), "outside the root");
  storage = localStorage(rootDir);
});

afterEach(async () => {
  await storage.close();
  await chmod(rootDir, 0o755).catch(() => undefined);
  await rm(base, { recursive: true, force: true });
});

async function codeOf(action: Promise<unknown>): Promise<ErrorCode | "none"> {
  try {
    await action;
    return "none";
  } catch (error) {
    if (!FerryError.isInstance(error)) throw error;
    return error.code;
  }
}

async function shape(dir: string, recursive = false): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of storage.list(dir, { recursive }))
    out.push(entry.kind === "directory" ? `${entry.path}/` : entry.path);
  return out;
}

/** Names actually on disk below the root, temp files included. */
async function onDisk(): Promise<string[]> {
  return (await readdir(rootDir, { recursive: true })).map(String).sort();
}

describe("local storage: symlinks", () => {
  it("follows a link to a file inside the root", async () => {
    await storage.write("data/real.txt", "real");
    await symlink(join(rootDir, "data/real.txt"), join(rootDir, "alias.txt"));
    expect(new TextDecoder().decode(await storage.readBytes("alias.txt"))).toBe("real");
    expect(await storage.stat("alias.txt")).toMatchObject({ kind: "file", size: 4 });
    expect(await shape("")).toEqual(["alias.txt", "data/"]);
  });

  it("follows a relative link to a directory inside the root, but a recursive listing does not descend into it", async () => {
    await storage.write("data/inner.txt", "inner");
    await symlink("data", join(rootDir, "linked"));
    expect(await shape("")).toEqual(["data/", "linked/"]);
    expect(await shape("linked")).toEqual(["linked/inner.txt"]);
    expect(await shape("", true)).toEqual(["data/inner.txt"]);
    await storage.write("linked/through.txt", "via link");
    expect(await readFile(join(rootDir, "data/through.txt"), "utf8")).toBe("via link");
  });

  it("refuses a link to a file outside the root with PermissionDenied and leaves it out of listings", async () => {
    await symlink(join(outside, "secret.txt"), join(rootDir, "escape.txt"));
    expect(await codeOf(storage.read("escape.txt"))).toBe("PermissionDenied");
    expect(await codeOf(storage.stat("escape.txt"))).toBe("PermissionDenied");
    expect(await codeOf(storage.write("escape.txt", "overwrite"))).toBe("PermissionDenied");
    expect(await codeOf(storage.checksum("escape.txt", "md5"))).toBe("PermissionDenied");
    expect(await codeOf(storage.copy("escape.txt", "copied.txt"))).toBe("PermissionDenied");
    expect(await shape("")).toEqual([]);
    expect(await readFile(join(outside, "secret.txt"), "utf8")).toBe("outside the root");
  });

  it("refuses writes, mkdir and listings through a linked directory outside the root", async () => {
    await symlink(outside, join(rootDir, "out"));
    expect(await codeOf(storage.write("out/planted.txt", "x"))).toBe("PermissionDenied");
    expect(await codeOf(storage.write("out/new/deeper.txt", "x"))).toBe("PermissionDenied");
    expect(await codeOf(storage.mkdir("out/made"))).toBe("PermissionDenied");
    expect(await codeOf(storage.copy("missing.txt", "out/x.txt"))).toBe("NotFound");
    expect(await codeOf(shape("out"))).toBe("PermissionDenied");
    expect(await shape("")).toEqual([]);
    expect(await readdir(outside)).toEqual(["secret.txt"]);
  });

  it("a write to a link inside the root replaces the link, leaving its target as it was", async () => {
    await storage.write("target.txt", "target");
    await symlink("target.txt", join(rootDir, "link.txt"));
    await storage.write("link.txt", "new file");
    expect((await lstat(join(rootDir, "link.txt"))).isSymbolicLink()).toBe(false);
    expect(await readFile(join(rootDir, "target.txt"), "utf8")).toBe("target");
    expect(await readFile(join(rootDir, "link.txt"), "utf8")).toBe("new file");
  });

  it("deletes a link itself, never its target", async () => {
    await symlink(join(outside, "secret.txt"), join(rootDir, "escape.txt"));
    await symlink(outside, join(rootDir, "out"));
    await storage.delete(["escape.txt", "out"]);
    expect(await onDisk()).toEqual([]);
    expect(await readFile(join(outside, "secret.txt"), "utf8")).toBe("outside the root");
  });

  it("deleteDirectory on a linked directory removes the link, not what it points to", async () => {
    await symlink(outside, join(rootDir, "out"));
    await storage.deleteDirectory("out");
    expect(await onDisk()).toEqual([]);
    expect(await readdir(outside)).toEqual(["secret.txt"]);
  });

  it("skips broken links in listings and reports them NotFound", async () => {
    await symlink(join(rootDir, "nowhere.txt"), join(rootDir, "broken.txt"));
    await storage.write("kept.txt", "x");
    expect(await shape("")).toEqual(["kept.txt"]);
    expect(await codeOf(storage.stat("broken.txt"))).toBe("NotFound");
    expect(await codeOf(storage.read("broken.txt"))).toBe("NotFound");
  });

  it("works when the root itself is reached through a link", async () => {
    const linkedRoot = join(base, "root-link");
    await symlink(rootDir, linkedRoot);
    const viaLink = localStorage(linkedRoot);
    await viaLink.write("a/b.txt", "through the root link");
    expect(await readFile(join(rootDir, "a/b.txt"), "utf8")).toBe("through the root link");
    expect(await shape("", true)).toEqual(["a/b.txt"]);
  });
});

describe("local storage: temp files", () => {
  async function* failing(): AsyncIterable<Uint8Array> {
    yield new Uint8Array(10_000);
    throw new Error("source failed");
  }

  it("removes the temp file after a failed write, in nested directories too", async () => {
    await storage.write("nested/keep.txt", "keep");
    await expect(storage.write("nested/fail.bin", failing())).rejects.toThrow();
    await expect(storage.write("fail.bin", failing())).rejects.toThrow();
    // Small declared sizes: the temp file is created while the bytes arrive, and removed when they fail.
    await expect(storage.write("nested/fail-small.bin", failing(), { size: 20_000 })).rejects.toThrow();
    await expect(storage.write("fail-small.bin", failing(), { size: 10_000 })).rejects.toThrow();
    const aborted = new AbortController();
    aborted.abort();
    await expect(
      storage.write("nested/aborted.bin", new Uint8Array(10), { size: 10, signal: aborted.signal }),
    ).rejects.toThrow();
    expect(await onDisk()).toEqual(["nested", "nested/keep.txt"]);
  });

  it("removes the temp file when a create-only write or copy loses", async () => {
    await storage.write("taken.txt", "first");
    expect(await codeOf(storage.write("taken.txt", "second", { ifNoneMatch: "*" }))).toBe("ConditionNotMet");
    await storage.write("other.txt", "other");
    expect(await codeOf(storage.copy("other.txt", "taken.txt", { ifNoneMatch: "*" }))).toBe(
      "ConditionNotMet",
    );
    expect(await onDisk()).toEqual(["other.txt", "taken.txt"]);
  });

  it("never lists in-flight temp files and refuses keys that use the reserved prefix", async () => {
    await writeFile(join(rootDir, ".ferry-tmp-0123456789ab-report.csv"), "partial");
    await storage.write("report.csv", "done");
    expect(await shape("")).toEqual(["report.csv"]);
    expect(await codeOf(storage.write(".ferry-tmp-mine", "x"))).toBe("InvalidInput");
    expect(await codeOf(storage.read(".ferry-tmp-0123456789ab-report.csv"))).toBe("InvalidInput");
  });

  it("writes names near the file-name limit (the temp name is shortened)", async () => {
    const name = `${"é".repeat(120)}.txt`; // 244 bytes in UTF-8
    await storage.write(`long/${name}`, "long name");
    expect(await shape("long")).toEqual([`long/${name}`]);
    expect(await codeOf(storage.write(`long/${"x".repeat(300)}`, "too long"))).toBe("InvalidInput");
    expect(await onDisk()).toEqual(["long", `long/${name}`]);
  });

  it.skipIf(platform() === "win32")("an overwrite keeps the file's permissions", async () => {
    await storage.write("run.sh", "#!/bin/sh\necho one\n");
    await chmod(join(rootDir, "run.sh"), 0o750);
    await storage.write("run.sh", "#!/bin/sh\necho two\n");
    expect((await stat(join(rootDir, "run.sh"))).mode & 0o777).toBe(0o750);
    await storage.copy("run.sh", "copy.sh");
    await chmod(join(rootDir, "copy.sh"), 0o600);
    await storage.copy("run.sh", "copy.sh");
    expect((await stat(join(rootDir, "copy.sh"))).mode & 0o777).toBe(0o600);
  });

  it("writes with fsync enabled", async () => {
    const durable = localStorage(rootDir, { fsync: true });
    await durable.write("durable/file.txt", "synced");
    expect(await readFile(join(rootDir, "durable/file.txt"), "utf8")).toBe("synced");
  });
});

describe("local storage: files and directories", () => {
  it("delete removes an empty directory and refuses one with contents", async () => {
    await storage.mkdir("empty");
    await storage.write("full/file.txt", "x");
    await storage.delete("empty");
    expect(await codeOf(storage.delete("full"))).toBe("InvalidInput");
    expect(await onDisk()).toEqual(["full", "full/file.txt"]);
  });

  it("deleteDirectory refuses a file path", async () => {
    await storage.write("plain.txt", "x");
    expect(await codeOf(storage.deleteDirectory("plain.txt"))).toBe("InvalidInput");
    expect(await onDisk()).toEqual(["plain.txt"]);
  });

  it("reading a directory is InvalidInput; a file in the path is NotFound", async () => {
    await storage.write("dir/file.txt", "x");
    expect(await codeOf(storage.read("dir"))).toBe("InvalidInput");
    expect(await codeOf(storage.read("dir/file.txt/below"))).toBe("NotFound");
    expect(await codeOf(storage.stat("dir/file.txt/below"))).toBe("NotFound");
  });

  it("move renames whole directories", async () => {
    await storage.write("before/a.txt", "a");
    await storage.write("before/sub/b.txt", "b");
    const entry = await storage.move("before", "after/renamed");
    expect(entry.kind).toBe("directory");
    expect(await shape("", true)).toEqual(["after/renamed/a.txt", "after/renamed/sub/b.txt"]);
  });

  it("create-only moves of directories claim the target atomically", async () => {
    await storage.write("src/a.txt", "a");
    await storage.write("taken/b.txt", "b");
    expect(await codeOf(storage.move("src", "taken", { ifNoneMatch: "*" }))).toBe("ConditionNotMet");
    await storage.move("src", "fresh/dst", { ifNoneMatch: "*" });
    expect(await shape("", true)).toEqual(["fresh/dst/a.txt", "taken/b.txt"]);
  });

  it("moving between a file and a directory is InvalidInput and changes nothing", async () => {
    await storage.write("f.txt", "file");
    await storage.write("d/inner.txt", "inner");
    expect(await codeOf(storage.move("f.txt", "d"))).toBe("InvalidInput");
    expect(await codeOf(storage.move("d", "f.txt"))).toBe("InvalidInput");
    expect(await shape("", true)).toEqual(["d/inner.txt", "f.txt"]);
  });

  it("refuses to move a directory into itself", async () => {
    await storage.write("loop/a.txt", "a");
    expect(await codeOf(storage.move("loop", "loop/inner/loop"))).toBe("InvalidInput");
    expect(await shape("", true)).toEqual(["loop/a.txt"]);
  });

  it.skipIf(platform() === "win32")("reading a FIFO fails fast instead of waiting for a writer", async () => {
    execFileSync("mkfifo", [join(rootDir, "pipe")]);
    expect(await codeOf(storage.read("pipe"))).toBe("InvalidInput");
    expect(await codeOf(storage.stat("pipe"))).toBe("InvalidInput");
    expect(await shape("")).toEqual([]);
  });

  it("keeps mtimes to the millisecond", async () => {
    const mtime = new Date("2020-01-02T03:04:05.678Z");
    await storage.write("dated.txt", "x", { mtime });
    expect((await storage.stat("dated.txt")).mtime?.toISOString()).toBe(mtime.toISOString());
    await utimes(join(rootDir, "dated.txt"), new Date(0), new Date(1_600_000_000_123));
    expect((await storage.stat("dated.txt")).mtime?.getTime()).toBe(1_600_000_000_123);
  });

  it("copy gives the target a fresh inode: changing one never changes the other", async () => {
    await storage.write("src.txt", "source");
    await storage.copy("src.txt", "dst.txt");
    expect((await stat(join(rootDir, "src.txt"))).ino).not.toBe((await stat(join(rootDir, "dst.txt"))).ino);
  });

  it("copy gives the target the modified time asked for, and the copy's stat reports it", async () => {
    const mtime = new Date("2021-05-06T07:08:09.123Z");
    await storage.write("src.txt", "source");
    const copied = await storage.copy("src.txt", "nested/dst.txt", { mtime });
    expect(copied.mtime?.toISOString()).toBe(mtime.toISOString());
    expect((await stat(join(rootDir, "nested/dst.txt"))).mtime.toISOString()).toBe(mtime.toISOString());
    expect((await storage.stat("src.txt")).mtime?.toISOString()).not.toBe(mtime.toISOString());
  });

  it.skipIf(platform() === "win32")(
    "leaves sockets and names that are not UTF-8 out of listings",
    async () => {
      await writeFile(
        Buffer.concat([Buffer.from(`${rootDir}/`), Buffer.from([0x66, 0xff, 0xfe])]),
        "latin-1 name",
      );
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(join(rootDir, "ferry.sock"), resolve));
      try {
        await storage.write("normal.txt", "x");
        expect(await shape("")).toEqual(["normal.txt"]);
        expect(await codeOf(storage.read("ferry.sock"))).not.toBe("none");
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    },
  );
});

describe("local storage: errors", () => {
  it("maps file-system error codes onto ferry codes", () => {
    const cases: [string, ErrorCode][] = [
      ["ENOENT", "NotFound"],
      ["EEXIST", "AlreadyExists"],
      ["EACCES", "PermissionDenied"],
      ["EPERM", "PermissionDenied"],
      ["EROFS", "PermissionDenied"],
      ["EISDIR", "InvalidInput"],
      ["EMFILE", "Transient"],
      ["EAGAIN", "Transient"],
      ["EIO", "Unexpected"],
    ];
    for (const [code, expected] of cases) {
      const error = mapFsError(Object.assign(new Error(`${code}: raw text`), { code }), "/data/file.txt");
      expect(error.code, code).toBe(expected);
      expect(error.message).toContain("/data/file.txt");
      expect(error.message).not.toContain("raw text");
      expect(error.retryable).toBe(expected === "Transient");
    }
    const fromSource = mapFsError(new Error("the network went away"), "/data/file.txt");
    expect(fromSource.message).toBe("the network went away");
    const aborted = mapFsError(
      Object.assign(new Error("The operation was aborted"), { name: "AbortError", code: "ABORT_ERR" }),
      "/x",
    );
    expect(aborted.code).toBe("Aborted");
    const notDir = Object.assign(new Error("ENOTDIR"), { code: "ENOTDIR" });
    expect(mapFsError(notDir, "/a/b", "read").code).toBe("NotFound");
    expect(mapFsError(notDir, "/a/b", "write").code).toBe("InvalidInput");
  });

  it.skipIf(platform() !== "linux" || !existsSync("/sys/kernel"))(
    "a directory the kernel refuses to write is PermissionDenied (independent of the user)",
    async () => {
      // sysfs refuses new files with EACCES even to root, unlike chmod.
      const sys = localStorage("/sys");
      expect(await codeOf(sys.write("ferry-probe.txt", "x"))).toBe("PermissionDenied");
      const error = (await sys
        .write("ferry-probe.txt", "x")
        .catch((caught: unknown) => caught)) as FerryError;
      expect(error.message).toContain("/sys/ferry-probe.txt");
    },
  );

  it.skipIf(process.getuid?.() === 0 || platform() === "win32")(
    "a read-only directory is PermissionDenied (chmod; root bypasses it, so this runs as a normal user only)",
    async () => {
      await storage.write("ro/file.txt", "x");
      await chmod(join(rootDir, "ro"), 0o555);
      try {
        expect(await codeOf(storage.write("ro/new.txt", "x"))).toBe("PermissionDenied");
        expect(await codeOf(storage.delete("ro/file.txt"))).toBe("PermissionDenied");
      } finally {
        await chmod(join(rootDir, "ro"), 0o755);
      }
    },
  );
});

describe("local storage: registry", () => {
  it("the default registry resolves plain paths and file URLs to local storage rooted at /", async () => {
    await writeFile(join(rootDir, "hello.txt"), "hello");
    for (const location of [join(rootDir, "hello.txt"), `file://${join(rootDir, "hello.txt")}`]) {
      const resolved = await ferry.resolve(location);
      expect(resolved.storage.system).toBe("file");
      expect(resolved.storage.root).toBe("file:///");
      expect(new TextDecoder().decode(await resolved.storage.readBytes(resolved.path))).toBe("hello");
    }
  });

  it("local() can be registered on a fresh registry", async () => {
    const registry = new PluginRegistry({ lazy: false }).use(local());
    const { storage: resolved, path } = await registry.resolve({
      system: "file",
      path: join(rootDir, "x/y.txt"),
    });
    await resolved.write(path, "via registry");
    expect(await readFile(join(rootDir, "x/y.txt"), "utf8")).toBe("via registry");
    await registry.close();
  });

  it("a root that does not exist yet lists empty, reads NotFound, and is created by the first write", async () => {
    const later = localStorage(join(base, "not", "yet"));
    expect(await later.exists("")).toBe(false);
    expect(await codeOf(later.read("a.txt"))).toBe("NotFound");
    const listed = [];
    for await (const entry of later.list("", { recursive: true })) listed.push(entry);
    expect(listed).toEqual([]);
    await later.write("a.txt", "first");
    expect(await readFile(join(base, "not", "yet", "a.txt"), "utf8")).toBe("first");
  });

  it("localStorage resolves a relative directory against the working directory", () => {
    expect(localStorage("relative-dir").root).toBe(`file://${join(process.cwd(), "relative-dir")}`);
  });
});

describe("local storage: small files placed in one go, and storage rooted at /", () => {
  const small = new Uint8Array(64 * 1024).fill(7);
  async function* source(bytes: Uint8Array, failAfter?: number): AsyncIterable<Uint8Array> {
    for (let offset = 0; offset < bytes.byteLength; offset += 10_000) {
      if (failAfter !== undefined && offset >= failAfter) throw new Error("source failed");
      yield bytes.subarray(offset, offset + 10_000);
    }
  }
  const rootedAtSlash = async () => {
    const registry = new PluginRegistry({ lazy: false }).use(local());
    const { storage: slash } = await registry.resolve({ system: "file", path: rootDir });
    expect(slash.root).toBe("file:///");
    // Keys of the "/"-rooted storage for paths below rootDir.
    const key = (path: string) => `${rootDir.slice(1)}/${path}`;
    // Each storage with the key it gives a path below rootDir.
    const both = [
      [storage, (path: string) => path],
      [slash, key],
    ] as const;
    return { both, close: () => registry.close() };
  };

  it("writes small and large files into new nested directories, keeping mtime, on either kind of root", async () => {
    const { both, close } = await rootedAtSlash();
    const mtime = new Date("2024-05-06T07:08:09.123Z");
    for (const [target, name] of both) {
      for (const [label, bytes] of [
        ["small", small],
        ["large", new Uint8Array(2 * 1024 * 1024).fill(9)],
      ] as const) {
        const path = name(`a/${label}/b/${label}.bin`);
        const entry = await target.write(path, source(bytes), { size: bytes.byteLength, mtime });
        expect(entry).toMatchObject({ path, size: bytes.byteLength, kind: "file" });
        expect(entry.mtime?.getTime()).toBe(mtime.getTime());
        expect(Buffer.from(await readFile(join(rootDir, `a/${label}/b/${label}.bin`)))).toEqual(
          Buffer.from(bytes),
        );
        await rm(join(rootDir, "a"), { recursive: true });
      }
    }
    await close();
  });

  it("gives a small write into an existing directory its mtime, on disk and in the entry it returns", async () => {
    const { both, close } = await rootedAtSlash();
    const mtime = new Date("2023-01-02T03:04:05.678Z");
    await mkdir(join(rootDir, "existing"), { recursive: true });
    for (const [target, name] of both) {
      const entry = await target.write(name("existing/dated.bin"), source(small), {
        size: small.byteLength,
        mtime,
      });
      const onDisk = await stat(join(rootDir, "existing/dated.bin"));
      expect(Math.abs(onDisk.mtimeMs - mtime.getTime())).toBeLessThan(1);
      expect(entry.mtime?.getTime()).toBe(onDisk.mtime.getTime());
      expect(
        (await readdir(join(rootDir, "existing"))).filter((file) => file.startsWith(".ferry-tmp-")),
      ).toEqual([]);
    }
    await rm(join(rootDir, "existing"), { recursive: true });
    await close();
  });

  it("leaves nothing behind when a small write fails: a failing source, one longer than declared, an abort", async () => {
    const { both, close } = await rootedAtSlash();
    for (const [target, name] of both) {
      await expect(
        target.write(name("d/failing.bin"), source(small, 30_000), { size: small.byteLength }),
      ).rejects.toThrow(/source failed/);
      expect(await codeOf(target.write(name("d/long.bin"), source(small), { size: 1000 }))).toBe(
        "InvalidInput",
      );
      const abort = new AbortController();
      abort.abort();
      expect(
        await codeOf(
          target.write(name("d/aborted.bin"), source(small), {
            size: small.byteLength,
            signal: abort.signal,
          }),
        ),
      ).toBe("Aborted");
    }
    expect(await onDisk()).toEqual([]);
    await close();
  });

  it("a small create-only write refuses to replace, and a directory or file in the way is InvalidInput", async () => {
    const { both, close } = await rootedAtSlash();
    for (const [target, name] of both) {
      await target.write(name("taken.bin"), small);
      expect(await codeOf(target.write(name("taken.bin"), small, { ifNoneMatch: "*" }))).toBe(
        "ConditionNotMet",
      );
      await mkdir(join(rootDir, "dir/inside"), { recursive: true });
      expect(await codeOf(target.write(name("dir"), small))).toBe("InvalidInput");
      expect(await codeOf(target.write(name("taken.bin/child.bin"), small))).toBe("InvalidInput");
      await rm(join(rootDir, "dir"), { recursive: true });
      await rm(join(rootDir, "taken.bin"));
    }
    expect(await onDisk()).toEqual([]);
    await close();
  });
});

describe("local storage: large writes with a declared MD5 are hashed on a second thread", () => {
  const size = 17 * 1024 * 1024;
  const body = new Uint8Array(size).map((_, index) => (index * 7) % 251);
  const md5 = createHash("md5").update(body).digest("hex");
  async function* source(failAfter?: number, signal?: AbortController): AsyncIterable<Uint8Array> {
    for (let offset = 0; offset < size; offset += 256 * 1024) {
      if (failAfter !== undefined && offset >= failAfter) {
        if (signal) signal.abort();
        else throw new Error("source failed");
      }
      yield body.subarray(offset, offset + 256 * 1024);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  it.skipIf(availableParallelism() < 2)("stores the file when the MD5 matches", async () => {
    const entry = await storage.write("big/ok.bin", source(), { size, md5 });
    expect(entry.size).toBe(size);
    expect(
      createHash("md5")
        .update(await readFile(join(rootDir, "big/ok.bin")))
        .digest("hex"),
    ).toBe(md5);
    expect(await onDisk()).toEqual(["big", "big/ok.bin"]);
  });

  it.skipIf(availableParallelism() < 2)(
    "a wrong MD5 is found in the file written, and nothing is placed",
    async () => {
      await storage.write("big/kept.bin", "old content");
      const wrong = "0".repeat(32);
      const error = await storage
        .write("big/kept.bin", source(), { size, md5: wrong })
        .catch((caught: unknown) => caught);
      expect(FerryError.isInstance(error, "Integrity")).toBe(true);
      expect((error as Error).message).toContain(`expected ${wrong}, the file written has ${md5}`);
      expect(await readFile(join(rootDir, "big/kept.bin"), "utf8")).toBe("old content");
      expect(await onDisk()).toEqual(["big", "big/kept.bin"]);
    },
  );

  it.skipIf(availableParallelism() < 2)("a failing source or an abort midway leaves nothing", async () => {
    await expect(storage.write("big/failing.bin", source(8 * 1024 * 1024), { size, md5 })).rejects.toThrow(
      /source failed/,
    );
    const abort = new AbortController();
    expect(
      await codeOf(
        storage.write("big/aborted.bin", source(8 * 1024 * 1024, abort), { size, md5, signal: abort.signal }),
      ),
    ).toBe("Aborted");
    expect(await onDisk()).toEqual(["big"]);
  });
});

describe.skipIf(!existsSync("/proc/self"))(
  "local storage: a file system that refuses new directories",
  () => {
    it("mkdir and a write below /proc fail at once with PermissionDenied naming the refused directory", async () => {
      const proc = localStorage("/proc");
      try {
        const made = proc.mkdir("ferry-test/deeper").catch((error: unknown) => error);
        expect(await made).toMatchObject({
          code: "PermissionDenied",
          message:
            "cannot create directory /proc/ferry-test: the file system at /proc does not accept new directories",
        });
        expect(await codeOf(proc.write("ferry-test/deeper/file.txt", new Uint8Array([1])))).toBe(
          "PermissionDenied",
        );
      } finally {
        await proc.close();
      }
    });
  },
);
