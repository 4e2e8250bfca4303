/** The two stages of a step's catalog: get (before the job) and put (after it). */
import type { Stats } from "node:fs";
import { lstat, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { errors, FerryError, TEMP_PREFIX, toFerryError, wording } from "@ferry/plugin-kit";
import { isDestinationError, makeDirectories, mapFsError, StagedTree } from "@ferry/storage-local";
import pLimit from "p-limit";
import { SmallFileCapturer, type SmallFileOutcome } from "./capturer.ts";
import type { Catalog, GetPattern } from "./catalog.ts";
import { hashLocalFile, md5Of, openLocalFile } from "./hashing.ts";
import { type Expansion, expandLocalPattern, keyMatcher } from "./patterns.ts";
import type { CatalogRecord, RunLog } from "./run-log.ts";
import { captureSmallFiles } from "./small-files.ts";
import { type CatalogStore, isRunOwnFile } from "./store.ts";

export interface StageContext {
  store: CatalogStore;
  runId: string;
  cwd: string;
  /** Directories (relative to cwd) never captured. */
  exclude: readonly string[];
  /** The run log of a run (the current one from memory, earlier ones from the catalog). */
  runLog(runId: string): Promise<RunLog>;
  signal?: AbortSignal | undefined;
}

export interface StageResult {
  records: CatalogRecord[];
  /** What went wrong; records of what did succeed are kept either way. */
  error?: FerryError | undefined;
  /** Worth recording though nothing failed: the symbolic links a put skipped. */
  notes?: string[] | undefined;
}

/** One result for the records that succeeded, with the first failure named (and how many more there were). */
function combine(records: CatalogRecord[], failures: FerryError[]): StageResult {
  if (failures.length === 0) return { records };
  const first = failures[0]!;
  const message =
    failures.length === 1 ? first.message : `${first.message} (and ${failures.length - 1} more failures)`;
  return {
    records,
    error: new FerryError(first.code, message, { cause: first, system: first.system, path: first.path }),
  };
}

async function settle<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<CatalogRecord>,
): Promise<{ records: CatalogRecord[]; failures: FerryError[] }> {
  const limit = pLimit(concurrency);
  const results = await Promise.allSettled(items.map((item) => limit(() => work(item))));
  const records: CatalogRecord[] = [];
  const failures: FerryError[] = [];
  for (const result of results) {
    if (result.status === "fulfilled") records.push(result.value);
    else failures.push(toFerryError(result.reason));
  }
  return { records, failures };
}

/**
 * Small files go through synchronous batches (read, MD5, and the copy when the catalog is on local
 * disk); what they leave over (large files, or every file for a remote catalog with copies) streams
 * one by one, `concurrency` at a time. Records are in the order of `files`.
 */
async function captureFiles(
  files: readonly string[],
  catalog: Catalog,
  context: StageContext,
): Promise<StageResult> {
  const { cwd, runId, store } = context;
  const batched = !catalog.storeCopy || store.localPath(runId, "") !== undefined;
  // By position in `files`, so that the records come out in its order without a sort.
  const records: (CatalogRecord | undefined)[] = new Array(files.length);
  const failures: FerryError[] = [];
  let streamed: number[] = files.map((_, index) => index);
  if (batched) {
    const runDirectory = catalog.storeCopy ? store.localPath(runId, "") : undefined;
    const staged = runDirectory === undefined ? undefined : new StagedTree(runDirectory);
    // Matched paths are already normalised: plain concatenation, not a path.join per file.
    const base = join(cwd, "/");
    const outcomes = await captureSmallFiles(
      files.map((relative) => ({ source: base + relative, target: staged?.stagedPath(relative) })),
      { tempPrefix: TEMP_PREFIX, signal: context.signal },
    );
    if (staged) placeStaged(staged, files, outcomes);
    const isoTime = lastValueCache((ms: number) => new Date(ms).toISOString());
    streamed = [];
    outcomes.forEach((outcome, index) => {
      const relative = files[index]!;
      if (outcome.kind === "done") {
        records[index] = putRecord(catalog, runId, relative, {
          md5: outcome.md5,
          size: outcome.size,
          startedAt: isoTime(outcome.startedAt),
          durationMs: outcome.durationMs,
        });
      } else if (outcome.kind === "failed") {
        const error = Object.assign(new Error(outcome.message), { code: outcome.code });
        // A full or read-only catalog disk is named by the catalog's file, anything else by the source.
        const target = runDirectory === undefined ? undefined : join(runDirectory, relative);
        failures.push(
          target !== undefined && isDestinationError(error)
            ? mapFsError(error, target, "write")
            : mapFsError(error, join(cwd, relative)),
        );
      } else streamed.push(index);
    });
  }
  const rest = await settle(streamed, catalog.concurrency, async (index) => {
    const relative = files[index]!;
    const startedAt = new Date();
    const localPath = join(cwd, relative);
    const file = await openLocalFile(localPath);
    const fingerprint = catalog.storeCopy
      ? await store.storeFile(runId, relative, localPath, file, context.signal)
      : file.bytes
        ? { md5: md5Of(file.bytes), size: file.size }
        : await hashLocalFile(localPath);
    records[index] = putRecord(catalog, runId, relative, {
      ...fingerprint,
      startedAt: startedAt.toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
    });
    return records[index];
  });
  return combine(
    records.filter((record) => record !== undefined),
    [...failures, ...rest.failures],
  );
}

