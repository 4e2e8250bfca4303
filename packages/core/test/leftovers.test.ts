/**
 * The leftover rule through the public API (`storage.cleanup`): a temp name carries its writer's
 * host and pid; a dead writer's leftovers go at once, a live writer's (or another machine's) only
 * once untouched for `olderThanMs`. Nothing else is ever touched.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { localStorage } from "@ferry/core";
import { FerryError, type Storage } from "@ferry/plugin-kit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const HOST = createHash("sha256").update(hostname()).digest("hex").slice(0, 6);
const temp = (host: string, pid: number, name: string) =>
  `.ferry-tmp-${host}.${pid.toString(36)}.00aa1-${name}`;
/** A pid that existed a moment ago and does not now. */
const deadPid = () => spawnSync(process.execPath, ["-e", ""]).pid!;
const DAY = 24 * 60 * 60 * 1000;

let dir: string;
let storage: Storage;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ferry-leftovers-"));
  storage = localStorage(dir);
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

function put(path: string, ageMs = 0): void {
  mkdirSync(join(dir, path, ".."), { recursive: true });
  writeFileSync(join(dir, path), "partial");
  const when = new Date(Date.now() - ageMs);
  utimesSync(join(dir, path), when, when);
}

describe("storage.cleanup on local disk", () => {
  it("removes a dead writer's temp files and staging folders, keeps live and young ones and user files", async () => {
    const dead = deadPid();
    put(`out/${temp(HOST, dead, "a.bin")}`);
    put(`out/sub/${temp(HOST, dead, "b.bin")}`);
    mkdirSync(join(dir, temp(HOST, dead, "out")));
    put(`${temp(HOST, dead, "out")}/staged.txt`);
    put(`out/${temp(HOST, process.pid, "mine.bin")}`);
    put(`out/${temp("ffffff", dead, "other-host.bin")}`);
    put("out/.ferry-tmp-0123456789ab1-old-format.bin");
    put("out/keep.txt");
    put(`elsewhere/${temp(HOST, dead, "not-below.bin")}`);

    const dry = await storage.cleanup("out", { dryRun: true });
    expect(dry.leftovers.map((item) => [item.path, item.kind, item.status, item.reason])).toEqual([
      [temp(HOST, dead, "out"), "staging-folder", "would-remove", "writer-gone"],
      [`out/${temp(HOST, dead, "a.bin")}`, "temp-file", "would-remove", "writer-gone"],
      [`out/sub/${temp(HOST, dead, "b.bin")}`, "temp-file", "would-remove", "writer-gone"],
    ]);
    expect(existsSync(join(dir, "out", temp(HOST, dead, "a.bin")))).toBe(true);

    const result = await storage.cleanup("out");
    expect(result.leftovers.map((item) => item.status)).toEqual(["removed", "removed", "removed"]);
    expect(result.leftovers[1]!.size).toBe(7);
    expect(readdirSync(dir).sort()).toEqual(["elsewhere", "out"]);
    expect(readdirSync(join(dir, "out")).sort()).toEqual(
      [
        ".ferry-tmp-0123456789ab1-old-format.bin",
        "keep.txt",
        "sub",
        temp("ffffff", dead, "other-host.bin"),
        temp(HOST, process.pid, "mine.bin"),
      ].sort(),
    );
  });

  it("removes anything of ferry's untouched for olderThanMs (default a day), whoever wrote it", async () => {
    put(`${temp("ffffff", 1, "two-days.bin")}`, 2 * DAY);
    put(".ferry-tmp-0123456789ab1-old-format.bin", 2 * DAY);
    put(`${temp("ffffff", 1, "an-hour.bin")}`, 60 * 60 * 1000);
    put(`${temp(HOST, process.pid, "mine-old.bin")}`, 2 * DAY);
    put("user-file.bin", 3 * DAY);
    const byDefault = await storage.cleanup("");
    expect(byDefault.leftovers.map((item) => [item.path, item.reason])).toEqual([
      [".ferry-tmp-0123456789ab1-old-format.bin", "older-than"],
      [temp(HOST, process.pid, "mine-old.bin"), "older-than"],
      [temp("ffffff", 1, "two-days.bin"), "older-than"],
    ]);
    const shorter = await storage.cleanup("", { olderThanMs: 30 * 60 * 1000 });
    expect(shorter.leftovers.map((item) => item.path)).toEqual([temp("ffffff", 1, "an-hour.bin")]);
    expect(readdirSync(dir)).toEqual(["user-file.bin"]);
  });

  it("a negative olderThanMs is InvalidInput naming the option; a missing prefix has nothing to clean", async () => {
    const error = await storage.cleanup("", { olderThanMs: -1 }).catch((caught: unknown) => caught);
    expect(FerryError.isInstance(error, "InvalidInput")).toBe(true);
    expect((error as Error).message).toMatch(/^olderThanMs must be a non-negative/);
    expect(await storage.cleanup("missing/folder")).toEqual({ leftovers: [], unchecked: [] });
  });
});
