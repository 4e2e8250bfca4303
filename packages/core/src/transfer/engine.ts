/**
 * `copy` and `sync`: one engine for Folder.to, Blob.to, Table.to and `ferry cp/sync`.
 *
 * 1. Resolve both ends, list each once, and plan (plan.ts).
 * 2. Give each copy a route: server-side when both ends are one remote storage that copies natively;
 *    on an SSH host at either end when the other end is remote too (remote.ts); otherwise streamed
 *    through this process (stream-copy.ts).
 * 3. Run the copies, a bounded number at a time, each retried on retryable errors (within local
 *    storage, new small files first go in staged batches: local/batch-copy.ts); then (sync) delete
 *    the extras — only if every copy succeeded, as rclone does.
 */

import type { Entry, Storage } from "@ferry/plugin-kit";
import { breathe, errors, FerryError, joinKey, throwIfAborted, toFerryError } from "@ferry/plugin-kit";
import pLimit from "p-limit";
import { ferry } from "../default.ts";
import { type ResolvedEndpoint, resolveEndpoint, sameStorage } from "./endpoints.ts";
import { createFilter } from "./filters.ts";
import { removeStaleLeftovers } from "./leftovers.ts";
import { buildPlan, type Plan } from "./plan.ts";
import { ProgressTracker } from "./progress.ts";
import { chooseTool, probeTools, type RemoteHost, remoteCopy } from "./remote.ts";
import { withRetries } from "./retry.ts";
import { streamCopy, verifyCopy } from "./stream-copy.ts";
import type { PlannedAction, Route, TransferEndpoint, TransferOptions, TransferSummary } from "./types.ts";

/** Copy new and changed files from `source` to `destination`; files only the destination has are kept. */
export function copy(
  source: TransferEndpoint,
  destination: TransferEndpoint,
  options: TransferOptions = {},
): Promise<TransferSummary> {
  return transfer(source, destination, { ...options, delete: false });
}

/** Make `destination` match `source`: copy new and changed files, and with `delete: true` remove the extras. */
export function sync(
  source: TransferEndpoint,
  destination: TransferEndpoint,
  options: TransferOptions = {},
): Promise<TransferSummary> {
  return transfer(source, destination, options);
}

async function transfer(
  sourceSpec: TransferEndpoint,
  destinationSpec: TransferEndpoint,
  options: TransferOptions,
): Promise<TransferSummary> {
  const started = performance.now();
  const { source, destination } = await resolveEnds(sourceSpec, destinationSpec, options);
  const plan = await planTransfer(source, destination, options);
  const copies = plan.actions.filter((action) => action.action === "copy");
  const choice = chooseRoute(source, destination, options);
  for (const action of copies) action.route = choice.route;
  const summary = newSummary(source, destination, plan, options);
  if (!options.dryRun) await runPlan(plan, copies, choice, { source, destination, options, summary });
  summary.seconds = (performance.now() - started) / 1000;
  return summary;
}

/** Both ends resolved; a destination that cannot be written is refused before anything is listed. */
async function resolveEnds(
  sourceSpec: TransferEndpoint,
  destinationSpec: TransferEndpoint,
  options: TransferOptions,
): Promise<{ source: ResolvedEndpoint; destination: ResolvedEndpoint }> {
  const registry = options.registry ?? ferry;
  const [source, destination] = await Promise.all([
    resolveEndpoint(sourceSpec, registry),
    resolveEndpoint(destinationSpec, registry),
  ]);
  if (!destination.storage.capabilities.write && !options.dryRun) {
    throw errors.unsupported(`${destination.url} is read-only`, {
      system: destination.storage.system,
      path: destination.key,
    });
  }
  return { source, destination };
}

function planTransfer(source: ResolvedEndpoint, destination: ResolvedEndpoint, options: TransferOptions) {
  return buildPlan({
    source,
    destination,
    filter: createFilter(options.include, options.exclude, options.files),
    mirror: options.delete === true,
    checksum: options.checksum === true,
    sizeOnly: options.sizeOnly === true,
    signal: options.signal,
  });
}

