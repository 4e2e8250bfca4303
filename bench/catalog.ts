/**
 * Catalog capture, side by side with the commands it replaces, in one run on local disk:
 * - capture with copies of 10,000 small files and of one 2 GiB file, against `cp -r` (goal ≤ 1.3×);
 * - hash-only capture (storeCopy: false) of the same, against `md5sum` (goal ≤ 1.2×).
 *
 *   node bench/catalog.ts            full sizes (10,000 × 4 KiB, 1 × 2 GiB)
 *   node bench/catalog.ts --quick    small sizes (1,000 × 4 KiB, 1 × 128 MiB), a smoke run
 *   node bench/catalog.ts --only small|big   only the small-file or the big-file rows (the notes
 *                                    comparing them are printed only when both ran)
 *   node bench/catalog.ts --rounds N         best of N rounds instead of 3
 *
 * ferry runs in-process: the time is the whole `job.execute()` of a FunctionJob that does nothing,
 * so it includes matching the patterns, hashing every byte (MD5, which cp does not compute), writing
 * the run log, the execution log and the summary. Files are read once before timing so that every
 * contender starts with them in the page cache, and dirty pages are written back (`sync`, untimed)
 * before each contender runs; three rounds of all contenders, each keeps its best.
 * Prints a markdown table (ratio = ferry ÷ other, below 1.0 ferry is faster; floor = the least any
 * capture can take, see the notes it prints) and writes it to bench/results/catalog.md.
 */
import { spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { registerHooks } from "node:module";
import { cpus } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

// Run from a checkout without a build: @ferry/* packages resolve to their TypeScript source.
registerHooks({
  resolve: (specifier, context, nextResolve) =>
    nextResolve(specifier, { ...context, conditions: [...context.conditions, "@ferry/source"] }),
});

const { Catalog, FunctionJob } = await import("@ferry/core");

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    rounds: { type: "string", default: "3" },
  },
});
const rounds = Number(flags.rounds);
if (!Number.isInteger(rounds) || rounds < 1)
  throw new Error(`--rounds takes a positive whole number, not ${flags.rounds}`);
const quick = flags.quick;
if (flags.only !== undefined && flags.only !== "small" && flags.only !== "big")
  throw new Error(`--only takes "small" or "big", not ${JSON.stringify(flags.only)}`);
const only = flags.only as "small" | "big" | undefined;
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
  /** The least a capture can take: it must MD5 every byte (and, with copies, also write them). */
  floor: number;
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

/**
 * Rounds of all four contenders, one after the other; each keeps its best time. Alternating them
 * means a burst of other work on the machine (disk or CPU) hits every contender, not just one.
 */
const REPEATS = rounds;

/**
 * Copies of the small files are kept until every round is done, each in a folder of its own. ext4
 * without a journal (as on the machines this runs on) does not reuse an inode freed within the last
 * minute or so, and while thousands of them are that fresh every new file's inode search walks past
 * them (`recently_deleted` leads a kernel profile of `cp -r`): removing one contender's 10,000 copies
 * would slow the next contender's file creation several times over. The large file is one inode, and
 * 2 GiB per copy would add up, so its copies are removed at once.
 */
const copiesToRemove: string[] = [];
function dispose(relative: string, keep: boolean): void {
  if (keep) copiesToRemove.push(relative);
  else rmSync(join(work, relative), { recursive: true });
}
let copyNumber = 0;

/**
 * Write back dirty pages (the files just made, the last contender's copies) before timing the next
 * contender, so that none is timed while the kernel flushes another's data.
 */
function settle(): void {
  run("sync");
}

/** `cp -r` of `source` into a fresh folder. */
function timeCp(source: string, keep: boolean): number {
  const target = `cp-copy-${++copyNumber}`;
  const seconds = run(`cp -r ${source} ${target}`);
  dispose(target, keep);
  return seconds;
}

/** A capture of `put` into a fresh catalog. */
async function timeCapture(put: string, storeCopy: boolean, keep: boolean): Promise<number> {
  const catalogDir = `.catalog-bench-${++copyNumber}`;
  const job = new FunctionJob({
    fn: () => undefined,
    catalog: new Catalog({ put: [put], storeCopy, location: catalogDir }),
  });
  const started = performance.now();
  const summary = await job.execute({ cwd: work, quiet: true });
  const seconds = (performance.now() - started) / 1000;
  dispose(catalogDir, keep);
  if (summary.status !== "SUCCESS") throw new Error(`capture of ${put} failed: ${String(summary.Error)}`);
  return seconds;
}

