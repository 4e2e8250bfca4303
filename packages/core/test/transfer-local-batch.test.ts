/**
 * Many small files copied within local storage go in staged batches (local/batch-copy.ts): each file
 * appears under its name only complete, the tree arrives with one rename when the destination is new,
 * and whatever a batch does not copy is copied one by one as before.
 */
import {
  chmodSync,
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { copyBatch, SmallFileCopier, StagedTree } from "@ferry/storage-local";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { copy, LocalDriver, sync, type TransferFileEvent, type TransferProgress } from "../src/index.ts";
import { filesUnder, removeTemp, tempDir, writeTree } from "./transfer-faults.ts";

const OLD = new Date("2024-01-02T03:04:05.678Z");
const FILES = 150; // more than two batches of 64

/** Distinct contents per file, some of them in nested folders, a few empty. */
function treeOf(count: number): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  for (let index = 0; index < count; index++) {
    const bytes = new Uint8Array(index % 10 === 0 ? 0 : 1000 + index * 37);
    for (let at = 0; at < bytes.length; at += 97) bytes[at] = (index + at) & 0xff;
    const folder = index % 3 === 0 ? "" : index % 3 === 1 ? "one/" : "one/two/";
    files[`${folder}f${String(index).padStart(4, "0")}.bin`] = bytes;
  }
  return files;
}

/** Names starting with the temp prefix anywhere below `dir`, or beside it. */
function leftovers(dir: string): string[] {
  const beside = readdirSync(dirname(dir)).filter((name) => name.startsWith(".ferry-tmp-"));
  const below = existsSync(dir) ? filesUnder(dir).filter((path) => path.includes(".ferry-tmp-")) : [];
  return [...beside, ...below];
}

let source: string;
let parent: string;
let files: Record<string, Uint8Array>;

beforeEach(async () => {
  source = tempDir("batch-src");
  parent = tempDir("batch-dst");
  files = treeOf(FILES);
  await writeTree(source, files, OLD);
  chmodSync(join(source, "one", "f0001.bin"), 0o750);
  chmodSync(join(source, "f0003.bin"), 0o600);
});

afterEach(() => {
  vi.restoreAllMocks();
  removeTemp(source, parent);
});

/** How the engine copied: batches, and single copies (the usual path). */
function watchCopies() {
  return {
    batches: vi.spyOn(LocalDriver.prototype, "copyBatch"),
    singles: vi.spyOn(LocalDriver.prototype, "copy"),
  };
}

function expectSameTree(destination: string): void {
  expect(filesUnder(destination)).toEqual(Object.keys(files).sort());
  for (const [path, bytes] of Object.entries(files)) {
    expect(Buffer.compare(readFileSync(join(destination, path)), Buffer.from(bytes)), path).toBe(0);
    expect(statSync(join(destination, path)).mtime.getTime(), path).toBe(OLD.getTime());
  }
  expect(statSync(join(destination, "one", "f0001.bin")).mode & 0o777).toBe(0o750);
  expect(statSync(join(destination, "f0003.bin")).mode & 0o777).toBe(0o600);
}

