import { existsSync, readdirSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseSize } from "../../src/commands/transfer.ts";
import { jsonLines, makeTemp, removeTemp, runFerry, writeFiles } from "../run-ferry.ts";

let work: string;

beforeEach(async () => {
  work = await makeTemp("transfer");
  await writeFiles(work, { "src/a.txt": "alpha", "src/b.log": "bravo log", "src/sub/c.txt": "charlie" });
});

afterEach(() => removeTemp(work));

const tree = (dir: string): string[] =>
  readdirSync(join(work, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(join(work, dir).length + 1))
    .sort();

describe("ferry cp", () => {
  it("copies a tree with one line per file and a summary", async () => {
    const run = await runFerry(["cp", "src", "dst"], { cwd: work });
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split("\n");
    expect(lines.slice(0, -1).sort()).toEqual([
      // local → local is a kernel copy: the route is named when it is not a stream through ferry
      "copied  a.txt (5 B, native)",
      "copied  b.log (9 B, native)",
      "copied  sub/c.txt (7 B, native)",
    ]);
    expect(lines.at(-1)).toMatch(/^copied 3, skipped 0, deleted 0, failed 0: 21 B in /);
    expect(tree("dst")).toEqual(["a.txt", "b.log", "sub/c.txt"]);
  });

  it("--json: file events and a summary; a second run copies nothing", async () => {
    const first = jsonLines((await runFerry(["cp", "--json", "src", "dst"], { cwd: work })).stdout);
    expect(first.filter((line) => line.event === "file")).toHaveLength(3);
    expect(first.find((line) => line.path === "a.txt")).toEqual({
      event: "file",
      action: "copy",
      status: "done",
      path: "a.txt",
      destination: join(work, "dst/a.txt"),
      size: 5,
      route: "native",
      attempts: 1,
    });
    const second = await runFerry(["cp", "--json", "src", "dst"], { cwd: work });
    const lines = jsonLines(second.stdout);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      event: "summary",
      copied: 0,
      skipped: 3,
      deleted: 0,
      failed: 0,
      bytes: 0,
      dryRun: false,
      errors: [],
    });
    expect(Object.keys(lines[0]!).sort()).toEqual(
      [
        "event",
        "source",
        "destination",
        "dryRun",
        "copied",
        "skipped",
        "deleted",
        "failed",
        "bytes",
        "bytesThroughClient",
        "seconds",
        "notes",
        "errors",
      ].sort(),
    );
  });

  it("copies one file to a name, or into a directory given with a trailing slash", async () => {
    expect((await runFerry(["cp", "src/a.txt", "one/renamed.txt"], { cwd: work })).code).toBe(0);
    expect((await runFerry(["cp", "src/a.txt", "into/"], { cwd: work })).code).toBe(0);
    expect(readFileSync(join(work, "one/renamed.txt"), "utf8")).toBe("alpha");
    expect(readFileSync(join(work, "into/a.txt"), "utf8")).toBe("alpha");
  });

  it("--include / --exclude (repeatable) and --files-from", async () => {
    await runFerry(["cp", "src", "texts", "--include", "*.txt", "--exclude", "sub/**"], { cwd: work });
    expect(tree("texts")).toEqual(["a.txt"]);
    await runFerry(["cp", "src", "both", "--include", "*.txt", "--include", "*.log"], { cwd: work });
    expect(tree("both")).toEqual(["a.txt", "b.log", "sub/c.txt"]);
    await runFerry(["cp", "src", "listed", "--files-from", "-"], { cwd: work, input: "sub/c.txt\nb.log\n" });
    expect(tree("listed")).toEqual(["b.log", "sub/c.txt"]);
  });

  it("--checksum copies a same-size, same-time file whose bytes changed", async () => {
    await runFerry(["cp", "src", "dst"], { cwd: work });
    const { utimes, stat } = await import("node:fs/promises");
    const before = await stat(join(work, "src/a.txt"));
    await writeFile(join(work, "src/a.txt"), "ALPHA");
    await utimes(join(work, "src/a.txt"), before.atime, before.mtime);
    const bySize = jsonLines((await runFerry(["cp", "--json", "src", "dst"], { cwd: work })).stdout).at(-1);
    expect(bySize).toMatchObject({ copied: 0 });
    const byHash = jsonLines(
      (await runFerry(["cp", "--json", "--checksum", "src", "dst"], { cwd: work })).stdout,
    ).at(-1);
    expect(byHash).toMatchObject({ copied: 1, skipped: 2 });
    expect(readFileSync(join(work, "dst/a.txt"), "utf8")).toBe("ALPHA");
  });

  it("--multi-thread-streams / --multi-thread-cutoff take counts and sizes; a bad size is a usage error", async () => {
    const run = await runFerry(
      ["cp", "--multi-thread-streams", "8", "--multi-thread-cutoff", "1.5G", "src", "dst"],
      { cwd: work },
    );
    expect(run.code).toBe(0);
    expect(tree("dst")).toEqual(["a.txt", "b.log", "sub/c.txt"]);
    const bad = await runFerry(["cp", "--multi-thread-cutoff", "lots", "src", "other"], { cwd: work });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('expected a size such as 64M, 1.5G or 1000, got "lots"');
    expect(existsSync(join(work, "other"))).toBe(false);
  });

  it("a missing source is NotFound (3)", async () => {
    const run = await runFerry(["cp", "nope", "dst"], { cwd: work });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain("ferry: NotFound: nothing to copy");
  });
});

