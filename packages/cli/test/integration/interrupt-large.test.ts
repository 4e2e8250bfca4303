/**
 * Ctrl-C during one large local → local copy stops it at once: nothing placed, no temp file left.
 * (A copy handed whole to the kernel cannot be stopped, and used to be placed after the interrupt.)
 */

import { spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTemp, removeTemp, runFerry } from "../run-ferry.ts";

/** Sparse, so making it costs nothing; copying it writes every byte (several seconds here). */
const LARGE = 4 * 1024 ** 3;

let work: string;

beforeEach(async () => {
  work = await makeTemp("interrupt");
});

afterEach(() => removeTemp(work));

const tempNames = (dir: string): string[] =>
  existsSync(dir) ? readdirSync(dir).filter((name) => name.startsWith(".ferry-tmp-")) : [];

/** Where the temp dir's file system shares blocks, a copy is a reflink: instant, nothing to interrupt. */
function reflinkHere(): boolean {
  const dir = mkdtempSync(join(tmpdir(), "ferry-reflink-"));
  try {
    writeFileSync(join(dir, "a"), "x");
    return spawnSync("cp", ["--reflink=always", join(dir, "a"), join(dir, "b")]).status === 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.skipIf(reflinkHere())("Ctrl-C on a large local copy", () => {
  it("exits 130 before the copy finishes, with nothing placed and no temp file left", async () => {
    const source = join(work, "src");
    const destination = join(work, "dst");
    mkdirSync(source);
    const fd = openSync(join(source, "large.bin"), "w");
    ftruncateSync(fd, LARGE);
    closeSync(fd);
    let bytesWhenInterrupted = -1;
    let watching: NodeJS.Timeout | undefined;
    const run = await runFerry(["cp", "src", "dst"], {
      cwd: work,
      onSpawn: (child) => {
        // The copy has started once its temp file holds bytes.
        watching = setInterval(() => {
          for (const dir of [work, destination]) {
            for (const name of tempNames(dir)) {
              const size = statSync(join(dir, name), { throwIfNoEntry: false })?.size ?? 0;
              if (size === 0 || bytesWhenInterrupted >= 0) continue;
              bytesWhenInterrupted = size;
              clearInterval(watching);
              child.kill("SIGINT");
            }
          }
        }, 5);
      },
    });
    clearInterval(watching);
    expect(bytesWhenInterrupted).toBeGreaterThan(0);
    expect(bytesWhenInterrupted).toBeLessThan(LARGE);
    expect(run.code).toBe(130);
    expect(run.stderr).toMatch(/ferry: Aborted:/);
    expect(existsSync(join(destination, "large.bin"))).toBe(false);
    expect([...tempNames(work), ...tempNames(destination)]).toEqual([]);
  }, 60_000);
});
