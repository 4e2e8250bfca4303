/**
 * A full destination disk is named as such, with the destination's path (not the source's), and
 * leaves nothing behind. Needs a small tmpfs (root and mount permission); skipped with the reason
 * where mounting is not allowed.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonLines, makeTemp, removeTemp, runFerry } from "../run-ferry.ts";

let work: string;
let full: string;
let skipReason: string | undefined;

beforeAll(async () => {
  work = await makeTemp("disk-full");
  full = join(work, "full");
  mkdirSync(full);
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", full], { stdio: "pipe" });
  } catch (error) {
    skipReason = `cannot mount a 2 MiB tmpfs here: ${String((error as Error).message).split("\n")[0]}`;
  }
  mkdirSync(join(work, "src"));
  mkdirSync(join(work, "job"));
  // A job's outputs: one file larger than the tmpfs, and small files that fill it partway through.
  writeFileSync(join(work, "job", "big.bin"), Buffer.alloc(3 * 1024 * 1024, 7));
  for (let index = 0; index < 30; index += 1)
    writeFileSync(
      join(work, "job", `part-${String(index).padStart(2, "0")}.bin`),
      Buffer.alloc(100_000, index),
    );
  // Deterministic bytes, larger than the tmpfs.
  const big = Buffer.alloc(3 * 1024 * 1024);
  for (let index = 0; index < big.length; index += 1) big[index] = (index * 31 + 7) & 0xff;
  writeFileSync(join(work, "src", "big.bin"), big);
});

afterAll(async () => {
  if (!skipReason) execFileSync("umount", [full]);
  await removeTemp(work);
});

describe("a full local disk", () => {
  it("cp names the destination that is full, and leaves no partial file", async (context) => {
    if (skipReason) context.skip(skipReason);
    const source = join(work, "src", "big.bin");
    const target = join(full, "big.bin");
    const run = await runFerry(["cp", "--json", source, target]);
    expect(run.code).not.toBe(0);
    const failed = jsonLines(run.stdout).find((line) => line.event === "file" && line.status === "failed");
    const error = failed?.error as { message: string; path: string };
    expect(error.message).toMatch(/no space left/);
    expect(error.message).toContain(target);
    expect(error.message).not.toContain(source);
    expect(error.path).toBe(target);
    expect(readdirSync(full)).toEqual([]);
  });

  for (const [what, put] of [
    ["a large file", "big.bin"],
    ["many small files", "part-*.bin"],
  ] as const) {
    it(`a catalog capture of ${what} names the catalog's file that did not fit, and leaves no temp`, async (context) => {
      if (skipReason) context.skip(skipReason);
      const catalog = join(full, `catalog-${put.length}`);
      const run = await runFerry(["run", "--catalog", catalog, "--put", put, "--", "true"], {
        cwd: join(work, "job"),
      });
      expect(run.code).toBe(1);
      const summary = JSON.parse(run.stdout.slice(run.stdout.indexOf("{"))) as {
        status: string;
        Error: string;
      };
      expect(summary.status).toBe("FAIL");
      expect(summary.Error).toMatch(/^no space left on the device \(ENOSPC\) writing /);
      expect(summary.Error).toContain(catalog);
      expect(summary.Error).not.toContain(join(work, "job"));
      const left = execFileSync("find", [catalog, "-name", ".ferry-tmp*"], { encoding: "utf8" });
      expect(left).toBe("");
    });
  }
});