describe("copying many small files within local storage", () => {
  it("copies a tree into a new folder: content, modified times and permissions, progress and events, nothing left staged", async () => {
    const destination = join(parent, "new", "tree");
    const events: TransferFileEvent[] = [];
    const reports: TransferProgress[] = [];
    const { batches, singles } = watchCopies();
    const summary = await copy(source, destination, {
      onFile: (event) => events.push(event),
      onProgress: (progress) => reports.push(progress),
    });
    const bytes = Object.values(files).reduce((total, file) => total + file.byteLength, 0);
    expect(summary).toMatchObject({ copied: FILES, failed: 0, skipped: 0, bytes });
    expect(batches).toHaveBeenCalledTimes(1);
    expect(singles).not.toHaveBeenCalled();
    expectSameTree(destination);
    expect(leftovers(destination)).toEqual([]);
    expect(events.filter((event) => event.status === "done" && event.route === "native")).toHaveLength(FILES);
    expect(reports.at(-1)).toMatchObject({ filesDone: FILES, filesTotal: FILES, bytesDone: bytes });
    // A second run finds everything in place.
    expect(await copy(source, destination)).toMatchObject({ copied: 0, skipped: FILES });
  });

  it("merges into a folder that exists: free names are moved whole, taken folders file by file, changed files replaced", async () => {
    const destination = join(parent, "existing");
    await writeTree(destination, { "one/keep.txt": "kept", "one/f0001.bin": "stale" });
    const { batches, singles } = watchCopies();
    const summary = await copy(source, destination);
    expect(summary).toMatchObject({ copied: FILES, failed: 0 });
    expect(batches).toHaveBeenCalledTimes(1);
    // The one file that replaces another is copied the usual way (temp file, rename over the old one).
    expect(singles).toHaveBeenCalledTimes(1);
    expect(singles.mock.calls[0]![1]).toMatch(/one\/f0001\.bin$/);
    expect(readFileSync(join(destination, "one", "keep.txt"), "utf8")).toBe("kept");
    expect(filesUnder(destination)).toEqual([...Object.keys(files), "one/keep.txt"].sort());
    for (const [path, bytes] of Object.entries(files))
      expect(Buffer.compare(readFileSync(join(destination, path)), Buffer.from(bytes)), path).toBe(0);
    expect(leftovers(destination)).toEqual([]);
    // sync --delete then removes only the extra.
    expect(await sync(source, destination, { delete: true })).toMatchObject({ deleted: 1, copied: 0 });
    expect(existsSync(join(destination, "one", "keep.txt"))).toBe(false);
  });

  it("into a symbolic link to a folder: the files land in the linked folder and the link stays a link", async () => {
    const real = join(parent, "real");
    await mkdir(real);
    const link = join(parent, "link");
    symlinkSync(real, link);
    const { batches, singles } = watchCopies();
    expect(await copy(source, link)).toMatchObject({ copied: FILES, failed: 0 });
    expect(batches).toHaveBeenCalledTimes(1);
    expect(singles).not.toHaveBeenCalled();
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expectSameTree(real);
    expect(leftovers(real)).toEqual([]);
  });

  it("refuses a folder copied onto a file before copying anything; a single copy under a file names the real path", async () => {
    const destination = join(parent, "a-file");
    writeFileSync(destination, "not a folder");
    const { batches, singles } = watchCopies();
    await expect(copy(source, destination)).rejects.toMatchObject({
      code: "InvalidInput",
      message: expect.stringMatching(/onto .*a-file: that is a file, not a folder/),
    });
    expect(batches).not.toHaveBeenCalled();
    expect(singles).not.toHaveBeenCalled();
    // One file below it: the usual path fails on the temp file's folder; the error is about the
    // destination (not the temp file, and not a failure to clean up after it).
    const summary = await copy(join(source, "f0003.bin"), join(destination, "inside.bin"));
    expect(summary.failed).toBe(1);
    expect(summary.errors[0]!.error.code).toBe("InvalidInput");
    expect(summary.errors[0]!.error.message).toContain(join(destination, "inside.bin"));
    expect(summary.errors[0]!.error.message).not.toContain(".ferry-tmp-");
    expect(readFileSync(destination, "utf8")).toBe("not a folder");
    expect(readdirSync(parent).filter((name) => name.startsWith(".ferry-tmp-"))).toEqual([]);
  });

  it("a batch file that cannot be placed goes the usual way: its error is typed, its bytes are not counted twice", async () => {
    // The destination has a file where the source has the folder "one": the files below it are
    // copied in the batch but cannot be moved in, so each is tried once more alone, and fails.
    const destination = join(parent, "clashing");
    await writeTree(destination, { one: "a file, not a folder" });
    const below = Object.keys(files).filter((path) => path.startsWith("one/"));
    const { batches, singles } = watchCopies();
    const reports: TransferProgress[] = [];
    const summary = await copy(source, destination, { onProgress: (progress) => reports.push(progress) });
    expect(batches).toHaveBeenCalledTimes(1);
    expect(singles).toHaveBeenCalledTimes(below.length);
    expect(summary.failed).toBe(below.length);
    expect(summary.copied).toBe(FILES - below.length);
    expect(new Set(summary.errors.map(({ error }) => error.code))).toEqual(new Set(["InvalidInput"]));
    expect(summary.errors.every(({ error }) => !error.message.includes(".ferry-tmp-"))).toBe(true);
    const copiedBytes = Object.entries(files)
      .filter(([path]) => !path.startsWith("one/"))
      .reduce((total, [, bytes]) => total + bytes.byteLength, 0);
    expect(summary.bytes).toBe(copiedBytes);
    expect(reports.at(-1)!.bytesDone).toBe(copiedBytes);
    expect(readFileSync(join(destination, "one"), "utf8")).toBe("a file, not a folder");
    expect(leftovers(destination)).toEqual([]);
  });

  it("stops between batches when aborted: the files already copied are in place and complete, nothing else", async () => {
    const destination = join(parent, "aborted");
    const controller = new AbortController();
    const { singles } = watchCopies();
    const copying = copy(source, destination, {
      signal: controller.signal,
      onProgress: (progress) => {
        if (progress.bytesDone > 0) controller.abort();
      },
    });
    await expect(copying).rejects.toMatchObject({ code: "Aborted" });
    const placed = existsSync(destination) ? filesUnder(destination) : [];
    expect(placed.length).toBeGreaterThan(0);
    expect(placed.length).toBeLessThan(FILES);
    expect(singles).not.toHaveBeenCalled();
    for (const path of placed)
      expect(Buffer.compare(readFileSync(join(destination, path)), Buffer.from(files[path]!)), path).toBe(0);
    expect(leftovers(destination)).toEqual([]);
  });
});

