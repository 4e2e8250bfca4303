/**
 * `kill -9` of `ferry cp` into local disk at seeded moments: no file is ever visible cut short, and the
 * next run finishes the copy and removes what the killed runs left (temp files, staging folders).
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  checkVisibleFiles,
  killRepeatedly,
  killWhen,
  runFerryToEnd,
  tempLeftoversOnDisk,
  writeSourceTree,
} from "@ferry/test-harness";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { jsonLines, makeTemp, removeTemp } from "../run-ferry.ts";

let work: string;
let source: Map<string, Buffer>;

beforeEach(async () => {
  work = await makeTemp("kill");
  source = writeSourceTree(join(work, "src"), {
    seed: 15,
    count: 200,
    maxBytes: 64 * 1024,
    largeBytes: 48 * 1024 ** 2,
  });
});

afterEach(() => removeTemp(work));

const leftovers = () => tempLeftoversOnDisk(work);

/** Every file visible under a final name at the destination is complete and identical to its source. */
function expectOnlyWholeFiles(): string[] {
  const { visible, wrong } = checkVisibleFiles(join(work, "dst"), source);
  expect(wrong).toEqual([]);
  return visible;
}

function expectDestinationEqualsSource(): void {
  expect(expectOnlyWholeFiles()).toEqual([...source.keys()].sort());
}

/** The large file's temp file at the destination holds bytes: its copy is in flight. */
function largeTempHasBytes(): boolean {
  const destination = join(work, "dst");
  const names = existsSync(destination) ? readdirSync(destination) : [];
  return names.some(
    (name) =>
      name.startsWith(".ferry-tmp-") &&
      name.endsWith("-large.bin") &&
      (statSync(join(destination, name), { throwIfNoEntry: false })?.size ?? 0) > 0,
  );
}

const copyArgs = () => ["cp", "--json", join(work, "src"), join(work, "dst")];
const writing = async () => existsSync(join(work, "dst")) || leftovers().length > 0;

describe("kill -9 during ferry cp into local disk", () => {
  it("never shows a partial file; the rerun completes the copy and removes every leftover", async () => {
    // One kill certain (the large file in flight), then more at seeded moments.
    expect(await killWhen(copyArgs(), {}, largeTempHasBytes)).toBe(true);
    expectOnlyWholeFiles();
    await killRepeatedly({
      args: copyArgs(),
      kills: 4,
      seed: 4,
      maxDelayMs: 400,
      writing,
      afterKill: async () => {
        expectOnlyWholeFiles();
      },
    });
    const left = leftovers();
    const rerun = await runFerryToEnd(copyArgs());
    expect(rerun.code, rerun.stderr).toBe(0);
    expectDestinationEqualsSource();
    expect(leftovers()).toEqual([]);
    if (left.length > 0) {
      const summary = jsonLines(rerun.stdout).find((line) => line.event === "summary");
      expect(String(summary?.notes)).toMatch(/removed \d+ leftover\(s\) of interrupted writes/);
    }
  }, 60_000);

  it("ferry cleanup lists (--dry-run) then removes the temp file of a killed large copy", async () => {
    // Killed as soon as the large file's temp file holds bytes: a leftover is certain.
    expect(await killWhen(copyArgs(), {}, largeTempHasBytes)).toBe(true);
    const before = leftovers();
    expect(before.length).toBeGreaterThan(0);

    const dry = await runFerryToEnd(["cleanup", "--dry-run", "--json", join(work, "dst")]);
    expect(dry.code, dry.stderr).toBe(0);
    const listed = jsonLines(dry.stdout).filter((line) => line.event === "leftover");
    expect(listed.map((line) => line.status)).toEqual(listed.map(() => "would-remove"));
    expect(listed.every((line) => line.reason === "writer-gone")).toBe(true);
    expect(listed.some((line) => String(line.path).endsWith("-large.bin"))).toBe(true);
    expect(leftovers()).toEqual(before);

    const clean = await runFerryToEnd(["cleanup", join(work, "dst")]);
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stdout).toMatch(/^removed {2}temp-file .*-large\.bin/m);
    expect(clean.stdout.trim().split("\n").at(-1)).toMatch(
      new RegExp(`^removed ${listed.length}, failed 0: `),
    );
    expect(leftovers()).toEqual([]);
    expectOnlyWholeFiles();
  }, 60_000);
});
