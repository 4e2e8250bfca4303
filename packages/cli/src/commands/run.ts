/**
 * `ferry run --put PATTERN… [--get PATTERN…] [--no-copy] -- <command>`: run a command as a
 * ShellJob and capture what it creates into the catalog. One rule for the exit status: when the
 * command ran and failed, its own status is passed through unchanged (127 included; 128 + n when a
 * signal n killed it) and named on stderr and in the summary (`exitCode`); ferry's own codes only
 * say that ferry failed (bad options, capture). With --json, the command's stdout goes to stderr
 * so that stdout stays JSON lines.
 */
import { constants } from "node:os";
import { Catalog, readRun, ShellJob } from "@ferry/core";
import type { Command } from "commander";
import { action, withCommonOptions } from "../context.ts";
import { EXIT } from "../exit-codes.ts";

/** Words after `--` as one shell command: a single word is used as written, several are quoted. */
export function shellCommand(words: readonly string[]): string {
  if (words.length === 1) return words[0]!;
  return words
    .map((word) => (/^[A-Za-z0-9_./:=@%+,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`))
    .join(" ");
}

interface RunOptions {
  put?: string[];
  get?: string[];
  copy: boolean;
  runId?: string;
  retry?: boolean;
  catalog?: string;
  name?: string;
  json?: boolean;
}

export function registerRunCommands(program: Command): void {
  withCommonOptions(
    program
      .command("run")
      .description("run a command and capture the files it creates into the catalog (.catalog/<run-id>/)")
      .argument("<command...>", "the command, after --")
      .option(
        "--put <patterns...>",
        "files to capture afterwards: names, folders, globs (relative to the working directory)",
      )
      .option("--get <patterns...>", "files to bring in first: from this run, or runs:<run-id>/<pattern>")
      .option("--no-copy", "record MD5 and size of put files without copying them")
      .option("--run-id <id>", "run id (default: FERRY_RUN_ID or {adjective}-{scientist}-{HHMM})")
      .option("--retry", "run again under an existing --run-id")
      .option("--catalog <location>", "where runs are kept (default .catalog)")
      .option("--name <name>", "step name, used for the execution log (default job)"),
  ).action(
    action(async ({ output, signal }, options: RunOptions, words: string[]) => {
      const job = new ShellJob({
        command: shellCommand(words),
        name: options.name,
        ...(options.json ? { stdout: process.stderr } : {}),
        catalog: new Catalog({
          put: options.put,
          get: options.get,
          storeCopy: options.copy,
          location: options.catalog,
        }),
      });
      const summary = await job.execute({
        runId: options.runId,
        retry: options.retry,
        signal,
        quiet: options.json === true,
      });
      const failure =
        summary.status === "SUCCESS"
          ? undefined
          : await commandFailure(String(summary["Unique execution id"]), options);
      if (options.json)
        output.emit("summary", { ...summary, ...(failure ? { exitCode: failure.status } : {}) }, undefined);
      if (summary.status === "SUCCESS") return EXIT.ok;
      if (failure === undefined) return EXIT.failed;
      process.stderr.write(`ferry: run: the command ${failure.what} (passed on as ferry's status)\n`);
      return failure.status;
    }),
  );
}

/** The failed command's status as a shell gives it, or undefined when the command itself did not fail. */
async function commandFailure(
  runId: string,
  options: RunOptions,
): Promise<{ status: number; what: string } | undefined> {
  const step = (await readRun(runId, { location: options.catalog })).steps.at(-1);
  if (step?.exitCode !== undefined && step.exitCode > 0)
    return { status: step.exitCode, what: `exited with ${step.exitCode}` };
  const signal = /killed by (SIG[A-Z0-9]+)/.exec(step?.error ?? "")?.[1];
  const number = signal ? constants.signals[signal as NodeJS.Signals] : undefined;
  return number === undefined
    ? undefined
    : { status: 128 + number, what: `was killed by ${signal} (${128 + number})` };
}
