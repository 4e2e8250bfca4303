/**
 * `ferry run --put PATTERN… [--get PATTERN…] [--no-copy] -- <command>`: run a command as a
 * ShellJob and capture what it creates into the catalog. The exit code is 0 when the run
 * succeeded, the command's own exit code when it failed, and 1 when capture failed.
 */
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
      if (options.json) output.emit("summary", summary, undefined);
      if (summary.status === "SUCCESS") return EXIT.ok;
      const log = await readRun(String(summary["Unique execution id"]), { location: options.catalog });
      const exitCode = log.steps.at(-1)?.exitCode;
      return exitCode !== undefined && exitCode > 0 && exitCode < 126 ? exitCode : EXIT.failed;
    }),
  );
}
