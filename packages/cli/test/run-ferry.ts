/** Runs the real `ferry` command (bin/ferry.js) as a child process, as a user's shell would. */
import {
  type ChildProcess,
  type ChildProcessByStdio,
  type SpawnOptionsWithStdioTuple,
  spawn,
} from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";

export const FERRY_BIN = fileURLToPath(new URL("../bin/ferry.js", import.meta.url));

export interface FerryRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  input?: string;
  /** Added to this process's environment; `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  /** Variables removed from the child's environment (a user who never set them). */
  unset?: readonly string[];
  /** Called once the child exists (to send it signals). */
  onSpawn?: (child: ChildProcess) => void;
}

export function runFerry(args: readonly string[], options: RunOptions = {}): Promise<FerryRun> {
  return collect(spawn(process.execPath, [FERRY_BIN, ...args], spawnOptions(options)), options);
}

/** Runs a shell command line (`sh -c`), e.g. ferry piped into another command. */
export function runShell(script: string, options: RunOptions = {}): Promise<FerryRun> {
  return collect(spawn("sh", ["-c", script], spawnOptions(options)), options);
}

function spawnOptions(options: RunOptions): SpawnOptionsWithStdioTuple<"pipe", "pipe", "pipe"> {
  return {
    cwd: options.cwd,
    env: Object.fromEntries(
      Object.entries({ ...process.env, ...options.env, FORCE_COLOR: "0" }).filter(
        ([name, value]) => value !== undefined && !options.unset?.includes(name),
      ),
    ) as NodeJS.ProcessEnv,
    stdio: ["pipe", "pipe", "pipe"],
  };
}

function collect(
  child: ChildProcessByStdio<Writable, Readable, Readable>,
  options: RunOptions,
): Promise<FerryRun> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
    child.stdin.end(options.input ?? "");
    options.onSpawn?.(child);
  });
}

/** Parse JSON-lines output. */
export function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

export async function makeTemp(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `ferry-cli-${prefix}-`));
}

export async function removeTemp(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export async function writeFiles(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
}
