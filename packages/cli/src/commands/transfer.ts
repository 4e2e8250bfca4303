/**
 * `ferry cp` and `ferry sync`, with rclone's flags. A directory source copies its contents into the
 * destination (as rclone does, trailing slashes do not matter); a file source goes to the
 * destination's name, or inside it when it is a directory or ends with `/`.
 */
import { readFile } from "node:fs/promises";
import {
  copy,
  ferry,
  type PlannedAction,
  sync,
  type TransferFileEvent,
  type TransferOptions,
  type TransferSummary,
} from "@ferry/core";
import { errors, formatLocation, type Location, withPath } from "@ferry/plugin-kit";
import { type Command, InvalidArgumentError } from "commander";
import { action, type CommandContext, withCommonOptions } from "../context.ts";
import { EXIT, exitCodeFor } from "../exit-codes.ts";
import { formatBytes, formatSeconds } from "../format.ts";
import { errorRecord, type Output } from "../output.ts";
import { ProgressBar } from "../progress.ts";
import { parseNonNegative } from "./storage.ts";

interface TransferFlags {
  dryRun?: boolean;
  checksum?: boolean;
  sizeOnly?: boolean;
  transfers?: number;
  retries?: number;
  multiThreadStreams?: number;
  multiThreadCutoff?: number;
  include: string[];
  exclude: string[];
  filesFrom?: string;
  progress: boolean;
  delete?: boolean;
  json?: boolean;
}

const collectRepeated = (value: string, previous: string[]) => [...previous, value];

function transferCommand(program: Command, name: "cp" | "sync", description: string): Command {
  return withCommonOptions(
    program
      .command(name)
      .description(description)
      .argument("<source>", "file or directory: path or URL")
      .argument("<destination>", "path or URL")
      .option("-n, --dry-run", "show what would be done, change nothing")
      .option("-c, --checksum", "skip files by size and hash instead of size and modified time")
      .option("--size-only", "skip files whose size matches, whatever their time or hash")
      .option(
        "--transfers <n>",
        "files in flight at once (default: 4, plus up to 16 small files)",
        parsePositive,
      )
      .option("--retries <n>", "retries of a file after a transient error", parseNonNegative, 3)
      .option(
        "--multi-thread-streams <n>",
        "ranged streams for one large file bound for local disk (default 4; 1 turns them off)",
        parsePositive,
      )
      .option(
        "--multi-thread-cutoff <size>",
        "files from this size up use --multi-thread-streams (default 64M; K, M, G, T are powers of 1024)",
        parseSize,
      )
      .option("--include <glob>", "only paths matching (repeatable)", collectRepeated, [])
      .option("--exclude <glob>", "leave out paths matching (repeatable)", collectRepeated, [])
      .option("--files-from <file>", "only the paths listed in this file, one per line ('-' for stdin)")
      .option("--no-progress", "no progress bar, even on a terminal"),
  );
}

export function registerTransferCommands(program: Command): void {
  transferCommand(
    program,
    "cp",
    "copy new and changed files; files only the destination has are kept",
  ).action(
    action((context, flags: TransferFlags, source: string, destination: string) =>
      runTransfer(context, flags, "cp", source, destination),
    ),
  );
  transferCommand(
    program,
    "sync",
    "make the destination match the source (with --delete, remove what the source lacks)",
  )
    .option("--delete", "delete destination files the source does not have (after every copy succeeded)")
    .action(
      action((context, flags: TransferFlags, source: string, destination: string) =>
        runTransfer(context, flags, "sync", source, destination),
      ),
    );
}

async function runTransfer(
  { output, signal }: CommandContext,
  flags: TransferFlags,
  command: "cp" | "sync",
  source: string,
  destination: string,
): Promise<number> {
  // Read once here (its plugin's grammar included) and handed to the engine as it is.
  const target = await ferry.locate(destination);
  const bar =
    flags.progress && !output.json && process.stderr.isTTY && !flags.dryRun ? new ProgressBar() : undefined;
  const options: TransferOptions = {
    signal,
    dryRun: flags.dryRun === true,
    checksum: flags.checksum === true,
    sizeOnly: flags.sizeOnly === true,
    // Unset lets the engine run up to 16 small files beside 4 large ones; a number bounds every file.
    ...(flags.transfers === undefined ? {} : { transfers: flags.transfers }),
    retries: flags.retries ?? 3,
    ...(flags.multiThreadStreams === undefined ? {} : { multiThreadStreams: flags.multiThreadStreams }),
    ...(flags.multiThreadCutoff === undefined ? {} : { multiThreadCutoff: flags.multiThreadCutoff }),
    include: flags.include,
    exclude: flags.exclude,
    delete: command === "sync" && flags.delete === true,
    onFile: (event) => reportFile(output, event, bar, target),
    ...(bar ? { onProgress: (progress) => bar.update(progress) } : {}),
    ...(flags.filesFrom ? { files: await readFileList(flags.filesFrom) } : {}),
  };
  let summary: TransferSummary;
  try {
    const to = { location: target, directory: destination.endsWith("/") };
    summary = await (command === "sync" ? sync : copy)(source, to, options);
  } finally {
    bar?.stop();
  }
  if (summary.dryRun) for (const planned of summary.plan) reportPlanned(output, planned, target);
  for (const note of summary.notes) output.note(note);
  reportSummary(output, summary);
  const code = transferExitCode(summary);
  if (summary.failed > 0) {
    const kinds = [...new Set(summary.errors.map(({ error }) => error.code))];
    const what = `${summary.failed} ${summary.failed === 1 ? "file" : "files"} failed`;
    // One failed file: its own message, which names it; several: the count (each has its line above).
    const only = summary.failed === 1 ? summary.errors[0]?.error.message : undefined;
    if (kinds.length === 1) output.failure(kinds[0]!, only ?? what);
    else output.failure("Failed", `${what} (${kinds.join(", ")})`);
  }
  return code;
}