/** The summary of a plan before anything runs: what it skips, and its notes. */
function newSummary(
  source: ResolvedEndpoint,
  destination: ResolvedEndpoint,
  plan: Plan,
  options: TransferOptions,
): TransferSummary {
  return {
    source: source.url,
    destination: destination.url,
    dryRun: options.dryRun === true,
    copied: 0,
    skipped: plan.actions.filter((action) => action.action === "skip").length,
    deleted: 0,
    failed: 0,
    errors: [],
    bytes: 0,
    bytesThroughClient: 0,
    seconds: 0,
    notes: [...plan.notes],
    plan: plan.actions,
  };
}

/**
 * Carries out a plan: extras in the way first, then the copies (refused files count as failed), then
 * (sync) the other extras — only if every copy succeeded.
 */
async function runPlan(
  plan: Plan,
  copies: PlannedAction[],
  choice: RouteChoice,
  ends: Pick<RunContext, "source" | "destination" | "options" | "summary">,
): Promise<void> {
  const { destination, options, summary } = ends;
  await removeStaleLeftovers(destination, summary.notes, options.signal);
  const progress = new ProgressTracker(options.onProgress);
  progress.filesTotal = copies.length + plan.refused.length;
  progress.bytesTotal = copies.reduce((total, action) => total + action.size, 0);
  const context: RunContext = { ...ends, progress, ...fileOutcomes(summary, progress, options) };

  const deletions = plan.actions.filter((action) => action.action === "delete");
  // A file where the source now has a folder (or a folder where it now has a file) stands in the way
  // of copies on local disk, SFTP and in a git tree (elsewhere a key and a prefix coexist, but the
  // extra goes either way): those extras are deleted before anything is copied.
  const blocking = inTheWay(copies, deletions);
  if (blocking.length > 0) await deleteExtras(blocking, destination, options, summary);
  for (const { path, error } of plan.refused)
    context.fail({ action: "copy", path, destinationKey: path, size: 0, reason: "refused" }, error);

  await runCopies(copies, choice, plan.singleFile, context);
  throwIfAborted(options.signal);

  const deletedFirst = new Set(blocking);
  await deleteRemainingExtras(
    deletions.filter((action) => !deletedFirst.has(action)),
    context,
  );
  progress.finish();
}

/** What a file's success or failure adds to the summary and progress, and reports through onFile. */
function fileOutcomes(
  summary: TransferSummary,
  progress: ProgressTracker,
  options: TransferOptions,
): Pick<RunContext, "succeed" | "fail"> {
  return {
    succeed: (action, attempts) => {
      summary.copied += 1;
      summary.bytes += action.size;
      progress.fileDone();
      options.onFile?.({
        action: "copy",
        status: "done",
        path: action.path,
        destinationKey: action.destinationKey,
        size: action.size,
        route: action.route!,
        attempts,
      });
    },
    fail: (action, error) => {
      summary.failed += 1;
      summary.errors.push({ path: action.path, error });
      progress.fileDone();
      options.onFile?.({
        action: action.action,
        status: "failed",
        path: action.path,
        destinationKey: action.destinationKey,
        size: action.size,
        error,
      });
    },
  };
}

/** The copies on their route: remote or a local batch first where they apply, the rest one by one. */
async function runCopies(
  copies: PlannedAction[],
  { route, host }: RouteChoice,
  singleFile: boolean,
  context: RunContext,
): Promise<void> {
  let streamed = copies;
  if (route === "remote" && host && copies.length > 0) {
    streamed = await runRemote({ ...context, host, copies, singleFile, notes: context.summary.notes });
  }
  if (route === "native" && !singleFile) {
    streamed = await runLocalBatch(streamed, context.destination, context);
  }
  await runEach(streamed, context);
}

/** Sync's extras, deleted only when no copy failed (otherwise a note says why they stay). */
async function deleteRemainingExtras(rest: readonly PlannedAction[], context: RunContext): Promise<void> {
  const { summary } = context;
  if (rest.length === 0) return;
  if (summary.failed > 0) {
    summary.notes.push(
      `not deleting ${rest.length} extra file(s) at the destination because ${summary.failed} copy(ies) failed`,
    );
    return;
  }
  await deleteExtras(rest, context.destination, context.options, summary);
}

