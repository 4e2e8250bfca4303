/** Working with past runs in a catalog: list, read, get files from, verify and prune them. */

import { join, resolve } from "node:path";
import { errors, FerryError } from "@ferry/plugin-kit";
import pLimit from "p-limit";
import type { LocationLike } from "../location.ts";
import type { PluginRegistry } from "../plugins.ts";
import { fetchGets, latestPuts } from "./capture.ts";
import { Catalog } from "./catalog.ts";
import { type Fingerprint, hashLocalFile, hashStream } from "./hashing.ts";
import { checkRunId } from "./run-id.ts";
import type { CatalogRecord, RunLog, RunStatus } from "./run-log.ts";
import { CatalogStore } from "./store.ts";

export interface CatalogAccessOptions {
  /** The catalog (default `.catalog` in the working directory). */
  location?: LocationLike | undefined;
  /** Working directory (default process.cwd()): where hash-only files are checked and gets land. */
  cwd?: string | undefined;
  plugins?: PluginRegistry | undefined;
  signal?: AbortSignal | undefined;
}

async function open(options: CatalogAccessOptions): Promise<{ store: CatalogStore; cwd: string }> {
  const cwd = resolve(options.cwd ?? process.cwd());
  return { store: await CatalogStore.open(options.location, cwd, options.plugins), cwd };
}

export interface RunInfo {
  runId: string;
  /** UNKNOWN: the folder has no readable run log. */
  status: RunStatus | "UNKNOWN";
  start?: string | undefined;
  end?: string | undefined;
  durationMs?: number | undefined;
  /** Files put by the run (stored or hash-only). */
  files: number;
}

/** Runs in the catalog, newest first. */
export async function listRuns(options: CatalogAccessOptions = {}): Promise<RunInfo[]> {
  const { store } = await open(options);
  const limit = pLimit(8);
  const runs = await Promise.all(
    (await store.runIds()).map((runId) =>
      limit(async (): Promise<RunInfo> => {
        try {
          const log = await store.readRunLog(runId);
          return {
            runId,
            status: log.status,
            start: log.start,
            end: log.end,
            durationMs: log.durationMs,
            files: latestPuts(log).size,
          };
        } catch (error) {
          if (FerryError.isInstance(error, "NotFound") || FerryError.isInstance(error, "InvalidInput"))
            return { runId, status: "UNKNOWN", files: 0 };
          throw error;
        }
      }),
    ),
  );
  return runs.sort((a, b) => (b.start ?? "").localeCompare(a.start ?? "") || a.runId.localeCompare(b.runId));
}

/** The run log of a run. */
export async function readRun(runId: string, options: CatalogAccessOptions = {}): Promise<RunLog> {
  const { store } = await open(options);
  return store.readRunLog(checkRunId(runId));
}

/** Bring files of an earlier run into the working directory (each checked against its recorded MD5). */
export async function getFromRun(
  runId: string,
  patterns: string | readonly string[],
  options: CatalogAccessOptions = {},
): Promise<CatalogRecord[]> {
  const { store, cwd } = await open(options);
  checkRunId(runId);
  const list = typeof patterns === "string" ? [patterns] : patterns;
  const checked = new Catalog({ get: list.map((pattern) => `runs:${runId}/${pattern}`) });
  // Messages quote the patterns as the caller wrote them, not as `runs:` patterns.
  const catalog = {
    ...checked,
    get: checked.get.map((get, index) => ({ ...get, text: String(list[index]) })),
  };
  const result = await fetchGets(catalog, {
    store,
    runId,
    cwd,
    exclude: [],
    signal: options.signal,
    runLog: (id) => store.readRunLog(id),
  });
  if (result.error) throw result.error;
  return result.records;
}

export interface VerifyProblem {
  name: string;
  /** Whether the run kept a copy (checked in the catalog) or only the hash (checked in the working directory). */
  stored: boolean;
  problem: "missing" | "changed";
  expected: Fingerprint;
  actual?: Fingerprint | undefined;
  /** Where the file was looked for. */
  at: string;
}

export interface VerifyReport {
  runId: string;
  ok: boolean;
  /** Files checked (the last put of each name). */
  checked: number;
  problems: VerifyProblem[];
}

/**
 * Re-hash every file a run put: stored copies in the catalog, hash-only files in the working
 * directory, against the MD5 and size in the run log.
 */
export async function verifyRun(runId: string, options: CatalogAccessOptions = {}): Promise<VerifyReport> {
  const { store, cwd } = await open(options);
  const log = await store.readRunLog(checkRunId(runId));
  const records = [...latestPuts(log).values()];
  const limit = pLimit(8);
  const problems = (
    await Promise.all(
      records.map((record) =>
        limit(async (): Promise<VerifyProblem | undefined> => {
          const expected = { md5: record.md5, size: record.size };
          const at = record.stored ? store.display(runId, record.name) : join(cwd, record.name);
          let actual: Fingerprint;
          try {
            actual = record.stored
              ? await hashStream(await store.read(runId, record.name, options.signal))
              : await hashLocalFile(join(cwd, record.name));
          } catch (error) {
            const code = (error as { code?: string }).code;
            // A symbolic link where a file was recorded is not read through: the file is not what was captured.
            if (code === "ELOOP")
              return { name: record.name, stored: record.stored, problem: "changed", expected, at };
            const missing = FerryError.isInstance(error, "NotFound") || code === "ENOENT";
            if (!missing) throw error;
            return { name: record.name, stored: record.stored, problem: "missing", expected, at };
          }
          if (actual.md5 === expected.md5 && actual.size === expected.size) return undefined;
          return { name: record.name, stored: record.stored, problem: "changed", expected, actual, at };
        }),
      ),
    )
  ).filter((problem) => problem !== undefined);
  return { runId, ok: problems.length === 0, checked: records.length, problems };
}

export interface GcOptions extends CatalogAccessOptions {
  /** How many of the newest runs to keep. */
  keep: number;
  /** Also remove runs still marked RUNNING (they may be live). Default false. */
  includeRunning?: boolean | undefined;
  /** Only report what would be removed. */
  dryRun?: boolean | undefined;
}

/** Remove all but the newest `keep` runs. Returns the run ids removed (or that would be). */
export async function gcRuns(options: GcOptions): Promise<string[]> {
  if (!Number.isInteger(options.keep) || options.keep < 0)
    throw errors.invalidInput(`keep must be a non-negative integer, got ${options.keep}`);
  const { store } = await open(options);
  const runs = await listRuns(options);
  const doomed = runs
    .slice(options.keep)
    .filter((run) => options.includeRunning === true || run.status !== "RUNNING");
  if (!options.dryRun) for (const run of doomed) await store.deleteRun(run.runId);
  return doomed.map((run) => run.runId);
}
