import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runExample } from "../run-example.ts";

describe("examples/walkthrough.ts", () => {
  it("runs on local storage alone and shows each step's result", async () => {
    const { code, stdout, stderr } = await runExample("walkthrough");
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const lines = stdout.split("\n");
    const listing = "[ '0.txt', '1.txt', '2.txt', '3.txt', '4.txt' ]";
    // The folder's listing, once where it was made and once where to() sent it.
    expect(lines.filter((line) => line === listing)).toHaveLength(2);
    expect(
      lines.indexOf(
        listing,
        lines.findIndex((line) => line.startsWith("copied to file://")),
      ),
    ).toBeGreaterThan(0);
    expect(stdout).toContain('3.txt there contains: "3"');
    expect(stdout).toContain("fetched 50 bytes back: identical");
    expect(stdout).toMatch(/first copy: {2}copied 20, skipped 0, deleted 0, failed 0/);
    expect(stdout).toMatch(/second copy: copied 0, skipped 20, deleted 0, failed 0/);
    expect(stdout).toContain("would copy part-07.csv (size differs)");
    expect(stdout).toContain("would delete stale.csv (not in source)");
    expect(stdout).toMatch(/sync --delete: copied 1, skipped 19, deleted 1, failed 0/);
    expect(stdout).toContain("mirror now holds 20 files, stale.csv gone");
  });

  it("cleans up after itself", async () => {
    const { stdout } = await runExample("walkthrough");
    const work = /working in (\S+)/.exec(stdout)?.[1];
    expect(work).toBeDefined();
    expect(stdout).toContain(`Done. Removed ${work}.`);
    expect(existsSync(work!)).toBe(false);
  });
});
