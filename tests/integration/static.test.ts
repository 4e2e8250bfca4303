import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const bin = (name: string) => join(root, "node_modules", ".bin", name);

function projects(): string[] {
  const found = [
    "tsconfig.json",
    "test-harness/tsconfig.json",
    "examples/tsconfig.json",
    "bench/tsconfig.json",
  ];
  for (const base of ["packages", "plugins/storage", "plugins/table"]) {
    for (const name of readdirSync(join(root, base))) {
      if (existsSync(join(root, base, name, "tsconfig.json"))) found.push(`${base}/${name}/tsconfig.json`);
    }
  }
  return found;
}

describe("static checks", () => {
  it.each(projects())("%s typechecks", (project) => {
    const run = spawnSync(bin("tsc"), ["-p", project, "--noEmit"], { cwd: root, encoding: "utf8" });
    expect(run.stdout + run.stderr).toBe("");
    expect(run.status).toBe(0);
  });

  it("biome finds no lint or format errors", () => {
    const run = spawnSync(bin("biome"), ["check", ".", "--reporter=summary"], {
      cwd: root,
      encoding: "utf8",
    });
    expect(run.status, run.stdout + run.stderr).toBe(0);
  });

  it("biome skips what git ignores (build caches such as .turbo/ are not ours to format)", () => {
    const cache = join(root, ".turbo");
    const existed = existsSync(cache);
    mkdirSync(cache, { recursive: true });
    const probe = mkdtempSync(join(cache, "probe-"));
    try {
      writeFileSync(join(probe, "probe.json"), '{"unformatted":   [1,2,\n3]}');
      const run = spawnSync(bin("biome"), ["check", ".", "--reporter=summary"], {
        cwd: root,
        encoding: "utf8",
      });
      expect(run.status, run.stdout + run.stderr).toBe(0);
    } finally {
      rmSync(existed ? probe : cache, { recursive: true, force: true });
    }
  });
});