/** A function of one argument that remembers its last result: dozens of small files start in the same millisecond. */
function lastValueCache<K, V>(compute: (key: K) => V): (key: K) => V {
  let lastKey: K | undefined;
  let lastValue: V | undefined;
  return (key) => {
    if (lastKey !== key || lastValue === undefined) {
      lastKey = key;
      lastValue = compute(key);
    }
    return lastValue;
  };
}

function putRecord(
  catalog: Catalog,
  runId: string,
  relative: string,
  done: { md5: string; size: number; startedAt: string; durationMs: number },
): CatalogRecord {
  return {
    name: relative,
    stage: "put",
    md5: done.md5,
    size: done.size,
    stored: catalog.storeCopy,
    ...(catalog.storeCopy ? { catalogPath: `${runId}/${relative}` } : {}),
    startedAt: done.startedAt,
    durationMs: done.durationMs,
  };
}

/**
 * Capture what the put patterns match. On a successful job a pattern that matches nothing is an
 * error naming it (nothing is captured then); after a failed job whatever does match is captured.
 */
export async function capturePuts(
  catalog: Catalog,
  context: StageContext,
  jobSucceeded: boolean,
): Promise<StageResult> {
  const { cwd, exclude, runId } = context;
  let expansions: Expansion[];
  try {
    expansions = await Promise.all(
      catalog.put.map((pattern) => expandLocalPattern(cwd, pattern, { exclude, signal: context.signal })),
    );
  } catch (error) {
    return { records: [], error: toFerryError(error) };
  }
  const matches = expansions.map((expansion) => expansion.files);
  const links = [...new Set(expansions.flatMap((expansion) => expansion.links))].sort();
  const notes =
    links.length === 0
      ? []
      : [`catalog put skipped symbolic links (links are never followed): ${links.join(", ")}`];
  const unmatched = catalog.put.filter((_, index) => matches[index]!.length === 0);
  if (jobSucceeded && unmatched.length > 0) {
    const listed = unmatched.map((pattern) => JSON.stringify(pattern)).join(", ");
    return {
      records: [],
      notes,
      error: errors.notFound(
        `catalog put ${unmatched.length === 1 ? "pattern" : "patterns"} ${listed} matched no file in ${cwd}`,
        { path: cwd },
      ),
    };
  }
  // In the order the patterns name them (sorted within a pattern), each file once.
  const files = [...new Set(matches.flat())];
  const clash = files.find((file) => isRunOwnFile(runId, file));
  if (clash !== undefined) {
    return {
      records: [],
      error: errors.invalidInput(
        `cannot capture ${clash}: the run folder keeps its own file under that name`,
        { path: clash },
      ),
    };
  }
  // In the order of `files`.
  return { ...(await captureFiles(files, catalog, context)), notes };
}

/** The last put of each name in a run log (what its stored copy, or its hash, should be). */
export function latestPuts(log: RunLog): Map<string, CatalogRecord> {
  const puts = new Map<string, CatalogRecord>();
  for (const step of log.steps)
    for (const record of step.catalog) if (record.stage === "put") puts.set(record.name, record);
  return puts;
}

interface PlannedGet {
  runId: string;
  name: string;
  expected: CatalogRecord | undefined;
}

