/**
 * Kill tests: run the real `ferry` command (packages/cli/bin/ferry.js) as a child process, and
 * `kill -9` it at seeded random moments after it has started writing — what a crash, an OOM kill or
 * a lost machine does to a transfer. The caller checks what each kill left, then that a rerun
 * finishes the job and leaves nothing behind.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import {
  type Dirent,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const FERRY_BIN = fileURLToPath(new URL("../../packages/cli/bin/ferry.js", import.meta.url));

export interface FerryExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface FerryChild {
  child: ChildProcess;
  exited: Promise<FerryExit>;
}

/** Start `ferry <args>` with `env` added to this process's environment. */
export function startFerry(
  args: readonly string[],
  env: Record<string, string> = {},
  cwd?: string,
): FerryChild {
  const child = spawn(process.execPath, [FERRY_BIN, ...args], {
    cwd,
    env: { ...process.env, ...env, FORCE_COLOR: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<FerryExit>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, exited };
}

export function runFerryToEnd(args: readonly string[], env: Record<string, string> = {}): Promise<FerryExit> {
  return startFerry(args, env).exited;
}

export interface KillOptions {
  /** The ferry command line, e.g. `["cp", source, destination]`. */
  args: readonly string[];
  env?: Record<string, string>;
  /** How many times to start and kill it. */
  kills: number;
  seed: number | string;
  /** Resolves true once the destination shows that writing has begun (polled). */
  writing: () => Promise<boolean>;
  /** The kill comes up to this long after writing was seen (uniform, from the seed). */
  maxDelayMs: number;
  /** Called after each kill, with the process gone: check what is visible at the destination. */
  afterKill: (round: number) => Promise<void>;
}

export interface KillReport {
  /** Rounds in which the process was killed while running. */
  killed: number;
  /** Rounds in which it finished before the kill came. */
  finished: number;
}

/** Start the command `kills` times, each killed with SIGKILL at a seeded moment once it writes. */
export async function killRepeatedly(options: KillOptions): Promise<KillReport> {
  const random = seededRandom(options.seed);
  const report: KillReport = { killed: 0, finished: 0 };
  for (let round = 0; round < options.kills; round++) {
    const delay = Math.floor(random() * options.maxDelayMs);
    const run = startFerry(options.args, options.env);
    let done = false;
    void run.exited.then(() => {
      done = true;
    });
    while (!done && !(await options.writing())) await new Promise((resolve) => setTimeout(resolve, 5));
    if (!done) await new Promise((resolve) => setTimeout(resolve, delay));
    if (!done) run.child.kill("SIGKILL");
    const exit = await run.exited;
    if (exit.signal === "SIGKILL") report.killed += 1;
    else report.finished += 1;
    await options.afterKill(round);
  }
  return report;
}

/**
 * Start the command and kill it with SIGKILL as soon as `condition` holds (polled). Resolves true
 * when it was killed, false when it finished before the condition was ever seen.
 */
export async function killWhen(
  args: readonly string[],
  env: Record<string, string>,
  condition: () => boolean | Promise<boolean>,
): Promise<boolean> {
  const run = startFerry(args, env);
  let done = false;
  void run.exited.then(() => {
    done = true;
  });
  while (!done && !(await condition())) await new Promise((resolve) => setTimeout(resolve, 5));
  if (!done) run.child.kill("SIGKILL");
  return (await run.exited).signal === "SIGKILL";
}

/** `count` small files of seeded random bytes (1–`maxBytes` each) plus one `largeBytes` file, under `root`. */
export function writeSourceTree(
  root: string,
  options: { seed: number | string; count: number; maxBytes: number; largeBytes: number },
): Map<string, Buffer> {
  const random = seededRandom(options.seed);
  const files = new Map<string, Buffer>();
  // AES-CTR over zeros: fast, seeded bytes that no compression or dedup can shortcut.
  const stream = createCipheriv(
    "aes-128-ctr",
    createHash("md5").update(String(options.seed)).digest(),
    Buffer.alloc(16),
  );
  const fill = (size: number) => stream.update(Buffer.alloc(size));
  for (let index = 0; index < options.count; index++) {
    files.set(
      `small/d${index % 8}/f${String(index).padStart(4, "0")}.bin`,
      fill(1 + Math.floor(random() * options.maxBytes)),
    );
  }
  files.set("large.bin", fill(options.largeBytes));
  for (const [path, bytes] of files) {
    const target = join(root, ...path.split("/"));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, bytes);
  }
  return files;
}

export interface SourceTree {
  /** The folder holding the files (copy from here). */
  dir: string;
  files: Map<string, Buffer>;
  /** Delete the tree and its temp folder. */
  remove(): void;
}

/** `writeSourceTree` into a fresh temp folder. */
export function sourceTreeInTemp(options: Parameters<typeof writeSourceTree>[1]): SourceTree {
  const root = mkdtempSync(join(tmpdir(), "ferry-kill-"));
  const dir = join(root, "src");
  return {
    dir,
    files: writeSourceTree(dir, options),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** Every name below `dir` on this machine's disk, temp names included, `/`-separated; [] when missing. */
export function namesOnDisk(dir: string): string[] {
  const names: string[] = [];
  const walk = (relative: string) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(join(dir, relative), { withFileTypes: true });
    } catch {
      return; // missing, or removed while we looked (a staging folder being placed)
    }
    for (const entry of entries) {
      const path = relative === "" ? entry.name : `${relative}/${entry.name}`;
      names.push(path);
      if (entry.isDirectory()) walk(path);
    }
  };
  walk("");
  return names;
}

const isTemp = (path: string) => path.split("/").some((segment) => segment.startsWith(".ferry-tmp-"));

/** Temp files and staging folders of ferry below `dir`. */
export function tempLeftoversOnDisk(dir: string): string[] {
  return namesOnDisk(dir).filter((path) => path.split("/").at(-1)!.startsWith(".ferry-tmp-"));
}

/**
 * The files visible under their final names below `dir` (temp names are hidden from every listing),
 * and those among them that are not exactly their source's bytes.
 */
export function checkVisibleFiles(
  dir: string,
  source: ReadonlyMap<string, Buffer>,
): { visible: string[]; wrong: string[] } {
  const visible: string[] = [];
  const wrong: string[] = [];
  for (const path of namesOnDisk(dir)) {
    if (isTemp(path) || !statSync(join(dir, path)).isFile()) continue;
    visible.push(path);
    const expected = source.get(path);
    if (!expected || !readFileSync(join(dir, path)).equals(expected)) wrong.push(path);
  }
  return { visible: visible.sort(), wrong };
}

/**
 * Numbers in [0, 1) from SHA-256 of the seed and a counter. The harness is also loaded by plain Node
 * (a backend's watchdog), where workspace packages resolve to builds that do not exist: no core here.
 */
function seededRandom(seed: number | string): () => number {
  let counter = 0;
  return () => createHash("sha256").update(`${seed}:${counter++}`).digest().readUInt32BE(0) / 2 ** 32;
}