mkdirSync(work, { recursive: true });
try {
  console.error(
    `preparing ${SIZES.smallCount} × ${SIZES.smallBytes} B and 1 × ${SIZES.bigBytes / 1024 / 1024} MiB in ${work}`,
  );
  const cases = [
    {
      kind: "small",
      label: `${SIZES.smallCount.toLocaleString("en")} small files`,
      put: "small",
      md5: "find small -type f -exec md5sum {} +",
      make: () => makeSmallFiles(join(work, "small"), SIZES.smallCount, SIZES.smallBytes),
      warm: "cat small/*/* > /dev/null",
    },
    {
      kind: "big",
      label: `1 × ${SIZES.bigBytes / 1024 / 1024} MiB file`,
      put: "big.bin",
      md5: "md5sum big.bin",
      make: () => makeBigFile(join(work, "big.bin"), SIZES.bigBytes),
      warm: "cat big.bin > /dev/null",
    },
  ].filter((entry) => only === undefined || entry.kind === only);
  /** cp -r and md5sum times per case, for the notes under the table. */
  const peers = new Map<string, { cp: number; md5sum: number }>();
  for (const { kind, label, put, md5, make, warm } of cases) {
    // Each case's files are made just before its rounds: 2 GiB still being written back to disk
    // would otherwise be competing with the small-file rounds.
    make();
    run(warm);
    const keep = kind === "small";
    let [cp, md5sum, copy, hashOnly] = [Infinity, Infinity, Infinity, Infinity];
    for (let round = 0; round < REPEATS; round++) {
      settle();
      cp = Math.min(cp, timeCp(put, keep));
      settle();
      copy = Math.min(copy, await timeCapture(put, true, keep));
      settle();
      md5sum = Math.min(md5sum, run(`${md5} > /dev/null`));
      settle();
      hashOnly = Math.min(hashOnly, await timeCapture(put, false, keep));
    }
    for (const relative of copiesToRemove.splice(0)) rmSync(join(work, relative), { recursive: true });
    peers.set(kind, { cp, md5sum });
    rows.push(
      {
        name: `capture ${label} (copy)`,
        ferry: copy,
        other: cp,
        otherName: "cp -r",
        goal: 1.3,
        floor: Math.max(cp, md5sum),
      },
      {
        name: `capture ${label} (hash only)`,
        ferry: hashOnly,
        other: md5sum,
        otherName: "md5sum",
        goal: 1.2,
        floor: md5sum,
      },
    );
  }
  const big = peers.get("big");
  const small = peers.get("small");

  const lines = [
    `# Catalog capture${quick ? " (quick sizes)" : ""}`,
    "",
    `Best of ${REPEATS} alternating rounds, ${new Date().toISOString().slice(0, 10)}, ${cpus().length} CPUs, Node ${process.version}, local disk, files in the page cache.`,
    "",
    "| case | ferry (s) | other (s) | ratio | goal | floor (s) | ferry ÷ floor |",
    "|---|---:|---:|---:|---:|---:|---:|",
    ...rows.map(
      (row) =>
        `| ${row.name} vs \`${row.otherName}\` | ${row.ferry.toFixed(2)} | ${row.other.toFixed(2)} | ${(row.ferry / row.other).toFixed(2)}× | ≤ ${row.goal}× ${row.ferry / row.other <= row.goal ? "met" : "missed"} | ${row.floor.toFixed(2)} | ${(row.ferry / row.floor).toFixed(2)}× |`,
    ),
    "",
    "ferry's time is a whole `job.execute()`: pattern matching, MD5 of every byte (cp computes none), the copies,",
    "the run log, the execution log and the summary.",
    "",
    "Floor: a capture must read every byte to MD5 it, so its floor is `md5sum` of the same files (both are bound",
    "by one core's MD5 speed); with copies it must also write them, so its floor is the slower of `md5sum` and",
    "`cp -r` (on two or more CPUs the kernel copy and the hash run side by side). `cp -r` of one large file",
    "on Linux is a kernel copy (`copy_file_range`, or a reflink where the file system can) that never brings",
    ...(big
      ? [
          "the bytes into user space:",
          `here \`md5sum\` of the big file alone takes ${(big.md5sum / big.cp).toFixed(2)}× as long as \`cp -r\` of it, so the`,
          `≤ 1.3× goal against \`cp -r\` ${big.md5sum / big.cp > 1.3 ? "cannot be met by anything that hashes the file" : "is within reach"}.`,
        ]
      : ["the bytes into user space."]),
    ...(small
      ? [
          `For the small files \`md5sum\` takes ${(small.md5sum / small.cp).toFixed(2)}× as long as \`cp -r\`.`,
        ]
      : []),
    "",
  ];
  const table = lines.join("\n");
  console.log(table);
  // Only a full run of every row replaces the recorded results.
  if (!quick && only === undefined) {
    mkdirSync(join(here, "results"), { recursive: true });
    writeFileSync(join(here, "results", "catalog.md"), table);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