async function plan(patterns: readonly GetPattern[], context: StageContext): Promise<PlannedGet[]> {
  const filesByRun = new Map<string, Promise<string[]>>();
  const putsByRun = new Map<string, Promise<Map<string, CatalogRecord>>>();
  const planned = new Map<string, PlannedGet>();
  for (const get of patterns) {
    const runId = get.runId ?? context.runId;
    if (!filesByRun.has(runId)) filesByRun.set(runId, context.store.runFiles(runId));
    if (!putsByRun.has(runId)) {
      putsByRun.set(
        runId,
        context.runLog(runId).then(latestPuts, (error: unknown) => {
          // An earlier run without a readable run log can still be read from; its copies are just unchecked.
          if (get.runId !== undefined && FerryError.isInstance(error, "NotFound"))
            return new Map<string, CatalogRecord>();
          throw error;
        }),
      );
    }
    const matches = keyMatcher(get.pattern);
    const files = (await filesByRun.get(runId)!).filter(matches);
    // Object stores allow keys such as `a/../../x`; such a name must never become a path outside cwd.
    const escaping = files.find((name) =>
      name.split("/").some((segment) => segment === "" || segment === "." || segment === ".."),
    );
    if (escaping !== undefined) {
      throw errors.invalidInput(
        `catalog get ${JSON.stringify(get.text)}: ${escaping} in run ${runId} would land outside the working directory`,
        {
          path: context.store.display(runId, escaping),
        },
      );
    }
    const puts = await putsByRun.get(runId)!;
    const hashOnly = [...puts.values()].filter(
      (record) => !record.stored && matches(record.name) && !files.includes(record.name),
    );
    if (hashOnly.length > 0) {
      const names = hashOnly.map((record) => record.name).join(", ");
      throw errors.notFound(
        `catalog get ${JSON.stringify(get.text)}: ${names} ${hashOnly.length === 1 ? "was" : "were"} recorded by hash only (${wording({ library: "storeCopy: false", cli: "ferry run --no-copy" })}) in run ${runId}, so there is no copy to get`,
        { path: context.store.display(runId) },
      );
    }
    if (files.length === 0) {
      throw errors.notFound(
        `catalog get ${JSON.stringify(get.text)} matched nothing in ${context.store.display(runId)}`,
        {
          path: context.store.display(runId),
        },
      );
    }
    // The working directory gets each path once; a later pattern naming the same path wins.
    for (const name of files) planned.set(name, { runId, name, expected: puts.get(name) });
  }
  return [...planned.values()];
}

/**
 * Make sure the folders of `name` inside `cwd` are real folders (made where missing), never a
 * symbolic link: a get must not write through a link to somewhere outside the working directory.
 * The file itself may be a link: it is replaced (rename), and what it pointed at is left alone.
 */
async function realFolders(cwd: string, name: string, pattern: string): Promise<void> {
  const segments = name.split("/").slice(0, -1);
  // The working directory is the caller's own choice: it is made when missing, links and all.
  await makeDirectories(cwd).catch((error: unknown) => {
    throw toFerryError(error, { system: "file", path: cwd });
  });
  let path = cwd;
  for (const segment of segments) {
    path = join(path, segment);
    let stats: Stats;
    try {
      stats = await lstat(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT")
        throw toFerryError(error, { system: "file", path });
      // Another get of the same run may make it at the same moment: then it is looked at again.
      await mkdir(path).catch((made: NodeJS.ErrnoException) => {
        if (made.code !== "EEXIST") throw toFerryError(made, { system: "file", path });
      });
      stats = await lstat(path);
    }
    if (stats.isSymbolicLink()) {
      throw errors.invalidInput(
        `catalog get ${JSON.stringify(pattern)}: ${path} is a symbolic link; a get never writes through links`,
        { path },
      );
    }
    if (!stats.isDirectory())
      throw errors.invalidInput(`catalog get ${JSON.stringify(pattern)}: ${path} is not a folder`, { path });
  }
}

/**
 * Bring files from the catalog into the working directory (streamed, replacing what is there).
 * Each copy is checked against the MD5 its run log recorded; a mismatch is Integrity and the working
 * file is left as it was. Any pattern that matches nothing is an error naming it, before anything is
 * fetched.
 */
export async function fetchGets(catalog: Catalog, context: StageContext): Promise<StageResult> {
  let planned: PlannedGet[];
  try {
    planned = await plan(catalog.get, context);
  } catch (error) {
    return { records: [], error: toFerryError(error) };
  }
  const settled = await settle(planned, catalog.concurrency, async ({ runId, name, expected }) => {
    const startedAt = new Date();
    const text = catalog.get.find((get) => keyMatcher(get.pattern)(name))?.text ?? name;
    await realFolders(context.cwd, name, text);
    const fingerprint = await context.store.fetchFile(
      context.store.key(runId, name),
      join(context.cwd, name),
      {
        expectedMd5: expected?.md5,
        signal: context.signal,
        // Checked again right before the file is put in place, to narrow the window for a swap.
        beforePlace: () => realFolders(context.cwd, name, text),
      },
    );
    return {
      name,
      stage: "get",
      md5: fingerprint.md5,
      size: fingerprint.size,
      stored: true,
      catalogPath: `${runId}/${name}`,
      source: `runs:${runId}/${name}`,
      startedAt: startedAt.toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
    } satisfies CatalogRecord;
  });
  const result = combine(settled.records, settled.failures);
  result.records.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return result;
}

/** Move the staged copies into the run folder; a copy that cannot be moved is a failed capture. */
function placeStaged(staged: StagedTree, files: readonly string[], outcomes: SmallFileOutcome[]): void {
  const done = outcomes.map((outcome) => outcome.kind === "done");
  try {
    const indexes = files.map((_, index) => index);
    for (const [index, error] of staged.publish((index) => files[index]!, done, indexes))
      outcomes[index] = SmallFileCapturer.failed(error);
  } finally {
    staged.remove();
  }
}
