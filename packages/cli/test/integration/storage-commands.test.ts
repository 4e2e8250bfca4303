import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonLines, makeTemp, removeTemp, runFerry, writeFiles } from "../run-ferry.ts";

let work: string;

beforeAll(async () => {
  work = await makeTemp("storage");
  await writeFiles(work, {
    "data/a.txt": "alpha\n",
    "data/b.bin": "0123456789",
    "data/sub/c.txt": "charlie\n",
  });
});

afterAll(() => removeTemp(work));

describe("ferry ls", () => {
  it("lists one level, directories with a trailing slash", async () => {
    const run = await runFerry(["ls", "data"], { cwd: work });
    expect(run).toMatchObject({ code: 0, stderr: "" });
    expect(run.stdout).toBe("a.txt\nb.bin\nsub/\n");
  });

  it("-R lists every file, --long adds size and time", async () => {
    const run = await runFerry(["ls", "-R", "--long", join(work, "data")]);
    const lines = run.stdout.trim().split("\n");
    expect(lines.map((line) => line.split(/\s+/).at(-1))).toEqual(["a.txt", "b.bin", "sub/c.txt"]);
    expect(lines[1]).toMatch(/^\s+10\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+b\.bin$/);
  });

  it("--json prints one entry object per line", async () => {
    const run = await runFerry(["ls", "--json", "data"], { cwd: work });
    const entries = jsonLines(run.stdout);
    expect(entries).toHaveLength(3);
    expect(entries[1]).toMatchObject({
      event: "entry",
      name: "b.bin",
      kind: "file",
      size: 10,
      url: `file://${join(work, "data/b.bin")}`,
    });
    expect(typeof entries[1]!.mtime).toBe("string");
    expect(entries[2]).toMatchObject({ name: "sub", kind: "directory" });
  });
});

describe("ferry cat, stat, du", () => {
  it("cat prints files in order, and a byte range", async () => {
    expect((await runFerry(["cat", "data/a.txt", "data/sub/c.txt"], { cwd: work })).stdout).toBe(
      "alpha\ncharlie\n",
    );
    expect(
      (await runFerry(["cat", "--offset", "2", "--count", "3", "data/b.bin"], { cwd: work })).stdout,
    ).toBe("234");
  });

  it("stat shows details, --json as one object", async () => {
    const plain = await runFerry(["stat", "data/b.bin"], { cwd: work });
    expect(plain.stdout).toContain("kind:     file");
    expect(plain.stdout).toContain("size:     10 (10 B)");
    const [record] = jsonLines((await runFerry(["stat", "--json", "data/sub"], { cwd: work })).stdout);
    expect(record).toMatchObject({ event: "stat", kind: "directory", name: "sub" });
  });

  it("du counts files and bytes below a location", async () => {
    const [usage] = jsonLines((await runFerry(["du", "--json", "data"], { cwd: work })).stdout);
    expect(usage).toMatchObject({ event: "usage", files: 3, bytes: 6 + 10 + 8 });
    expect((await runFerry(["du", "data"], { cwd: work })).stdout).toMatch(/^3 files, 24 B \(24 bytes\)/);
  });
});

