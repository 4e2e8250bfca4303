/** `ferry cleanup` from a user's side: flags, output, and what it never touches. */
import { mkdirSync, readdirSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { jsonLines, makeTemp, removeTemp, runFerry } from "../run-ferry.ts";

let work: string;

beforeEach(async () => {
  work = await makeTemp("cleanup");
});

afterEach(() => removeTemp(work));

/** A temp name of another machine's ferry: only the age rule applies to it. */
const foreign = (name: string) => `.ferry-tmp-ffffff.1.00aa1-${name}`;

function put(path: string, ageMs: number): void {
  mkdirSync(join(work, path, ".."), { recursive: true });
  writeFileSync(join(work, path), "partial bytes");
  const when = new Date(Date.now() - ageMs);
  utimesSync(join(work, path), when, when);
}

describe("ferry cleanup", () => {
  it("--older-than decides for leftovers whose writer cannot be checked; user files are never touched", async () => {
    put(`out/${foreign("hour.bin")}`, 60 * 60 * 1000);
    put(`out/deep/${foreign("two-days.bin")}`, 2 * 24 * 60 * 60 * 1000);
    put("out/data.bin", 3 * 24 * 60 * 60 * 1000);

    const byDefault = await runFerry(["cleanup", "--json", join(work, "out")]);
    expect(byDefault.code, byDefault.stderr).toBe(0);
    const lines = jsonLines(byDefault.stdout);
    expect(lines.filter((line) => line.event === "leftover")).toEqual([
      expect.objectContaining({
        path: join(work, "out/deep", foreign("two-days.bin")).slice(1),
        kind: "temp-file",
        status: "removed",
        reason: "older-than",
        size: 13,
      }),
    ]);
    expect(lines.at(-1)).toMatchObject({ event: "summary", removed: 1, failed: 0, bytes: 13, unchecked: [] });

    const shorter = await runFerry(["cleanup", "--older-than", "30m", join(work, "out")]);
    expect(shorter.code, shorter.stderr).toBe(0);
    expect(shorter.stdout).toMatch(/^removed {2}temp-file file:\/\/.*hour\.bin \(13 B\)$/m);
    expect(readdirSync(join(work, "out")).sort()).toEqual(["data.bin", "deep"]);
    expect(readdirSync(join(work, "out/deep"))).toEqual([]);
  });

  it("a malformed --older-than is a usage error naming the flag, and nothing is removed", async () => {
    put(`out/${foreign("old.bin")}`, 2 * 24 * 60 * 60 * 1000);
    const run = await runFerry(["cleanup", "--older-than", "5x", join(work, "out")]);
    expect(run.code).toBe(2);
    expect(run.stderr.split("\n")[0]).toBe(
      "ferry: InvalidInput: option '--older-than <age>' argument '5x' is invalid. expected an age such as 90s, 30m, 24h or 7d",
    );
    expect(readdirSync(join(work, "out"))).toEqual([foreign("old.bin")]);
  });
});
