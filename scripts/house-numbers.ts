/**
 * The numbers ARCHITECTURE.md keeps about the shape of the code, measured on the checkout:
 * each package's share of product source, what `@ferry/core` exports, what importing it costs
 * (modules loaded, parquet modules among them, CPU time), and functions over 80 lines.
 *
 *   node scripts/house-numbers.ts          # a markdown table
 *   node scripts/house-numbers.ts --json
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { longFunctions } from "./long-functions.ts";

const ROOT = process.cwd();

function linesIn(dir: string): { files: number; lines: number } {
  let files = 0;
  let lines = 0;
  const walk = (path: string): void => {
    for (const name of readdirSync(path)) {
      const child = join(path, name);
      if (statSync(child).isDirectory()) walk(child);
      else if (name.endsWith(".ts")) {
        files++;
        lines += readFileSync(child, "utf8").split("\n").length - 1;
      }
    }
  };
  walk(dir);
  return { files, lines };
}

/** Product source: every published package's src/ (not the test harness, examples or benchmarks). */
export function sourceShares(): { name: string; files: number; lines: number }[] {
  const dirs = [
    ...readdirSync(join(ROOT, "packages")).map((name) => join("packages", name)),
    ...["storage", "table"].flatMap((kind) =>
      readdirSync(join(ROOT, "plugins", kind)).map((name) => join("plugins", kind, name)),
    ),
  ];
  return dirs
    .filter((dir) => statSync(join(ROOT, dir, "src"), { throwIfNoEntry: false })?.isDirectory())
    .map((dir) => ({
      name: JSON.parse(readFileSync(join(ROOT, dir, "package.json"), "utf8")).name as string,
      ...linesIn(join(ROOT, dir, "src")),
    }));
}

const PROBE = `
import { registerHooks } from "node:module";
const loaded = [];
registerHooks({ load(url, context, next) { loaded.push(url); return next(url, context); } });
const before = process.cpuUsage();
const core = await import("@ferry/core");
const imported = process.cpuUsage(before);
const { mkdirSync, mkdtempSync, writeFileSync, rmSync } = await import("node:fs");
const work = mkdtempSync(process.argv[2] + "/copy-");
mkdirSync(work + "/src");
for (let i = 0; i < 20; i++) writeFileSync(work + "/src/f" + i + ".txt", "x".repeat(i));
await core.folder(work + "/src").to(work + "/dst");
rmSync(work, { recursive: true, force: true });
const parquet = (list) => list.filter((url) => /hyparquet|\\/parquet\\/src\\//.test(url)).length;
console.log(JSON.stringify({
  exports: Object.keys(core).length,
  importCpuMs: Math.round((imported.user + imported.system) / 1000),
  modules: loaded.length,
  parquetModules: parquet(loaded),
}));
`;

/** Import @ferry/core in a fresh Node process, copy a small folder, and count what was loaded. */
export function importFootprint(): {
  exports: number;
  importCpuMs: number;
  modules: number;
  parquetModules: number;
} {
  const work = mkdtempSync(join(tmpdir(), "ferry-footprint-"));
  try {
    const probe = join(ROOT, "examples", ".footprint-probe.mjs");
    writeFileSync(probe, PROBE);
    try {
      const run = spawnSync(process.execPath, ["--conditions=@ferry/source", probe, work], {
        encoding: "utf8",
        cwd: join(ROOT, "examples"),
      });
      if (run.status !== 0) throw new Error(`the import probe failed: ${run.stderr.trim()}`);
      return JSON.parse(run.stdout.trim().split("\n").at(-1)!);
    } finally {
      rmSync(probe, { force: true });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { json: { type: "boolean", default: false } } });
  const shares = sourceShares();
  const total = shares.reduce((sum, share) => sum + share.lines, 0);
  const footprint = importFootprint();
  const long = longFunctions(ROOT, 80);
  if (values.json) {
    console.log(JSON.stringify({ shares, total, footprint, longFunctions: long }, null, 2));
  } else {
    console.log("| package | files | lines | share |\n|---|---:|---:|---:|");
    for (const share of shares.sort((a, b) => b.lines - a.lines))
      console.log(
        `| ${share.name} | ${share.files} | ${share.lines} | ${((100 * share.lines) / total).toFixed(1)} % |`,
      );
    console.log(`| all product source | | ${total} | |`);
    console.log(
      `\nImporting @ferry/core and copying a folder: ${footprint.modules} modules loaded, ${footprint.parquetModules} of them parquet; the import took ${footprint.importCpuMs} ms of CPU; ${footprint.exports} value exports.`,
    );
    console.log(`Functions over 80 lines: ${long.length}.`);
  }
}
