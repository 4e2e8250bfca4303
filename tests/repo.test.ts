import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { checkAll, checkPlugin, pluginDirs } from "../scripts/check-plugin-files.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

describe("repository conventions", () => {
  it("every plugin package has the standard file set and package.json conventions", () => {
    expect(pluginDirs(root).length).toBeGreaterThanOrEqual(9);
    expect(checkAll(root)).toEqual([]);
  });

  it("the checker reports a plugin that drifts from the template", () => {
    const scratch = mkdtempSync(join(tmpdir(), "ferry-repo-"));
    try {
      const dir = join(scratch, "plugins", "storage", "odd");
      mkdirSync(join(dir, "src"), { recursive: true });
      writeFileSync(join(dir, "src", "index.ts"), "export {};\n");
      writeFileSync(
        join(dir, "package.json"),
        JSON.stringify({ name: "odd", type: "commonjs", dependencies: { "@ferry/core": "1" } }),
      );
      const problems = checkPlugin(scratch, "plugins/storage/odd");
      expect(problems).toEqual(
        expect.arrayContaining([
          expect.stringContaining("missing README.md"),
          expect.stringContaining("missing test/conformance.test.ts"),
          expect.stringContaining("expected @ferry/storage-odd"),
          expect.stringContaining('"type" must be "module"'),
          expect.stringContaining("must be a peer dependency"),
          expect.stringContaining("must not be a direct dependency"),
        ]),
      );
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
