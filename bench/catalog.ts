/**
 * Catalog capture, side by side with the commands it replaces, in one run on local disk:
 * - capture with copies of 10,000 small files and of one 2 GiB file, against `cp -r` (goal ≤ 1.3×);
 * - hash-only capture (storeCopy: false) of the same, against `md5sum` (goal ≤ 1.2×).
 *
 *   node bench/catalog.ts            full sizes (10,000 × 4 KiB, 1 × 2 GiB)
 *   node bench/catalog.ts --quick    small sizes (1,000 × 4 KiB, 1 × 128 MiB), a smoke run
 *
 * ferry runs in-process: the time is the whole `job.execute()` of a FunctionJob that does nothing,
 * so it includes matching the patterns, hashing every byte (MD5, which cp does not compute), writing
 * the run log, the execution log and the summary. Files are read once before timing so that every
 * contender starts with them in the page cache. Prints a markdown table (ratio = ferry ÷ other;
 * below 1.0 ferry is faster) and writes it to bench/results/catalog.md.
 */
import { spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { registerHooks } from "node:module";
import { cpus } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

// Run from a checkout without a build: @ferry/* packages resolve to their TypeScript source.
registerHooks({
  resolve: (specifier, context, nextResolve) =>
    nextResolve(specifier, { ...context, conditions: [...context.conditions, "@ferry/source"] }),
});

const { Catalog, FunctionJob } = await import("@ferry/core");

const quick = process.argv.includes("--quick");
const SIZES = quick
  ? { smallCount: 1_000, smallBytes: 4 * 1024, bigBytes: 128 * 1024 * 1024 }
  : { smallCount: 10_000, smallBytes: 4 * 1024, bigBytes: 2 * 1024 * 1024 * 1024 };

const here = fileURLToPath(new URL(".", import.meta.url));
const work = join(here, ".work", `catalog-${process.pid}`);

interface Row {
  name: string;
  ferry: number;
  other: number;
  otherName: string;
  goal: number;
}
const rows: Row[] = [];

function run(command: string): number {
  const started = performance.now();
  const result = spawnSync("sh", ["-c", command], {
    cwd: work,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr || result.error}`);
  return (performance.now() - started) / 1000;
}

function makeSmallFiles(dir: string, count: number, size: number): void {
  for (let index = 0; index < count; index++) {
    const sub = join(dir, `d${String(index % 100).padStart(3, "0")}`);
    if (index < 100) mkdirSync(sub, { recursive: true });
    const bytes = new Uint8Array(size);
    for (let offset = 0; offset < size; offset += 4)
      new DataView(bytes.buffer).setUint32(offset, index * 2654435761 + offset);
    writeFileSync(join(sub, `f${index}.bin`), bytes);
  }
}

function makeBigFile(path: string, size: number): void {
  const chunk = new Uint8Array(8 * 1024 * 1024);
  for (let offset = 0; offset < chunk.length; offset += 4)
    new DataView(chunk.buffer).setUint32(offset, offset * 2246822519);
  const fd = openSync(path, "w");
  for (let written = 0; written < size; written += chunk.length)
    writeSync(fd, chunk, 0, Math.min(chunk.length, size - written));
  closeSync(fd);
}

async function timeCapture(put: string, storeCopy: boolean, catalogDir: string): Promise<number> {
  const job = new FunctionJob({
    fn: () => undefined,
    catalog: new Catalog({ put: [put], storeCopy, location: catalogDir }),
  });
  const started = performance.now();
  const summary = await job.execute({ cwd: work, quiet: true });
  const seconds = (performance.now() - started) / 1000;
  if (summary.status !== "SUCCESS") throw new Error(`capture of ${put} failed: ${String(summary.Error)}`);
  return seconds;
}

mkdirSync(work, { recursive: true });
try {
  console.error(
    `preparing ${SIZES.smallCount} × ${SIZES.smallBytes} B and 1 × ${SIZES.bigBytes / 1024 / 1024} MiB in ${work}`,
  );
  makeSmallFiles(join(work, "small"), SIZES.smallCount, SIZES.smallBytes);
  makeBigFile(join(work, "big.bin"), SIZES.bigBytes);
  run("cat small/*/* big.bin > /dev/null");

  const smallCp = run("cp -r small cp-small");
  const smallFerry = await timeCapture("small", true, ".catalog-copy-small");
  rows.push({
    name: `capture ${SIZES.smallCount.toLocaleString("en")} small files (copy)`,
    ferry: smallFerry,
    other: smallCp,
    otherName: "cp -r",
    goal: 1.3,
  });

  const smallMd5 = run("find small -type f -exec md5sum {} + > /dev/null");
  const smallHash = await timeCapture("small", false, ".catalog-hash-small");
  rows.push({
    name: `capture ${SIZES.smallCount.toLocaleString("en")} small files (hash only)`,
    ferry: smallHash,
    other: smallMd5,
    otherName: "md5sum",
    goal: 1.2,
  });

  const bigCp = run("cp -r big.bin cp-big.bin");
  rmSync(join(work, "cp-big.bin"));
  const bigFerry = await timeCapture("big.bin", true, ".catalog-copy-big");
  rmSync(join(work, ".catalog-copy-big"), { recursive: true });
  rows.push({
    name: `capture 1 × ${SIZES.bigBytes / 1024 / 1024} MiB file (copy)`,
    ferry: bigFerry,
    other: bigCp,
    otherName: "cp -r",
    goal: 1.3,
  });

  const bigMd5 = run("md5sum big.bin > /dev/null");
  const bigHash = await timeCapture("big.bin", false, ".catalog-hash-big");
  rows.push({
    name: `capture 1 × ${SIZES.bigBytes / 1024 / 1024} MiB file (hash only)`,
    ferry: bigHash,
    other: bigMd5,
    otherName: "md5sum",
    goal: 1.2,
  });

  const lines = [
    `# Catalog capture${quick ? " (quick sizes)" : ""}`,
    "",
    `One run, ${new Date().toISOString().slice(0, 10)}, ${cpus().length} CPUs, Node ${process.version}, local disk, files in the page cache.`,
    "",
    "| case | ferry (s) | other (s) | ratio | goal |",
    "|---|---:|---:|---:|---:|",
    ...rows.map(
      (row) =>
        `| ${row.name} vs \`${row.otherName}\` | ${row.ferry.toFixed(2)} | ${row.other.toFixed(2)} | ${(row.ferry / row.other).toFixed(2)}× | ≤ ${row.goal}× ${row.ferry / row.other <= row.goal ? "met" : "missed"} |`,
    ),
    "",
    "ferry's time is a whole `job.execute()`: pattern matching, MD5 of every byte (cp computes none), the copies,",
    "the run log, the execution log and the summary.",
    "",
    `Floor for a capture that hashes: \`md5sum\` of the big file alone takes ${(bigMd5 / bigCp).toFixed(2)}× as long as \`cp -r\` of it,`,
    `and of the small files ${(smallMd5 / smallCp).toFixed(2)}× (ratios of the \`other\` column above).`,
    "",
  ];
  const table = lines.join("\n");
  console.log(table);
  if (!quick) {
    mkdirSync(join(here, "results"), { recursive: true });
    writeFileSync(join(here, "results", "catalog.md"), table);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
