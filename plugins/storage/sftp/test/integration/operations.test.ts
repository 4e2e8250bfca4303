import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { folder, local, PluginRegistry } from "@ferry/core";
import { waitUntil } from "@ferry/test-harness";
import { describe, expect, it } from "vitest";
import { type SftpDriver, sftp } from "../../src/index.ts";
import { baseOptions, skipReason, useSshd, useStorages } from "../helpers.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Pids of `sleep <seconds>` processes on this machine (the sshd under test runs here). */
function sleepers(seconds: string): number[] {
  try {
    return execFileSync("pgrep", ["-f", `^sleep ${seconds}$`])
      .toString()
      .trim()
      .split("\n")
      .map(Number);
  } catch {
    return [];
  }
}
const md5 = (bytes: Uint8Array | string) => createHash("md5").update(bytes).digest("hex");

/** Names a shell would split, expand, glob or read as options if they were not quoted. */
const AWKWARD_NAMES = [
  "with space.txt",
  "it's quoted.txt",
  'double "quoted".txt',
  "$(touch pwned).txt",
  "`touch pwned`.txt",
  "-n",
  "--help",
  "star *.txt",
  "semi;colon&amp.txt",
  "new\nline.txt",
  "ünïcödé 文件 🚀.txt",
  "back\\slash.txt",
];

