/**
 * One seeded model run against one destination: random edits to a local tree, each step followed by
 * `cp` or `sync --delete` — through `copy()` / `sync()` from @ferry/core, or the `ferry` command for
 * some steps — and then the destination listed and read in full and compared with the model.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { copy, sync } from "@ferry/core";
import { differences, type Mode, random, SourceModel } from "./model.ts";
import { type Destination, PREFIX } from "./systems.ts";

const run = promisify(execFile);
const FERRY_BIN = fileURLToPath(new URL("../../packages/cli/bin/ferry.js", import.meta.url));

export interface ModelRunOptions {
  seed: number;
  steps: number;
  /** Share of steps run through the `ferry` command instead of the library (0–1). */
  cliShare?: number;
}

export interface ModelFailure {
  seed: number;
  step: number;
  /** Every step up to the failing one: operations, mode and interface. */
  history: string[];
  problems: string[];
}

/** The destination's files under PREFIX, read in full. */
export async function readTree(destination: Destination): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for await (const entry of destination.storage.list(PREFIX, { recursive: true })) {
    if (entry.kind !== "file") continue;
    files.set(
      entry.path.slice(PREFIX.length + 1),
      Buffer.from(await destination.storage.readBytes(entry.path)),
    );
  }
  return files;
}

async function transfer(
  source: string,
  destination: Destination,
  mode: Mode,
  viaCli: boolean,
): Promise<string[]> {
  if (viaCli) {
    const args = mode === "sync" ? ["sync", "--delete"] : ["cp"];
    try {
      await run(process.execPath, [FERRY_BIN, ...args, source, destination.url], {
        env: destination.env,
        timeout: 60_000,
      });
      return [];
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: string; stderr?: string };
      return [`ferry ${args.join(" ")} failed: ${stderr?.trim() || stdout?.trim() || String(error)}`];
    }
  }
  const options = { registry: destination.registry };
  const summary =
    mode === "sync"
      ? await sync(source, destination.target, { ...options, delete: true })
      : await copy(source, destination.target, options);
  return summary.errors.map(({ path, error }) => `${path}: ${error.message}`);
}

/** Runs the model; returns the first failure (with the seed and steps to replay it), or undefined. */
export async function runModel(
  destination: Destination,
  options: ModelRunOptions,
): Promise<ModelFailure | undefined> {
  const work = mkdtempSync(join(tmpdir(), "ferry-model-src-"));
  const pickInterface = random(options.seed ^ 0x5bd1e995);
  const history: string[] = [];
  try {
    const model = new SourceModel(join(work, "src"), options.seed);
    model.seed(4);
    for (let step = 0; step <= options.steps; step += 1) {
      const { operations, mode } =
        step === 0 ? { operations: ["initial tree"], mode: "copy" as const } : model.step();
      const viaCli = pickInterface() < (options.cliShare ?? 0);
      history.push(
        `${step}: ${operations.join("; ")} → ${viaCli ? "ferry" : "library"} ${mode === "sync" ? "sync --delete" : "cp"}`,
      );
      const failed = await transfer(model.root, destination, mode, viaCli);
      model.transferred(mode);
      const problems = [...failed, ...differences(await readTree(destination), model.expected)];
      if (problems.length > 0) return { seed: options.seed, step, history, problems };
    }
    return undefined;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function describeFailure(system: string, failure: ModelFailure): string {
  return [
    `${system}, seed ${failure.seed}: the destination differs from the model after step ${failure.step}`,
    ...failure.problems.map((problem) => `  ${problem}`),
    "steps:",
    ...failure.history.map((line) => `  ${line}`),
  ].join("\n");
}
