/**
 * Tree-transfer semantics (research: conformance checklist, group Q): what a directory copy takes,
 * where it lands, and how globs select — decided once, the rclone way, and pinned here.
 */
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { copy, createFilter } from "../src/index.ts";
import { filesUnder, removeTemp, tempDir, writeTree } from "./transfer-faults.ts";

let source: string;
let target: string;

beforeEach(async () => {
  source = tempDir("tree");
  target = tempDir("target");
  // fsspec's fixture tree, plus a file sharing a directory's name prefix.
  await writeTree(source, {
    file1: "1",
    file2: "2",
    "subdir.txt": "not the directory",
    "subdir/subfile1": "s1",
    "subdir/subfile2": "s2",
    "subdir/nesteddir/nestedfile": "n",
  });
});

afterEach(() => removeTemp(source, target));

describe("where a tree copy lands", () => {
  it("a directory's contents go into the destination, trailing slashes or not", async () => {
    for (const [from, to] of [
      [join(source, "subdir"), join(target, "a")],
      [`${join(source, "subdir")}/`, join(target, "b")],
      [join(source, "subdir"), `${join(target, "c")}/`],
      [`${join(source, "subdir")}/`, `${join(target, "d")}/`],
    ] as const) {
      await copy(from, to);
    }
    for (const name of ["a", "b", "c", "d"]) {
      expect(filesUnder(join(target, name))).toEqual(["nesteddir/nestedfile", "subfile1", "subfile2"]);
    }
  });

  it("copying again into the now existing target does not nest a second copy (unlike cp -r)", async () => {
    await copy(join(source, "subdir"), join(target, "copy"));
    const again = await copy(join(source, "subdir"), join(target, "copy"));
    expect(again).toMatchObject({ copied: 0, skipped: 3 });
    expect(filesUnder(join(target, "copy"))).toEqual(["nesteddir/nestedfile", "subfile1", "subfile2"]);
  });

  it("a directory and a file sharing its name prefix stay apart", async () => {
    await copy(join(source, "subdir"), join(target, "dir"));
    expect(filesUnder(join(target, "dir"))).not.toContain("subdir.txt");
    await copy(join(source, "subdir.txt"), `${target}/`);
    expect(filesUnder(target)).toContain("subdir.txt");
  });

  it("a file may be copied into a directory above it, but not onto itself", async () => {
    const up = await copy(join(source, "subdir/nesteddir/nestedfile"), `${source}/`);
    expect(up.copied).toBe(1);
    expect(filesUnder(source)).toContain("nestedfile");
    await expect(copy(join(source, "file1"), `${source}/`)).rejects.toMatchObject({ code: "InvalidInput" });
    await expect(copy(join(source, "file1"), join(source, "file1"))).rejects.toMatchObject({
      code: "InvalidInput",
    });
  });

  it("a file goes to a new name, into an existing directory, or into a new one named with a slash", async () => {
    await copy(join(source, "file1"), join(target, "renamed"));
    await writeTree(target, { "existing/keep": "k" });
    await copy(join(source, "file1"), join(target, "existing"));
    await copy(join(source, "file2"), `${join(target, "newdir")}/`);
    expect(filesUnder(target)).toEqual(["existing/file1", "existing/keep", "newdir/file2", "renamed"]);
  });
});

describe("glob selection", () => {
  const paths = [
    "file1",
    "file2",
    "subdir.txt",
    "subdir/subfile1",
    "subdir/subfile2",
    "subdir/nesteddir/nestedfile",
  ];
  const select = (include: string[], exclude: string[] = []) => paths.filter(createFilter(include, exclude));

  it.each([
    [["fil?1"], ["file1"]],
    [["file[1-2]"], ["file1", "file2"]],
    [["*1"], ["file1", "subdir/subfile1"]],
    [["subdir/*"], ["subdir/subfile1", "subdir/subfile2"]],
    [["subdir/**"], ["subdir/subfile1", "subdir/subfile2", "subdir/nesteddir/nestedfile"]],
    [["**/nested*"], ["subdir/nesteddir/nestedfile"]],
    [["/file1"], ["file1"]],
    [["*.txt"], ["subdir.txt"]],
    [
      ["subdir/*/nestedfile", "file2"],
      ["file2", "subdir/nesteddir/nestedfile"],
    ],
  ])("include %j selects %j", (include, expected) => {
    expect(select(include)).toEqual(expected);
  });

  it("a pattern without a slash matches base names at any depth; one with a slash matches from the root", () => {
    expect(select(["subfile1"])).toEqual(["subdir/subfile1"]);
    expect(select(["nesteddir/nestedfile"])).toEqual([]);
  });

  it("excludes win over includes, and with no includes everything else is in", () => {
    expect(select(["subdir/**"], ["nesteddir/**", "**/nesteddir/**"])).toEqual([
      "subdir/subfile1",
      "subdir/subfile2",
    ]);
    expect(select([], ["subdir/**"])).toEqual(["file1", "file2", "subdir.txt"]);
  });

  it("a files list restricts the transfer to exactly those paths", () => {
    expect(paths.filter(createFilter([], [], ["/subdir/subfile2", "file1", "not-there"]))).toEqual([
      "file1",
      "subdir/subfile2",
    ]);
  });
});