interface RouteChoice {
  route: Route;
  /** For the remote route: the end whose host runs the command. */
  host?: RemoteHost;
}

function chooseRoute(
  source: ResolvedEndpoint,
  destination: ResolvedEndpoint,
  options: TransferOptions,
): RouteChoice {
  const oneStorage = sameStorage(source.storage, destination.storage);
  // Server-side copy keeps bytes off this machine; on local disk it is the kernel's copyFile (a
  // reflink where the file system can), with the modified time carried over like a streamed copy.
  if (options.serverSide !== false && oneStorage && source.storage.capabilities.copy === "native") {
    return { route: "native" };
  }
  // Between a host we can run commands on and another remote system, the data would come back to
  // this machine only to leave again: the host sends it (push) or fetches it (pull) itself.
  if (
    options.remote !== false &&
    !oneStorage &&
    source.storage.system !== "file" &&
    destination.storage.system !== "file"
  ) {
    if (source.storage.capabilities.exec) return { route: "remote", host: "source" };
    if (destination.storage.capabilities.exec) return { route: "remote", host: "destination" };
  }
  return { route: "stream" };
}

interface RunContext {
  source: ResolvedEndpoint;
  destination: ResolvedEndpoint;
  options: TransferOptions;
  summary: TransferSummary;
  progress: ProgressTracker;
  succeed: (action: PlannedAction, attempts: number) => void;
  fail: (action: PlannedAction, error: FerryError) => void;
}

/** Files in flight when the caller does not say. */
const DEFAULT_TRANSFERS = 4;
/**
 * Small files cost round trips, not bandwidth: with no `transfers` given, files up to
 * SMALL_FILE_BYTES run this many at a time beside the large ones (memory stays ≤ 16 MiB for them).
 */
const DEFAULT_SMALL_FILE_TRANSFERS = 16;
const SMALL_FILE_BYTES = 1024 * 1024;

/** One limiter per size class; an explicit `transfers` bounds every file alike. */
function transferLimits(transfers: number | undefined) {
  if (transfers !== undefined) {
    const limit = pLimit(Math.max(1, transfers));
    return (_action: PlannedAction) => limit;
  }
  const large = pLimit(DEFAULT_TRANSFERS);
  const small = pLimit(DEFAULT_SMALL_FILE_TRANSFERS);
  return (action: PlannedAction) => (action.size <= SMALL_FILE_BYTES ? small : large);
}

/** Native and streamed copies, a bounded number at a time (transferLimits), each with its own retries. */
async function runEach(actions: readonly PlannedAction[], context: RunContext): Promise<void> {
  const { source, options, summary, progress } = context;
  const limitFor = transferLimits(options.transfers);
  await Promise.all(
    actions.map((action) =>
      limitFor(action)(async () => {
        await breathe(); // let signals, progress output and timers through between files
        if (options.signal?.aborted) return;
        let counted = 0;
        const onBytes = (bytesSoFar: number) => {
          progress.addBytes(bytesSoFar - counted);
          if (action.route === "stream") summary.bytesThroughClient += bytesSoFar - counted;
          counted = bytesSoFar;
        };
        try {
          const { attempts } = await withRetries(
            async () => {
              onBytes(0); // a retry starts the file over
              if (action.route === "native") {
                const { mtime } = action.source!;
                const written = await source.storage.copy(action.sourceKey!, action.destinationKey, {
                  signal: options.signal,
                  ...(mtime && source.storage.capabilities.setMtime ? { mtime } : {}),
                });
                await verifyCopy(jobFor(action, context), written, action.source!.md5);
                onBytes(action.size);
                return;
              }
              await streamCopy({
                ...jobFor(action, context),
                onBytes,
                partSize: options.partSize,
                partConcurrency: options.partConcurrency,
                multiThreadStreams: options.multiThreadStreams,
                multiThreadCutoff: options.multiThreadCutoff,
                multiThreadChunkSize: options.multiThreadChunkSize,
              });
              onBytes(action.size);
            },
            {
              retries: options.retries ?? 3,
              baseDelayMs: options.retryDelayMs ?? 200,
              signal: options.signal,
            },
          );
          context.succeed(action, attempts);
        } catch (error) {
          if (options.signal?.aborted) return;
          context.fail(action, toFerryError(error, { path: action.destinationKey }));
        }
      }),
    ),
  );
}

