/**
 * The model-based sync test (tests/integration/model-sync.test.ts) over many seeds and longer
 * sequences: for each storage system against its real backend on 127.0.0.1, seeded random edits to a
 * local tree, each step followed by `cp` or `sync --delete`, the destination compared byte for byte
 * with the model after every step.
 *
 *   node bench/model-sync.ts --seeds 100            seeds 1..100, 20 steps each, every system
 *   --first <n>     first seed (default 1)
 *   --steps <n>     steps per seed (default 20)
 *   --system <text> only systems whose name contains <text> (repeatable: local, s3, gcs, azure, sftp, github)
 *   --cli <share>   share of steps through the `ferry` command (default 0.1; it costs a process start each)
 *
 * Prints each failure with its seed, the steps that led there and what differed; exits 1 if any failed.
 * Replay one: `node bench/model-sync.ts --system s3 --first 42 --seeds 1`.
 */
import { registerHooks } from "node:module";

// Run from a checkout without a build: @ferry/* packages resolve to their TypeScript source.
registerHooks({
  resolve: (specifier, context, nextResolve) =>
    nextResolve(specifier, { ...context, conditions: [...context.conditions, "@ferry/source"] }),
});

const { describeFailure, runModel } = await import("../tests/integration/run-model.ts");
const { SYSTEMS } = await import("../tests/integration/systems.ts");

const values = (flag: string) =>
  process.argv.flatMap((arg, index) =>
    arg === flag && process.argv[index + 1] ? [process.argv[index + 1]!] : [],
  );
const number = (flag: string, fallback: number) => {
  const value = Number(values(flag).at(-1) ?? fallback);
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`${flag} takes a number, not ${values(flag).at(-1)}`);
  return value;
};
const seeds = number("--seeds", 10);
const first = number("--first", 1);
const steps = number("--steps", 20);
const cliShare = number("--cli", 0.1);
const only = values("--system").map((text) => text.toLowerCase());

let failures = 0;
for (const system of SYSTEMS) {
  if (only.length > 0 && !only.some((text) => system.name.toLowerCase().includes(text))) continue;
  if (system.skip) {
    process.stdout.write(`${system.name}: skipped (${system.skip})\n`);
    continue;
  }
  const backend = await system.start();
  const started = performance.now();
  let failed = 0;
  try {
    for (let seed = first; seed < first + seeds; seed += 1) {
      const failure = await runModel(await backend.fresh(), { seed, steps, cliShare });
      if (failure) {
        failed += 1;
        process.stdout.write(`${describeFailure(system.name, failure)}\n\n`);
      }
    }
  } finally {
    await backend.stop();
  }
  failures += failed;
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  process.stdout.write(
    `${system.name}: ${seeds - failed}/${seeds} seeds held (seeds ${first}–${first + seeds - 1}, ${steps} steps each, ${seconds} s)\n`,
  );
}
process.exitCode = failures > 0 ? 1 : 0;
