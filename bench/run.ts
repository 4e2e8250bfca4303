/**
 * Runs every benchmark in one go and rebuilds BENCHMARKS.md from their results.
 *
 *   ./dev bench            full sizes (each file's header says what they are; takes a while)
 *   ./dev bench --quick    small sizes, a smoke run of every row
 *   ./dev bench tables     only the named benchmarks (transfer, tables, table-filter, catalog)
 *   ./dev bench --assemble rebuild BENCHMARKS.md from bench/results/ without running anything
 *
 * Each benchmark runs ferry and its peer (rclone, cp, md5sum, DuckDB, Polars) side by side in one run
 * against the same servers, prints a markdown table of ratios and writes bench/results/<name>.md.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { fileURLToPath } from "node:url";

const ALL = ["transfer", "tables", "table-filter", "catalog"] as const;
const root = fileURLToPath(new URL("..", import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const assembleOnly = args.includes("--assemble");
const chosen = args.filter((arg) => !arg.startsWith("--"));
const unknown = chosen.filter((name) => !(ALL as readonly string[]).includes(name));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(", ")}; choose from ${ALL.join(", ")}`);
  process.exit(2);
}
const names = chosen.length > 0 ? chosen : [...ALL];

// tables.ts runs its documented default size unless --full; the others run full sizes unless --quick.
// Full transfer runs keep each tool's best of three alternating rounds (catalog.ts does the same itself).
const sizeFlag = (name: string): string[] => {
  if (name === "tables") return quick ? [] : ["--full"];
  if (name === "table-filter") return quick ? ["--mib", "64"] : [];
  if (quick) return ["--quick"];
  return name === "transfer" ? ["--rounds", "3"] : [];
};

let failed = 0;
for (const name of assembleOnly ? [] : names) {
  console.log(`\n## ${name}\n`);
  const run = spawnSync(
    process.execPath,
    ["--conditions=@ferry/source", `bench/${name}.ts`, ...sizeFlag(name)],
    {
      cwd: root,
      stdio: "inherit",
    },
  );
  if (run.status !== 0) {
    console.error(`bench/${name}.ts exited with ${run.status ?? run.signal}`);
    failed++;
  }
}

// Each result file is a document of its own; in BENCHMARKS.md its headings sit one level lower.
const sections = ALL.filter((name) => existsSync(`${root}/bench/results/${name}.md`)).map((name) =>
  readFileSync(`${root}/bench/results/${name}.md`, "utf8")
    .trim()
    .replace(/^(#+) /gm, "#$1 "),
);
const header = `# Benchmarks

ferry side by side with the tool a user would otherwise reach for, doing the same work in the same run
against the same servers on 127.0.0.1. A ratio is ferry's time (or memory) divided by the peer's: below 1.0
ferry is faster. Regenerate with \`./dev bench\` (full sizes) or \`./dev bench --quick\`; each section says
which sizes it ran.

Machine: ${cpus().length} cores (${cpus()[0]?.model ?? "unknown CPU"}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.versions.node}, ${new Date().toISOString().slice(0, 10)}${quick ? ", --quick sizes" : ""}.
On a 2-core machine that other work shares, runs vary by ±30–50 %; each table is one run unless it says otherwise.
${existsSync(`${root}/bench/goals.md`) ? `\n${readFileSync(`${root}/bench/goals.md`, "utf8").trim()}\n` : ""}`;
writeFileSync(`${root}/BENCHMARKS.md`, `${header}\n${sections.join("\n\n")}\n`);
console.log(`\nBENCHMARKS.md rebuilt from ${sections.length} result file(s)`);
process.exit(failed === 0 ? 0 : 1);
