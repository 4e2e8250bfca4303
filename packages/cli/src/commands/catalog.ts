/**
 * `ferry catalog runs | show <run> | get <run> <pattern…> | verify <run> | gc --keep N`:
 * the runs a catalog holds, on any storage (`--catalog s3://bucket/prefix`; default `.catalog`).
 */
import { gcRuns, getFromRun, listRuns, readRun, verifyRun } from "@ferry/core";
import { type Command, InvalidArgumentError } from "commander";
import { columns } from "../columns.ts";
import { action, withCommonOptions } from "../context.ts";
import { EXIT } from "../exit-codes.ts";
import { formatBytes, formatSeconds, formatTime } from "../format.ts";

interface CatalogCommandOptions {
  catalog?: string;
}

function withCatalogOptions(command: Command): Command {
  return withCommonOptions(command).option(
    "--catalog <location>",
    "where runs are kept (default .catalog in the working directory)",
  );
}

function parseKeep(value: string): number {
  const keep = Number(value);
  if (!Number.isInteger(keep) || keep < 0)
    throw new InvalidArgumentError("expected a non-negative whole number");
  return keep;
}

function duration(ms: number | undefined): string {
  return ms === undefined ? "-" : formatSeconds(ms / 1000);
}

/** `ferry catalog` and its subcommands runs, show, get, verify and gc. */
export function registerCatalogCommands(program: Command): void {
  const catalog = program
    .command("catalog")
    .description("runs captured by ferry run and jobs: list, inspect, fetch, verify, prune");
  registerCatalogRuns(catalog);
  registerCatalogShow(catalog);
  registerCatalogGet(catalog);
  registerCatalogVerify(catalog);
  registerCatalogGc(catalog);
}

function registerCatalogRuns(catalog: Command): void {
  withCatalogOptions(catalog.command("runs").description("list runs, newest first")).action(
    action(async ({ output }, options: CatalogCommandOptions) => {
      const runs = await listRuns({ location: options.catalog });
      if (output.json) {
        for (const run of runs) output.emit("run", { ...run }, undefined);
      } else if (runs.length > 0) {
        const rows = runs.map((run) => [
          run.runId,
          run.status,
          run.start ? formatTime(new Date(run.start)) : "-",
          duration(run.durationMs),
          String(run.files),
        ]);
        output.emit(
          "run",
          {},
          columns(["RUN", "STATUS", "STARTED", "DURATION", "FILES"], rows, [
            "left",
            "left",
            "left",
            "right",
            "right",
          ]),
        );
      }
      return undefined;
    }),
  );
}

function registerCatalogShow(catalog: Command): void {
  withCatalogOptions(
    catalog.command("show").description("a run's steps and catalog entries").argument("<run>"),
  ).action(
    action(async ({ output }, options: CatalogCommandOptions, runId: string) => {
      const log = await readRun(runId, { location: options.catalog });
      if (output.json) {
        output.emit("run", { ...log }, undefined);
        return undefined;
      }
      const lines = [
        `${log.runId}  ${log.status}  ${log.start}  ${duration(log.durationMs)}${log.error ? `  error: ${log.error}` : ""}`,
      ];
      for (const step of log.steps) {
        lines.push(
          `  step ${step.name} (attempt ${step.attempt}, ${step.kind})  ${step.status}  ${duration(step.durationMs)}${step.error ? `  error: ${step.error}` : ""}`,
        );
        if (step.executionLog) lines.push(`    log   ${step.executionLog}`);
        for (const note of step.notes ?? []) lines.push(`    note  ${note}`);
        for (const record of step.catalog) {
          lines.push(
            `    ${record.stage.padEnd(4)}  ${record.md5}  ${formatBytes(record.size).padStart(9)}  ${record.stored ? "copy" : "hash"}  ${record.name}`,
          );
        }
      }
      output.emit("run", {}, lines.join("\n"));
      return undefined;
    }),
  );
}

function registerCatalogGet(catalog: Command): void {
  withCatalogOptions(
    catalog
      .command("get")
      .description("bring files of a run into the working directory (checked against their recorded MD5)")
      .argument("<run>")
      .argument("<patterns...>", "names, folders or globs within the run"),
  ).action(
    action(async ({ output, signal }, options: CatalogCommandOptions, runId: string, patterns: string[]) => {
      for (const record of await getFromRun(runId, patterns, { location: options.catalog, signal })) {
        output.emit("got", { ...record }, `${record.name}  ${formatBytes(record.size)}  md5 ${record.md5}`);
      }
      return undefined;
    }),
  );
}

function registerCatalogVerify(catalog: Command): void {
  withCatalogOptions(
    catalog
      .command("verify")
      .description("re-hash a run's stored copies and hash-only files against its run log")
      .argument("<run>"),
  ).action(
    action(async ({ output, signal }, options: CatalogCommandOptions, runId: string) => {
      const report = await verifyRun(runId, { location: options.catalog, signal });
      for (const problem of report.problems) {
        output.emit(
          "problem",
          { ...problem },
          `${problem.problem.toUpperCase()}  ${problem.name}  (${problem.stored ? "stored copy" : "hash-only, working directory"}: ${problem.at})`,
        );
      }
      output.emit(
        "verified",
        { runId, ok: report.ok, checked: report.checked, problems: report.problems.length },
        `${report.checked} files checked, ${report.problems.length} problems`,
      );
      return report.ok ? EXIT.ok : EXIT.integrity;
    }),
  );
}

function registerCatalogGc(catalog: Command): void {
  withCatalogOptions(
    catalog
      .command("gc")
      .description("remove all but the newest N runs")
      .requiredOption("--keep <n>", "runs to keep", parseKeep)
      .option("--dry-run", "only list what would be removed")
      .option("--include-running", "also remove runs still marked RUNNING"),
  ).action(
    action(
      async (
        { output },
        options: CatalogCommandOptions & { keep: number; dryRun?: boolean; includeRunning?: boolean },
      ) => {
        const removed = await gcRuns({
          location: options.catalog,
          keep: options.keep,
          dryRun: options.dryRun,
          includeRunning: options.includeRunning,
        });
        for (const runId of removed)
          output.emit(
            options.dryRun ? "would-remove" : "removed",
            { runId },
            `${options.dryRun ? "would remove" : "removed"} ${runId}`,
          );
        return undefined;
      },
    ),
  );
}