describe("the batch copier", () => {
  it("leaves out, with nothing written, a file whose size changed since the listing, a missing one and a folder", async () => {
    const target = join(parent, "out");
    const done = await copyBatch(target, [
      { source: join(source, "f0003.bin"), relative: "ok.bin", size: files["f0003.bin"]!.byteLength },
      { source: join(source, "f0006.bin"), relative: "grew.bin", size: 5 },
      { source: join(source, "missing.bin"), relative: "missing.bin", size: 1 },
      { source: join(source, "one"), relative: "folder", size: 0 },
    ]);
    expect(done).toEqual([true, false, false, false]);
    expect(filesUnder(target)).toEqual(["ok.bin"]);
    expect(leftovers(target)).toEqual([]);
  });

  it("during a long copy, moves what it has copied into place as it goes: the first part whole, then name by name", async () => {
    const target = join(parent, "progressive");
    const items = Object.entries(files).map(([relative, bytes]) => ({
      source: join(source, relative),
      relative,
      size: bytes.byteLength,
      mtimeMs: OLD.getTime(),
    }));
    const placements: number[][] = [];
    const done = await copyBatch(target, items, {
      placeEveryMs: 0, // after every batch of 64
      onPlaced: (indexes) => placements.push([...indexes]),
    });
    expect(done.every(Boolean)).toBe(true);
    expect(placements.map((placed) => placed.length)).toEqual([64, 64, FILES - 128]);
    expect(placements.flat().sort((a, b) => a - b)).toEqual(items.map((_, index) => index));
    expectSameTree(target);
    expect(leftovers(target)).toEqual([]);
  });

  it("does not overwrite a file that is already at a staged name, and leaves it as it was", async () => {
    const copier = new SmallFileCopier();
    const target = join(parent, "taken.bin");
    writeFileSync(target, "already here");
    expect(copier.copy(join(source, "f0003.bin"), target, files["f0003.bin"]!.byteLength, undefined)).toBe(
      false,
    );
    expect(readFileSync(target, "utf8")).toBe("already here");
  });

  it("publishes file by file when a top-level name is taken by a file, failing only what cannot move", async () => {
    const target = join(parent, "clash");
    await mkdir(target, { recursive: true });
    writeFileSync(join(target, "one"), "a file where the batch has a folder");
    const staged = new StagedTree(target);
    const items = [
      { source: "", relative: "top.bin", size: 1 },
      { source: "", relative: "one/inner.bin", size: 1 },
    ];
    await writeTree(staged.folder, { "top.bin": "t", "one/inner.bin": "i" });
    const done = [true, true];
    staged.publish((index) => items[index]!.relative, done, [0, 1]);
    staged.remove();
    expect(done).toEqual([true, false]);
    expect(readFileSync(join(target, "top.bin"), "utf8")).toBe("t");
    expect(readFileSync(join(target, "one"), "utf8")).toBe("a file where the batch has a folder");
    expect(leftovers(target)).toEqual([]);
  });
});