describe("ferry mkdir and rm", () => {
  it("mkdir creates parents; rm removes a file; a directory needs -r", async () => {
    expect((await runFerry(["mkdir", "made/deep/er"], { cwd: work })).code).toBe(0);
    expect(existsSync(join(work, "made/deep/er"))).toBe(true);
    await writeFiles(work, { "made/deep/file.txt": "x" });
    expect((await runFerry(["rm", "made/deep/file.txt"], { cwd: work })).code).toBe(0);
    expect(existsSync(join(work, "made/deep/file.txt"))).toBe(false);
    const refused = await runFerry(["rm", "made"], { cwd: work });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^ferry: InvalidInput: .*is a directory; use rm -r/);
    expect(existsSync(join(work, "made/deep/er"))).toBe(true);
    expect((await runFerry(["rm", "-r", "made"], { cwd: work })).code).toBe(0);
    expect(existsSync(join(work, "made"))).toBe(false);
  });

  it("rm -r of the working directory, the home directory or a directory holding one is refused in one line; --protected removes it", async () => {
    await writeFiles(work, { "guarded/project/keep.txt": "k", "guarded/home/.profile": "p" });
    const project = join(work, "guarded/project");
    const env = { HOME: join(work, "guarded/home") };
    for (const [where, what] of [
      [".", "it is the working directory"],
      ["..", "it is a folder holding the working directory"],
      [join(work, "guarded/home"), "it is the home directory"],
    ] as const) {
      const refused = await runFerry(["rm", "-r", where], { cwd: project, env });
      expect(refused.code, where).toBe(2);
      expect(refused.stderr, where).toMatch(
        new RegExp(
          `^ferry: InvalidInput: refusing to remove file://\\S+: ${what}.*; pass rm -r --protected to remove it anyway\\n$`,
        ),
      );
    }
    expect(existsSync(join(project, "keep.txt"))).toBe(true);
    expect(existsSync(join(work, "guarded/home/.profile"))).toBe(true);
    expect(
      (await runFerry(["rm", "-r", "--protected", join(work, "guarded/home")], { cwd: project, env })).code,
    ).toBe(0);
    expect(existsSync(join(work, "guarded/home"))).toBe(false);
  });

  it("rm of something missing is NotFound (3), unless -f", async () => {
    const missing = await runFerry(["rm", "nothing.txt"], { cwd: work });
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain("ferry: NotFound:");
    expect((await runFerry(["rm", "-f", "nothing.txt"], { cwd: work })).code).toBe(0);
  });
});

describe("errors and exit codes", () => {
  it("a missing file: 3, one clear line, a JSON error event with --json", async () => {
    const run = await runFerry(["cat", "data/nope.txt"], { cwd: work });
    expect(run.code).toBe(3);
    expect(run.stderr.trim().split("\n")).toEqual([
      `ferry: NotFound: no such file or directory: ${join(work, "data/nope.txt")}`,
    ]);
    const json = await runFerry(["ls", "--json", "data/nope"], { cwd: work });
    expect(json.code).toBe(3);
    expect(jsonLines(json.stdout)).toEqual([expect.objectContaining({ event: "error", code: "NotFound" })]);
  });

  it("a malformed URL: 2", async () => {
    const run = await runFerry(["ls", "s3://Not_A_Bucket/x"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^ferry: InvalidInput: invalid bucket name "Not_A_Bucket"/);
  });

  it("a scheme whose plugin is not installed: 5, naming what to do", async () => {
    const run = await runFerry(["ls", "foo://x/y"]);
    expect(run.code).toBe(5);
    expect(run.stderr).toMatch(/^ferry: PluginMissing: no plugin for "foo"/);
  });

  it("a path escaping its root is refused before anything is touched: 2", async () => {
    const run = await runFerry(["cat", "s3://some-bucket/../../etc/passwd"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /^ferry: InvalidInput: path .* has a "\.\." segment; paths may not leave their root/,
    );
  });

  it("bad usage: 2, with a pointer to --help", async () => {
    const unknown = await runFerry(["ls", "--bogus", "data"], { cwd: work });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--bogus'");
    expect((await runFerry(["cp", "only-one-argument"])).code).toBe(2);
    expect((await runFerry(["cp", "--transfers", "zero", "a", "b"])).code).toBe(2);
    expect((await runFerry(["frobnicate"])).code).toBe(2);
  });

  it("--help and --version exit 0", async () => {
    const help = await runFerry(["--help"]);
    expect(help.code).toBe(0);
    for (const command of ["ls", "cp", "sync", "cat", "rm", "stat", "du", "mkdir"])
      expect(help.stdout).toContain(`  ${command} `);
    expect((await runFerry(["--version"])).stdout).toMatch(/^\d+\.\d+\.\d+/);
  });
});