/** Below this many new small files, a batch saves too little to be worth its staging folder. */
const LOCAL_BATCH_MIN_FILES = 16;

/**
 * Within local storage, new small files are copied in batches (local/batch-copy.ts) instead of one
 * copyFile + temp name + rename each. Returns the copies left to run one by one: larger files,
 * files that replace one at the destination, and any the batch did not copy.
 */
async function runLocalBatch(
  copies: PlannedAction[],
  destination: ResolvedEndpoint,
  context: Pick<RunContext, "source" | "options" | "progress" | "succeed">,
): Promise<PlannedAction[]> {
  const { source, options, progress } = context;
  // The native route means one storage at both ends; its writes (and fsync setting) are the destination's.
  const storage = destination.storage;
  if (!storage.capabilities.batchCopy || destination.key === "") return copies;
  const maxBytes = storage.capabilities.limits.batchCopyMaxBytes ?? 0;
  const batched = copies.filter(
    (action) => action.destination === undefined && action.size <= maxBytes && action.source,
  );
  if (batched.length < LOCAL_BATCH_MIN_FILES) return copies;
  const setMtime = source.storage.capabilities.setMtime;
  const counted = new Set<number>();
  const handled = new Set<PlannedAction>();
  const done = await storage.copyBatch(
    destination.key,
    batched.map((action) => ({
      from: action.sourceKey!,
      relative: action.path,
      size: action.size,
      mtime: setMtime ? action.source!.mtime : undefined,
    })),
    {
      signal: options.signal,
      onCopied: (indexes) => {
        for (const index of indexes) {
          counted.add(index);
          progress.addBytes(batched[index]!.size);
        }
      },
      onPlaced: (indexes) => {
        for (const index of indexes) {
          handled.add(batched[index]!);
          context.succeed(batched[index]!, 1);
        }
      },
    },
  );
  done.forEach((isDone, index) => {
    // Copied, but not moved into place: it starts over one by one.
    if (!isDone && counted.has(index)) progress.addBytes(-batched[index]!.size);
  });
  return copies.filter((action) => !handled.has(action));
}

function jobFor(action: PlannedAction, { source, destination, options }: RunContext) {
  return {
    source: source.storage,
    sourceKey: action.sourceKey!,
    sourceEntry: action.source!,
    destination: destination.storage,
    destinationKey: action.destinationKey,
    signal: options.signal,
  };
}

/**
 * The remote route for a whole batch: one command on the source host, then one listing of the
 * destination to check every file arrived whole. Returns the actions left for streaming (all of
 * them when the host has no suitable tool or the command failed).
 */
