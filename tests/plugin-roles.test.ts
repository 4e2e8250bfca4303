import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { checkRoles, pluginDirs, REQUIRED_ROLES } from "../scripts/check-plugin-files.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

describe("one file per role in storage plugins", () => {
  const storagePlugins = pluginDirs(root).filter((dir) => dir.startsWith("plugins/storage/"));

  it.each(storagePlugins)("%s has the role files and at most one subfolder", (dir) => {
    expect(checkRoles(root, dir)).toEqual([]);
  });

  it("the checker names a missing role, a file outside the roles and a second subfolder", () => {
    const scratch = mkdtempSync(join(tmpdir(), "ferry-roles-"));
    try {
      const src = join(scratch, "plugins", "storage", "odd", "src");
      mkdirSync(join(src, "ssh"), { recursive: true });
      mkdirSync(join(src, "extra"));
      for (const role of REQUIRED_ROLES.filter((name) => name !== "list.ts"))
        writeFileSync(join(src, role), "export {};\n");
      writeFileSync(join(src, "pool.ts"), "export {};\n");
      expect(checkRoles(scratch, "plugins/storage/odd")).toEqual([
        "plugins/storage/odd: missing src/list.ts",
        "plugins/storage/odd: src/pool.ts is not a role file (move it into the plugin's one subfolder)",
        "plugins/storage/odd: src/ has 2 subfolders (extra, ssh); at most one",
      ]);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
