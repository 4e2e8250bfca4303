import { readFileSync, statSync } from "node:fs";
import { utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FerryError } from "@ferry/plugin-kit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { copy, localStorage, sync, type TransferFileEvent, type TransferProgress } from "../src/index.ts";
import { filesUnder, removeTemp, tempDir, writeTree } from "./transfer-faults.ts";

const OLD = new Date("2024-01-02T03:04:05.678Z");

let source: string;
let destination: string;

beforeEach(async () => {
  source = tempDir("src");
  destination = tempDir("dst");
  await writeTree(
    source,
    {
      "a.txt": "alpha",
      "b.bin": new Uint8Array(70_000).fill(7),
      "nested/c.txt": "charlie",
      "nested/deeper/d.log": "delta log",
    },
    OLD,
  );
});

afterEach(() => removeTemp(source, destination));

describe("copy between two local directories", () => {
  it("copies a tree, keeping structure, content and modified times", async () => {
    const summary = await copy(source, destination);
    expect(summary).toMatchObject({
      copied: 4,
      skipped: 0,
      deleted: 0,
      failed: 0,
      bytes: 5 + 70_000 + 7 + 9,
    });
    expect(filesUnder(destination)).toEqual(["a.txt", "b.bin", "nested/c.txt", "nested/deeper/d.log"]);
    expect(readFileSync(join(destination, "nested/c.txt"), "utf8")).toBe("charlie");
    expect(statSync(join(destination, "a.txt")).mtime.getTime()).toBe(OLD.getTime());
    // The kernel copies local files (copyFile): no byte passes through this process.
    expect(summary.bytesThroughClient).toBe(0);
  });

  it("streams local files when server-side copy is turned off, carrying the modified time too", async () => {
    const summary = await copy(source, destination, { serverSide: false });
    expect(summary).toMatchObject({ copied: 4, failed: 0 });
    expect(statSync(join(destination, "nested/deeper/d.log")).mtime.getTime()).toBe(OLD.getTime());
    expect(summary.bytesThroughClient).toBe(summary.bytes);
    expect((await copy(source, destination)).skipped).toBe(4);
  });

  it("skips unchanged files on a second run", async () => {
    await copy(source, destination);
    const second = await copy(source, destination);
    expect(second).toMatchObject({ copied: 0, skipped: 4, failed: 0, bytes: 0 });
    expect(
      second.plan.every(
        (action) => action.action === "skip" && action.reason === "same size and modified time",
      ),
    ).toBe(true);
  });

  it("overwrites changed files (new size, or same size and a new time) and keeps destination extras", async () => {
    await copy(source, destination);
    await writeFile(join(destination, "extra.txt"), "only here");
    await writeFile(join(source, "a.txt"), "alpha, longer now");
    await writeFile(join(source, "nested/c.txt"), "CHARLIE"); // same size, new modified time
    const summary = await copy(source, destination);
    expect(summary).toMatchObject({ copied: 2, skipped: 2, deleted: 0 });
    const reasons = Object.fromEntries(summary.plan.map((action) => [action.path, action.reason]));
    expect(reasons).toMatchObject({ "a.txt": "size differs", "nested/c.txt": "modified time differs" });
    expect(readFileSync(join(destination, "a.txt"), "utf8")).toBe("alpha, longer now");
    expect(readFileSync(join(destination, "nested/c.txt"), "utf8")).toBe("CHARLIE");
    expect(readFileSync(join(destination, "extra.txt"), "utf8")).toBe("only here");
  });

  it("with checksum compares content, not times", async () => {
    await copy(source, destination);
    // Same size, same time, different bytes: invisible to size + time, caught by the hash.
    await writeFile(join(source, "a.txt"), "ALPHA");
    await utimes(join(source, "a.txt"), OLD, OLD);
    expect(
      (await copy(source, destination, { dryRun: true })).plan.find((action) => action.path === "a.txt")
        ?.action,
    ).toBe("skip");
    const summary = await copy(source, destination, { checksum: true });
    expect(summary).toMatchObject({ copied: 1, skipped: 3 });
    expect(summary.plan.find((action) => action.path === "a.txt")?.reason).toBe("hash differs");
    expect(readFileSync(join(destination, "a.txt"), "utf8")).toBe("ALPHA");
  });

  it("copies a single file to a new name or into a directory", async () => {
    const named = await copy(join(source, "a.txt"), join(destination, "renamed.txt"));
    expect(named.copied).toBe(1);
    const into = await copy(join(source, "nested/c.txt"), `${join(destination, "inbox")}/`);
    expect(into.plan[0]).toMatchObject({ path: "c.txt", action: "copy" });
    expect(filesUnder(destination)).toEqual(["inbox/c.txt", "renamed.txt"]);
    expect((await copy(join(source, "a.txt"), join(destination, "renamed.txt"))).skipped).toBe(1);
  });

  it("applies include and exclude globs", async () => {
    const onlyText = await copy(source, destination, { include: ["*.txt"] });
    expect(onlyText.plan.map((action) => action.path)).toEqual(["a.txt", "nested/c.txt"]);
    removeTemp(destination);
    const notNested = await copy(source, destination, { exclude: ["nested/**"] });
    expect(notNested.copied).toBe(2);
    expect(filesUnder(destination)).toEqual(["a.txt", "b.bin"]);
    const both = await copy(source, tempDir("both"), { include: ["nested/**"], exclude: ["*.log"] });
    expect(both.plan.map((action) => action.path)).toEqual(["nested/c.txt"]);
    removeTemp(both.destination.replace(/^file:\/\//, ""));
  });

  it("dry run returns the plan and touches nothing", async () => {
    await writeTree(destination, { "a.txt": "stale", "extra.txt": "x" });
    const before = filesUnder(destination);
    const plan = await sync(source, destination, { dryRun: true, delete: true });
    expect(plan.dryRun).toBe(true);
    expect(plan.copied).toBe(0);
    expect(plan.plan.map((action) => [action.path, action.action])).toEqual([
      ["a.txt", "copy"],
      ["b.bin", "copy"],
      ["extra.txt", "delete"],
      ["nested/c.txt", "copy"],
      ["nested/deeper/d.log", "copy"],
    ]);
    expect(filesUnder(destination)).toEqual(before);
    expect(readFileSync(join(destination, "a.txt"), "utf8")).toBe("stale");
  });

  it("reports progress and one event per file", async () => {
    const reports: TransferProgress[] = [];
    const events: TransferFileEvent[] = [];
    await copy(source, destination, {
      onProgress: (progress) => reports.push(progress),
      onFile: (event) => events.push(event),
      transfers: 2,
    });
    const last = reports.at(-1)!;
    expect(last).toMatchObject({
      filesDone: 4,
      filesTotal: 4,
      bytesDone: 70_021,
      bytesTotal: 70_021,
      etaSeconds: 0,
    });
    for (let index = 1; index < reports.length; index += 1) {
      expect(reports[index]!.bytesDone).toBeGreaterThanOrEqual(reports[index - 1]!.bytesDone);
    }
    expect(events.map((event) => `${event.action}:${event.status}:${event.path}`).sort()).toEqual([
      "copy:done:a.txt",
      "copy:done:b.bin",
      "copy:done:nested/c.txt",
      "copy:done:nested/deeper/d.log",
    ]);
    expect(events.every((event) => event.route === "native" && event.attempts === 1)).toBe(true);
  });

  it("refuses to copy a directory into itself, and names a missing source", async () => {
    await expect(copy(source, join(source, "nested/inner"))).rejects.toMatchObject({ code: "InvalidInput" });
    const missing = await copy(join(source, "nope"), destination).catch((error: unknown) => error);
    expect(FerryError.isInstance(missing, "NotFound")).toBe(true);
    expect((missing as Error).message).toContain("nope");
  });

  it("refuses keys that escape their root", async () => {
    const escaped = await copy(
      { storage: localStorage(source), path: "../../etc/passwd" },
      destination,
    ).catch((error: unknown) => error);
    expect(FerryError.isInstance(escaped, "InvalidInput")).toBe(true);
  });
});

describe("sync", () => {
  it("deletes only the extras, and nothing it was told to exclude", async () => {
    await copy(source, destination);
    await writeTree(destination, {
      "extra.txt": "x",
      "nested/extra.bin": "y",
      "keep.log": "excluded, so kept",
    });
    const mirror = await sync(source, destination, { delete: true, exclude: ["keep.log"] });
    expect(mirror).toMatchObject({ copied: 0, skipped: 4, deleted: 2, failed: 0 });
    expect(filesUnder(destination)).toEqual([
      "a.txt",
      "b.bin",
      "keep.log",
      "nested/c.txt",
      "nested/deeper/d.log",
    ]);
  });

  it("without delete keeps extras", async () => {
    await writeTree(destination, { "extra.txt": "x" });
    const result = await sync(source, destination);
    expect(result).toMatchObject({ copied: 4, deleted: 0 });
    expect(filesUnder(destination)).toContain("extra.txt");
  });
});