async function runRemote(
  input: RunContext & { host: RemoteHost; copies: PlannedAction[]; singleFile: boolean; notes: string[] },
): Promise<PlannedAction[]> {
  const { source, destination, copies, options, notes, summary } = input;
  const [hostEnd, otherEnd] = input.host === "source" ? [source, destination] : [destination, source];
  const hostName = hostEnd.storage.root;
  const fallBack = (why: string) => {
    notes.push(`${why}; streamed through this machine instead`);
    for (const action of copies) action.route = "stream";
    return copies;
  };
  const installed = await probeTools(hostEnd.storage, options.remoteEnv, options.signal);
  const tool = chooseTool(installed, otherEnd);
  if (!tool) {
    const reach = input.host === "source" ? "write to" : "read from";
    return fallBack(
      `no ferry, rclone or aws CLI on ${hostName} that can ${reach} ${otherEnd.storage.system}`,
    );
  }
  const sourceFileCount = summary.plan.filter((action) => action.action !== "delete").length;
  const result = await remoteCopy({
    tool,
    host: input.host,
    source,
    destination,
    actions: copies,
    singleFile: input.singleFile,
    wholeTree: copies.length === sourceFileCount,
    env: options.remoteEnv,
    signal: options.signal,
  });
  summary.bytesThroughClient += result.bytesThroughClient;
  throwIfAborted(options.signal);
  if (result.exitCode !== 0)
    return fallBack(`${tool} on ${hostName} failed (exit ${result.exitCode}: ${result.message})`);
  notes.push(`copied on ${hostName} with ${tool}`);

  // One listing of the destination instead of a stat per file.
  const arrived = new Map<string, Entry>();
  const listed = input.singleFile ? [copies[0]!.destinationKey] : undefined;
  if (listed) {
    const entry = await destination.storage
      .stat(listed[0]!, { signal: options.signal })
      .catch(() => undefined);
    if (entry) arrived.set(entry.path, entry);
  } else {
    for await (const entry of destination.storage.list(destination.key, {
      recursive: true,
      signal: options.signal,
    }))
      arrived.set(entry.path, entry);
  }
  const missing: PlannedAction[] = [];
  for (const action of copies) {
    const entry = arrived.get(action.destinationKey);
    if (!entry) {
      missing.push({ ...action, route: "stream" });
      continue;
    }
    try {
      await verifyCopy(jobFor(action, input), entry, action.source!.md5);
      input.progress.addBytes(action.size);
      input.succeed(action, 1);
    } catch (error) {
      input.fail(action, toFerryError(error));
    }
  }
  if (missing.length > 0)
    notes.push(`${missing.length} file(s) did not arrive through ${tool}; streamed them instead`);
  return missing;
}

function parentsOf(path: string): string[] {
  const parts = path.split("/");
  return parts.slice(0, -1).map((_, index) => parts.slice(0, index + 1).join("/"));
}

/** Deletions whose file is a folder of a copy, or lies inside a path a copy makes a file. */
function inTheWay(copies: readonly PlannedAction[], deletions: readonly PlannedAction[]): PlannedAction[] {
  if (copies.length === 0 || deletions.length === 0) return [];
  const copied = new Set(copies.map((action) => action.path));
  const folders = new Set(copies.flatMap((action) => parentsOf(action.path)));
  return deletions.filter(
    (action) => folders.has(action.path) || parentsOf(action.path).some((parent) => copied.has(parent)),
  );
}

/**
 * Delete extras, then — where folders are real — the folders that left empty (deepest first), so that
 * the destination holds what the source holds and a file can later take a folder's name.
 */
async function deleteExtras(
  deletions: readonly PlannedAction[],
  destination: ResolvedEndpoint,
  options: TransferOptions,
  summary: TransferSummary,
): Promise<void> {
  const { storage } = destination;
  const failedBefore = summary.failed;
  await runDeletes(deletions, storage, options, summary);
  if (storage.capabilities.directories !== "real" || summary.failed > failedBefore) return;
  const emptied = new Set(deletions.flatMap((action) => parentsOf(action.path)));
  const deepestFirst = [...emptied].sort((a, b) => b.split("/").length - a.split("/").length);
  for (const folder of deepestFirst) {
    // A folder that still holds something is refused (InvalidInput) and stays, as it should.
    await storage.delete([joinKey(destination.key, folder)], { signal: options.signal }).catch((error) => {
      if (FerryError.isInstance(error, "Aborted")) throw error;
    });
  }
}

async function runDeletes(
  deletions: readonly PlannedAction[],
  storage: Storage,
  options: TransferOptions,
  summary: TransferSummary,
): Promise<void> {
  const keys = deletions.map((action) => action.destinationKey);
  try {
    await storage.delete(keys, { signal: options.signal });
    summary.deleted += deletions.length;
    for (const action of deletions) {
      options.onFile?.({
        action: "delete",
        status: "done",
        path: action.path,
        destinationKey: action.destinationKey,
        size: 0,
      });
    }
  } catch (error) {
    const failure = toFerryError(error);
    if (FerryError.isInstance(failure, "Aborted")) throw failure;
    summary.failed += deletions.length;
    summary.errors.push({ path: deletions[0]!.path, error: failure });
  }
}