describe.skipIf(skipReason !== undefined)("sftp operations", () => {
  const sshd = useSshd();
  const storageOn = useStorages(sshd);

  it("sends a local folder of 0.txt..4.txt to the cluster, where ls shows the five files", async () => {
    const localDir = mkdtempSync(join(tmpdir(), "ferry-sample-"));
    try {
      for (let index = 0; index < 5; index++) writeFileSync(join(localDir, `${index}.txt`), `${index}`);
      const root = sshd().makeRoot();
      const { host, port, user, ...options } = baseOptions(sshd());
      const registry = new PluginRegistry({ lazy: false }).use(local(), sftp(options));
      const remote = await folder(localDir, { registry }).to(
        `sftp://${user}@${host}:${port}${root}/sample_folder`,
      );
      expect(await remote.ls()).toEqual(["0.txt", "1.txt", "2.txt", "3.txt", "4.txt"]);
      // What the user sees on the cluster itself (the Runhouse walkthrough's `cluster.run(["ls sample_folder"])`).
      const storage = await remote.storage();
      expect(await storage.exec("ls sample_folder", { cwd: root })).toEqual({
        exitCode: 0,
        stdout: "0.txt\n1.txt\n2.txt\n3.txt\n4.txt\n",
        stderr: "",
      });
      expect(readFileSync(join(root, "sample_folder", "3.txt"), "utf8")).toBe("3");
      await registry.close();
    } finally {
      rmSync(localDir, { recursive: true, force: true });
    }
  });

  it("exec runs in the storage root by default, with cwd, env (quoted values) and stdin", async () => {
    const { storage, root } = await storageOn();
    mkdirSync(join(root, "sub"));
    expect((await storage.exec("pwd")).stdout).toBe(`${root}\n`);
    expect((await storage.exec("pwd", { cwd: "sub" })).stdout).toBe(`${root}/sub\n`);
    const env = await storage.exec('printf "%s|%s" "$GREETING" "$OTHER"', {
      env: { GREETING: "it's $HOME `x`", OTHER: "two\nlines" },
    });
    expect(env.stdout).toBe("it's $HOME `x`|two\nlines");
    expect((await storage.exec("tr a-z A-Z", { stdin: "shout" })).stdout).toBe("SHOUT");
    const failing = await storage.exec("echo oops >&2; exit 3");
    expect(failing).toEqual({ exitCode: 3, stdout: "", stderr: "oops\n" });
    await expect(storage.exec("true", { env: { "BAD-NAME": "x" } })).rejects.toMatchObject({
      code: "InvalidInput",
    });
    await expect(storage.exec("pwd", { cwd: "missing-dir" })).resolves.toMatchObject({ exitCode: 1 });
  });

  it("declares only what the host and the options allow: exec: false, and a tool the host lacks", async () => {
    const { storage: sftpOnly } = await storageOn({ exec: false });
    expect(sftpOnly.capabilities).toMatchObject({ exec: false, checksum: false, hashes: [], copy: "native" });
    await expect(sftpOnly.exec("true")).rejects.toMatchObject({ code: "Unsupported" });
    const { storage: noMd5 } = await storageOn({ execCommands: { md5sum: "no-such-md5sum-tool" } });
    expect(noMd5.capabilities).toMatchObject({ exec: true, checksum: false, hashes: [] });
    await noMd5.write("x.txt", "x");
    await expect(noMd5.checksum("x.txt", "md5")).rejects.toMatchObject({ code: "Unsupported" });
  });

  it("aborting a command stops it on the host, children included", async () => {
    const { storage, root } = await storageOn();
    const controller = new AbortController();
    // A shell with a child: both must go.
    const running = storage.exec("touch started; sleep 31.25; echo never", { signal: controller.signal });
    const outcome = running.then(
      () => undefined,
      (error: unknown) => error,
    );
    await waitUntil(async () => existsSync(join(root, "started")), { what: "the command to start" });
    expect(sleepers("31.25")).not.toEqual([]);
    controller.abort();
    expect(await outcome).toMatchObject({ code: "Aborted" });
    await waitUntil(async () => sleepers("31.25").length === 0, { what: "the remote command to end" });
  });

  it("copies on the host: a 2 MiB copy moves almost no bytes through the client", async () => {
    const { storage } = await storageOn();
    const data = randomBytes(2 * 1024 * 1024);
    await storage.write("big.bin", data);
    const pool = (storage.driver as SftpDriver).pool;
    const before = pool.stats();
    const entry = await storage.copy("big.bin", "copies/big-copy.bin");
    const after = pool.stats();
    expect(entry).toMatchObject({ path: "copies/big-copy.bin", size: data.byteLength });
    expect(after.bytesRead - before.bytesRead).toBeLessThan(64 * 1024);
    expect(after.bytesWritten - before.bytesWritten).toBeLessThan(64 * 1024);
    expect(await storage.checksum("copies/big-copy.bin", "md5")).toBe(md5(data));
  });

  it("checksums and removes files whose names a shell would misread", async () => {
    const { storage, root } = await storageOn();
    await storage.write("keep.txt", "keep me");
    await Promise.all(
      AWKWARD_NAMES.map(async (name, index) => {
        const content = `content ${index} of ${name}`;
        await storage.write(`dir/${name}`, content);
        expect(await storage.checksum(`dir/${name}`, "md5"), name).toBe(md5(content));
        const copy = await storage.copy(`dir/${name}`, `copied/${name}`);
        expect(copy.size, name).toBe(Buffer.byteLength(content));
        await storage.mkdir(`tree/${name}/inner`);
        await storage.write(`tree/${name}/inner/file.txt`, "x");
        await storage.deleteDirectory(`tree/${name}`);
        expect(await storage.exists(`tree/${name}/inner/file.txt`), name).toBe(false);
      }),
    );
    expect(readdirSync(join(root, "dir")).sort()).toEqual([...AWKWARD_NAMES].sort());
    expect(readdirSync(join(root, "tree"))).toEqual([]);
    expect(text(await storage.readBytes("keep.txt"))).toBe("keep me");
    // Nothing a command substitution would have created.
    expect(readdirSync(root).filter((name) => name.includes("pwned"))).toEqual([]);
  });

  it("uploads large files in parallel chunks and reads byte ranges of them", async () => {
    const { storage, root } = await storageOn({ chunkSize: 16 * 1024, concurrency: 4 });
    const data = randomBytes(3 * 1024 * 1024 + 123);
    const progress: number[] = [];
    const entry = await storage.write("large.bin", data, {
      partSize: 64 * 1024,
      concurrency: 4,
      onProgress: (bytes) => progress.push(bytes),
    });
    expect(entry.size).toBe(data.byteLength);
    expect(md5(readFileSync(join(root, "large.bin")))).toBe(md5(data));
    expect(progress.at(-1)).toBe(data.byteLength);
    const middle = await storage.readBytes("large.bin", { range: { offset: 1_000_000, length: 70_000 } });
    expect(Buffer.from(middle).equals(data.subarray(1_000_000, 1_070_000))).toBe(true);
    const tail = await storage.readBytes("large.bin", { range: { suffix: 10 } });
    expect(Buffer.from(tail).equals(data.subarray(-10))).toBe(true);
  });

  it("splits chunks larger than the host's largest write into requests sent together", async () => {
    const { storage, root } = await storageOn();
    const data = randomBytes(2 * 1024 * 1024 + 321);
    // OpenSSH takes at most 261120 bytes per WRITE: each 1 MiB + 7 chunk becomes five requests at their offsets.
    const entry = await storage.write("split.bin", data, { partSize: 1024 * 1024 + 7, concurrency: 2 });
    expect(entry.size).toBe(data.byteLength);
    expect(md5(readFileSync(join(root, "split.bin")))).toBe(md5(data));
  });

  it("an upload and a read keep their bytes intact across a key re-exchange in the middle", async () => {
    const { storage, root } = await storageOn({ chunkSize: 64 * 1024 });
    await storage.write("warm.txt", "the pool has a connection now");
    const pool = (storage.driver as SftpDriver).pool;
    const connection = await pool.take();
    pool.giveBack(connection);
    const parts = [randomBytes(1024 * 1024), randomBytes(1024 * 1024)];
    async function* source() {
      yield parts[0]!;
      // ssh2 documents Client#rekey() but 1.17 implements it on the protocol object only.
      const rekeyed = new Promise((done) => connection.client.once("handshake", done));
      (connection.client as unknown as { _protocol: { rekey(): void } })._protocol.rekey();
      await rekeyed;
      yield parts[1]!;
    }
    await storage.write("rekeyed.bin", source());
    const data = Buffer.concat(parts);
    expect(md5(readFileSync(join(root, "rekeyed.bin")))).toBe(md5(data));
    expect(Buffer.from(await storage.readBytes("rekeyed.bin")).equals(data)).toBe(true);
    expect(pool.stats().connections).toBe(1);
  });

  it("pulls the source only as fast as the host acknowledges writes (memory stays bounded)", async () => {
    const chunkSize = 16 * 1024;
    const concurrency = 2;
    const { storage, root } = await storageOn({ chunkSize, concurrency });
    const piece = randomBytes(4 * 1024);
    let pulled = 0;
    let furthestAhead = 0;
    async function* source() {
      for (let index = 0; index < 512; index++) {
        const temp = readdirSync(root).find((name) => name.startsWith(".ferry-tmp-"));
        const onHost = temp ? statSync(join(root, temp)).size : 0;
        furthestAhead = Math.max(furthestAhead, pulled - onHost);
        pulled += piece.byteLength;
        yield piece;
      }
    }
    const entry = await storage.write("paced.bin", source());
    expect(entry.size).toBe(2 * 1024 * 1024);
    // One chunk being filled, `concurrency` in flight and one awaiting a slot, at most.
    expect(furthestAhead).toBeLessThanOrEqual(chunkSize * (concurrency + 2));
  });

  it("checks each target again after earlier writes into its directory, and recreates a directory removed since", async () => {
    const { storage, root } = await storageOn();
    await storage.write("known/first.txt", "1");
    mkdirSync(join(root, "known", "taken"));
    await expect(storage.write("known/taken", "2")).rejects.toMatchObject({ code: "InvalidInput" });
    await storage.write("known/second.txt", "2");
    await expect(storage.write("known/second.txt", "3", { ifNoneMatch: "*" })).rejects.toMatchObject({
      code: "ConditionNotMet",
    });
    expect(readdirSync(join(root, "known")).sort()).toEqual(["first.txt", "second.txt", "taken"]);
    expect(text(await storage.readBytes("known/second.txt"))).toBe("2");
    rmSync(join(root, "known"), { recursive: true });
    await storage.write("known/again.txt", "4", { mtime: new Date("2024-01-01T00:00:00Z") });
    expect(readdirSync(join(root, "known"))).toEqual(["again.txt"]);
    expect(readFileSync(join(root, "known", "again.txt"), "utf8")).toBe("4");
  });

  it("writes that start together into a new directory all land, or each names its own file when a file is in the way", async () => {
    const { storage, root } = await storageOn();
    const names = Array.from({ length: 12 }, (_, index) => `f${index}.txt`);
    await Promise.all(names.map((name) => storage.write(`new/deep/dir/${name}`, name)));
    expect(readdirSync(join(root, "new", "deep", "dir")).sort()).toEqual([...names].sort());

    writeFileSync(join(root, "blocked"), "a file, not a directory");
    const results = await Promise.allSettled(names.map((name) => storage.write(`blocked/sub/${name}`, name)));
    for (const [index, result] of results.entries()) {
      expect(result.status).toBe("rejected");
      expect((result as PromiseRejectedResult).reason).toMatchObject({
        code: "InvalidInput",
        message: expect.stringContaining(`blocked/sub/${names[index]}`),
      });
    }
    expect(readFileSync(join(root, "blocked"), "utf8")).toBe("a file, not a directory");
  });

  it("records the mtime it is given, to the second", async () => {
    const { storage } = await storageOn();
    const mtime = new Date("2024-02-29T12:34:56.789Z");
    const written = await storage.write("dated.txt", "x", { mtime });
    const stored = await storage.stat("dated.txt");
    expect(stored.mtime).toEqual(new Date("2024-02-29T12:34:56.000Z"));
    // The entry a write returns (built without a stat when it set the mtime) matches the host's.
    expect({ size: written.size, mtime: written.mtime, kind: written.kind }).toEqual({
      size: stored.size,
      mtime: stored.mtime,
      kind: stored.kind,
    });
    // The mtime is set without waiting for the writes before it: it still lands after the last one.
    const data = randomBytes(1024 * 1024 + 5);
    await storage.write("dated-chunks.bin", data, { mtime, partSize: 16 * 1024, concurrency: 8 });
    expect(await storage.stat("dated-chunks.bin")).toMatchObject({
      size: data.byteLength,
      mtime: new Date("2024-02-29T12:34:56.000Z"),
    });
    expect(Buffer.from(await storage.readBytes("dated-chunks.bin")).equals(data)).toBe(true);
  });

  it("leaves nothing behind when the source fails, the checksum does not match, or the write is aborted", async () => {
    const { storage, root } = await storageOn({ chunkSize: 4096 });
    async function* failing() {
      yield new Uint8Array(10_000);
      throw new Error("source broke");
    }
    await expect(storage.write("a/broken.bin", failing())).rejects.toThrow("source broke");
    await expect(storage.write("a/bad-md5.txt", "abc", { md5: "0".repeat(32) })).rejects.toMatchObject({
      code: "Integrity",
    });
    const controller = new AbortController();
    async function* slow() {
      yield new Uint8Array(8192);
      controller.abort();
      yield new Uint8Array(8192);
    }
    await expect(storage.write("a/aborted.bin", slow(), { signal: controller.signal })).rejects.toMatchObject(
      { code: "Aborted" },
    );
    expect(readdirSync(join(root, "a"))).toEqual([]);
  });

  it("create-only writes use an atomic link: exactly one of many racing writers wins", async () => {
    const { storage } = await storageOn();
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, index) =>
        storage.write("once.txt", `writer ${index}`, { ifNoneMatch: "*" }),
      ),
    );
    expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(1);
    for (const result of results) {
      if (result.status === "rejected") expect(result.reason).toMatchObject({ code: "ConditionNotMet" });
    }
    expect(text(await storage.readBytes("once.txt"))).toMatch(/^writer \d$/);
  });
});