describe("ferry sync", () => {
  it("--dry-run prints the plan and changes nothing", async () => {
    await writeFiles(work, { "dst/extra.txt": "x" });
    const run = await runFerry(["sync", "--dry-run", "--delete", "src", "dst"], { cwd: work });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("would copy  a.txt (new)");
    expect(run.stdout).toContain("would delete  extra.txt (not in source)");
    expect(run.stdout.trim().split("\n").at(-1)).toBe("dry run: would copy 3, skip 0, delete 1");
    expect(tree("dst")).toEqual(["extra.txt"]);
  });

  it("--delete mirrors: extras removed, excluded files kept", async () => {
    await writeFiles(work, { "dst/extra.txt": "x", "dst/keep.tmp": "excluded" });
    const run = await runFerry(["sync", "--delete", "--exclude", "*.tmp", "--json", "src", "dst"], {
      cwd: work,
    });
    const lines = jsonLines(run.stdout);
    expect(lines.filter((line) => line.action === "delete").map((line) => line.path)).toEqual(["extra.txt"]);
    expect(lines.at(-1)).toMatchObject({ copied: 3, deleted: 1 });
    expect(tree("dst")).toEqual(["a.txt", "b.log", "keep.tmp", "sub/c.txt"]);
  });

  it("without --delete keeps extras", async () => {
    await writeFiles(work, { "dst/extra.txt": "x" });
    await runFerry(["sync", "src", "dst"], { cwd: work });
    expect(tree("dst")).toContain("extra.txt");
  });
});

describe("Ctrl-C", () => {
  it("SIGINT aborts cleanly: exit 130, no partial files", async () => {
    const many = Object.fromEntries(
      Array.from({ length: 3000 }, (_, index) => [
        `many/f${String(index).padStart(5, "0")}.txt`,
        `file ${index}`,
      ]),
    );
    await writeFiles(work, many);
    let sent = false;
    let watching: NodeJS.Timeout | undefined;
    const run = await runFerry(["cp", "--json", "--transfers", "1", "many", "copy"], {
      cwd: work,
      onSpawn: (child) => {
        const interrupt = () => {
          if (sent) return;
          sent = true;
          clearInterval(watching);
          child.kill("SIGINT");
        };
        // Copying has begun once a file is reported, or once a temp name shows: the staging folder
        // that small local files are copied into, beside the destination, or a temp file in it.
        child.stdout?.on("data", interrupt);
        watching = setInterval(() => {
          const inCopy = existsSync(join(work, "copy")) ? readdirSync(join(work, "copy")) : [];
          if ([...readdirSync(work), ...inCopy].some((name) => name.startsWith(".ferry-tmp-"))) interrupt();
        }, 2);
      },
    });
    clearInterval(watching);
    expect(sent).toBe(true);
    expect(run.code).toBe(130);
    expect(run.stderr).toMatch(/ferry: Aborted:/);
    const copied = existsSync(join(work, "copy")) ? tree("copy") : [];
    expect(copied.length).toBeLessThan(3000);
    // Every file there is whole (no temp name, nothing cut short), and no staging folder is left.
    expect(copied.every((name) => /^f\d{5}\.txt$/.test(name))).toBe(true);
    for (const name of copied)
      expect(readFileSync(join(work, "copy", name), "utf8")).toBe(`file ${Number(name.slice(1, 6))}`);
    expect(readdirSync(work).filter((name) => name.startsWith(".ferry-tmp-"))).toEqual([]);
  });
});

describe("sizes on the command line", () => {
  it("K, M, G, T are powers of 1024, with or without i/iB; anything else is refused", () => {
    expect(parseSize("1000")).toBe(1000);
    expect(parseSize("512K")).toBe(512 * 1024);
    expect(parseSize("64M")).toBe(64 * 1024 ** 2);
    expect(parseSize("64Mi")).toBe(64 * 1024 ** 2);
    expect(parseSize("2 MiB")).toBe(2 * 1024 ** 2);
    expect(parseSize("1.5G")).toBe(1.5 * 1024 ** 3);
    expect(parseSize("1t")).toBe(1024 ** 4);
    for (const bad of ["", "M", "-1M", "1X", "1e3", "ten"])
      expect(() => parseSize(bad)).toThrow(/expected a size/);
  });
});