/**
 * 0 when nothing failed; when every failure is of one kind, that kind's code (all PermissionDenied: 4,
 * all Integrity: 6, all Transient after the retries: 8); 1 when they are mixed.
 */
export function transferExitCode(summary: Pick<TransferSummary, "failed" | "errors">): number {
  if (summary.failed === 0) return EXIT.ok;
  const codes = new Set(summary.errors.map(({ error }) => error.code));
  return codes.size === 1 ? exitCodeFor([...codes][0]!) : EXIT.failed;
}

/** Where a file goes, as a person would name it: an absolute path for local files, a URL otherwise. */
function destinationOf(target: Location, key: string): string {
  return formatLocation(withPath(target, key));
}

function reportFile(
  output: Output,
  event: TransferFileEvent,
  bar: ProgressBar | undefined,
  target: Location,
): void {
  if (bar && event.status === "done") return; // the bar shows progress; failures still get a line
  const verb = event.action === "delete" ? "deleted" : "copied";
  const plain =
    event.status === "failed"
      ? `failed  ${event.path}: ${event.error?.code}: ${event.error?.message}`
      : `${verb}  ${event.path}${event.action === "copy" ? ` (${formatBytes(event.size)}${event.route && event.route !== "stream" ? `, ${event.route}` : ""})` : ""}`;
  const record = {
    action: event.action,
    status: event.status,
    path: event.path,
    destination: destinationOf(target, event.destinationKey),
    size: event.size,
    ...(event.route ? { route: event.route } : {}),
    ...(event.attempts ? { attempts: event.attempts } : {}),
    ...(event.error ? { error: errorRecord(event.error) } : {}),
  };
  // On a terminal the line goes above the bar (stdout and stderr are the same screen).
  if (bar && process.stdout.isTTY) bar.log(plain, process.stdout);
  else output.emit("file", record, plain);
}

function reportPlanned(output: Output, planned: PlannedAction, target: Location): void {
  const record = {
    action: planned.action,
    path: planned.path,
    destination: destinationOf(target, planned.destinationKey),
    // The file's size, whatever is done with it (the plan's own `size` is what will move: 0 for skip/delete).
    size: planned.source?.size ?? planned.destination?.size ?? planned.size,
    reason: planned.reason,
  };
  const plain =
    planned.action === "skip" ? undefined : `would ${planned.action}  ${planned.path} (${planned.reason})`;
  output.emit("plan", record, plain);
}

function reportSummary(output: Output, summary: TransferSummary): void {
  const rate = summary.seconds > 0 ? `, ${formatBytes(Math.round(summary.bytes / summary.seconds))}/s` : "";
  const plain = summary.dryRun
    ? `dry run: would copy ${summary.plan.filter((a) => a.action === "copy").length}, skip ${summary.skipped}, delete ${summary.plan.filter((a) => a.action === "delete").length}`
    : `copied ${summary.copied}, skipped ${summary.skipped}, deleted ${summary.deleted}, failed ${summary.failed}: ` +
      `${formatBytes(summary.bytes)} in ${formatSeconds(summary.seconds)}${rate}` +
      (summary.bytesThroughClient !== summary.bytes
        ? ` (${formatBytes(summary.bytesThroughClient)} through this machine)`
        : "");
  const { plan: _plan, errors: failures, ...counts } = summary;
  output.emit("summary", { ...counts, errors: failures.map(({ path, error }) => ({ path, error })) }, plain);
}

async function readFileList(file: string): Promise<string[]> {
  const text = file === "-" ? await readStdin() : await readFile(file, "utf8").catch(fileListError(file));
  return text.split(/\r?\n/).filter((line) => line !== "" && !line.startsWith("#"));
}

/** A --files-from file that cannot be read, named as the flag the user gave. */
function fileListError(file: string): (error: NodeJS.ErrnoException) => never {
  return (error) => {
    const where = `--files-from ${file}`;
    if (error.code === "ENOENT")
      throw errors.notFound(`${where}: no such file`, { system: "file", cause: error });
    if (error.code === "EACCES" || error.code === "EPERM")
      throw errors.permissionDenied(`${where}: permission denied`, { system: "file", cause: error });
    if (error.code === "EISDIR")
      throw errors.invalidInput(`${where}: is a directory, not a list of paths`, {
        system: "file",
        cause: error,
      });
    throw errors.unexpected(`${where}: ${error.message}`, { system: "file", cause: error });
  };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function parsePositive(value: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 1)
    throw new InvalidArgumentError("expected a whole number of at least 1");
  return number;
}

const SIZE_UNITS: Record<string, number> = { "": 1, B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** `64M`, `1.5G`, `512K`, `1000`: bytes, the suffixes powers of 1024 as in rclone (`Mi`, `MiB` also accepted). */
export function parseSize(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([BKMGT]?)(?:iB|i|B)?$/i.exec(value.trim());
  const bytes = match ? Math.round(Number(match[1]) * SIZE_UNITS[match[2]!.toUpperCase()]!) : Number.NaN;
  if (!Number.isSafeInteger(bytes))
    throw new InvalidArgumentError(`expected a size such as 64M, 1.5G or 1000, got ${JSON.stringify(value)}`);
  return bytes;
}
