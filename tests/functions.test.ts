import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { longFunctionsIn } from "../scripts/long-functions.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const MAX_LINES = 80;

/** Files whose functions have been split to at most MAX_LINES lines; more join as they are shortened. */
const SHORT_FUNCTION_FILES = [
  "packages/cli/src/commands/storage.ts",
  "packages/cli/src/commands/catalog.ts",
  "packages/cli/src/commands/registry.ts",
  "packages/conformance/src/table.ts",
  "packages/conformance/src/storage/faults.ts",
  "test-harness/src/fault-proxy.ts",
  "test-harness/src/sshd.ts",
  "packages/core/src/transfer/engine.ts",
  "packages/core/src/transfer/plan.ts",
  "plugins/table/arrow/src/to-arrow.ts",
  "plugins/table/arrow/src/from-arrow.ts",
  "packages/parquet/src/writer.ts",
  "packages/parquet/src/parts-writer.ts",
  "packages/parquet/src/parquet-schema.ts",
  "packages/cli/src/commands/table.ts",
];

/** A function with a block body of `lines` lines in all, braces included. */
function functionOf(lines: number): string {
  const body = Array.from({ length: lines - 2 }, (_, i) => `  const v${i}: number = ${i};`);
  return ["export function long(): void {", ...body, "}", ""].join("\n");
}

describe(`no function over ${MAX_LINES} lines`, () => {
  it.each(SHORT_FUNCTION_FILES)("%s", (file) => {
    const found = longFunctionsIn(join(root, file), MAX_LINES, root);
    expect(found.map((fn) => `${fn.file}:${fn.line} ${fn.name} (${fn.lines} lines)`)).toEqual([]);
  });

  it(`the check finds a function of ${MAX_LINES + 1} lines and passes one of ${MAX_LINES}`, () => {
    const scratch = mkdtempSync(join(tmpdir(), "ferry-functions-"));
    try {
      const long = join(scratch, "long.ts");
      writeFileSync(long, functionOf(MAX_LINES + 1));
      expect(longFunctionsIn(long, MAX_LINES, scratch)).toEqual([
        { file: "long.ts", line: 1, name: "long", lines: MAX_LINES + 1 },
      ]);
      writeFileSync(long, functionOf(MAX_LINES));
      expect(longFunctionsIn(long, MAX_LINES, scratch)).toEqual([]);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
