import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { longFunctions, longFunctionsIn } from "../scripts/long-functions.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const MAX_LINES = 80;

/** A function with a block body of `lines` lines in all, braces included. */
function functionOf(lines: number): string {
  const body = Array.from({ length: lines - 2 }, (_, i) => `  const v${i}: number = ${i};`);
  return ["export function long(): void {", ...body, "}", ""].join("\n");
}

/** A scratch directory for the length of `use`, removed after. */
function inScratch(use: (scratch: string) => void): void {
  const scratch = mkdtempSync(join(tmpdir(), "ferry-functions-"));
  try {
    use(scratch);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

describe(`no function over ${MAX_LINES} lines`, () => {
  it("in any product source file (every package's, plugin's and the test harness's src/)", () => {
    const found = longFunctions(root, MAX_LINES);
    expect(found.map((fn) => `${fn.file}:${fn.line} ${fn.name} (${fn.lines} lines)`)).toEqual([]);
  });

  it(`the check finds a function of ${MAX_LINES + 1} lines and passes one of ${MAX_LINES}`, () => {
    inScratch((scratch) => {
      const long = join(scratch, "long.ts");
      writeFileSync(long, functionOf(MAX_LINES + 1));
      expect(longFunctionsIn(long, MAX_LINES, scratch)).toEqual([
        { file: "long.ts", line: 1, name: "long", lines: MAX_LINES + 1 },
      ]);
      writeFileSync(long, functionOf(MAX_LINES));
      expect(longFunctionsIn(long, MAX_LINES, scratch)).toEqual([]);
    });
  });

  it("the check reads every src/ of packages, plugins and the test harness, and no test file", () => {
    inScratch((scratch) => {
      const files = [
        "packages/a/src/long.ts",
        "packages/a/src/deep/long.ts",
        "plugins/storage/b/src/long.ts",
        "test-harness/src/long.ts",
        "packages/a/test/long.ts",
        "packages/a/node_modules/c/src/long.ts",
      ];
      for (const file of files) {
        mkdirSync(join(scratch, dirname(file)), { recursive: true });
        writeFileSync(join(scratch, file), functionOf(MAX_LINES + 1));
      }
      expect(
        longFunctions(scratch, MAX_LINES)
          .map((fn) => fn.file)
          .sort(),
      ).toEqual(files.slice(0, 4).sort());
    });
  });
});
