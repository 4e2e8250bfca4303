/**
 * What ferry leaves behind when a writer dies without cleaning up (kill -9, a power cut, a lost
 * machine): temp files and staging folders named `.ferry-tmp-…` on local disk and SFTP, multipart
 * uploads on S3, blobs with only uncommitted blocks on Azure. This module names temp files so that
 * their owner can be told apart, and holds the one rule for when a leftover is safe to remove.
 *
 * A temp name is `.ferry-tmp-<host>.<pid>.<random>-<name>`: `host` is a short hash of the writing
 * machine's host name, `pid` its process id (base 36). A leftover is stale, and removed, when
 *   - it was written on this machine by a process that no longer exists, or
 *   - it has not been modified for `olderThanMs` (default 24 hours) — a live writer keeps touching
 *     its temp file, so one untouched that long is abandoned (other machines, names without an owner).
 * A leftover of this very process, or of a live process here, younger than that, is never touched.
 * A pid reused by an unrelated process only delays removal until the age rule applies.
 */
import { createHash, randomBytes } from "node:crypto";
import { hostname } from "node:os";
import pLimit from "p-limit";
import { throwIfAborted } from "./errors.ts";
import type { CleanupOptions, CleanupResult, Leftover } from "./storage.ts";

/** Prefix of in-flight write files and staging folders. Never listed; user keys may not use it. */
export const TEMP_PREFIX = ".ferry-tmp-";

/** Leftovers untouched this long are removed even when their writer cannot be checked. */
export const DEFAULT_LEFTOVER_AGE_MS = 24 * 60 * 60 * 1000;

const HOST_TAG = createHash("sha256").update(hostname()).digest("hex").slice(0, 6);
const OWNER = `${HOST_TAG}.${process.pid.toString(36)}.`;
/** The head of any temp name, up to the `-` before the name it is for. */
const TEMP_HEAD = /^\.ferry-tmp-[0-9a-z.]+-/;
const OWNED_NAME = /^\.ferry-tmp-([0-9a-f]{6})\.([0-9a-z]{1,12})\./;

/** Random per process; with the counter, unique temp names without a call into the RNG per name. */
const SEED = randomBytes(5).toString("hex");
let counter = 0;

/** `.ferry-tmp-<host>.<pid>.<random>`: the head of a temp name of this process (add `-<name>` or nothing). */
export function tempNameHead(): string {
  counter += 1;
  return `${TEMP_PREFIX}${OWNER}${SEED}${counter.toString(36)}`;
}

export type LeftoverReason = "writer-gone" | "older-than";

/**
 * Why a leftover named `name` (a temp name) last modified at `modified` may be removed now, or
 * undefined while it may still belong to a live writer.
 */
export function staleReason(
  name: string,
  modified: Date | undefined,
  olderThanMs: number = DEFAULT_LEFTOVER_AGE_MS,
  now: number = Date.now(),
): LeftoverReason | undefined {
  if (!name.startsWith(TEMP_PREFIX)) return undefined;
  const owner = OWNED_NAME.exec(name);
  if (owner && owner[1] === HOST_TAG) {
    const pid = Number.parseInt(owner[2]!, 36);
    if (pid !== process.pid && !processExists(pid)) return "writer-gone";
  }
  return staleByAge(modified, olderThanMs, now);
}

/** For leftovers that carry no owner (object-store uploads): stale once untouched for `olderThanMs`. */
export function staleByAge(
  modified: Date | undefined,
  olderThanMs: number = DEFAULT_LEFTOVER_AGE_MS,
  now: number = Date.now(),
): LeftoverReason | undefined {
  if (modified === undefined) return undefined;
  return now - modified.getTime() >= olderThanMs ? "older-than" : undefined;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, owned by someone else.
    return (error as { code?: string }).code !== "ESRCH";
  }
}

/** Directories read at once by `cleanTempLeftovers`. */
const WALK_CONCURRENCY = 8;

/** One name in a directory, as a file-tree storage sees it (temp names included). */
export interface TreeEntry {
  name: string;
  directory: boolean;
  size: number;
  modified?: Date | undefined;
}

/** What `cleanTempLeftovers` needs of a storage with real directories (local disk, SFTP). */
export interface LeftoverTree {
  /** Every name in the directory `dir` (a key, "" = root); empty when it is missing or not a directory. Links are not directories. */
  readDirectory(dir: string): Promise<TreeEntry[]>;
  /** Remove a temp file, or a staging folder and everything in it. */
  remove(path: string, directory: boolean): Promise<void>;
}

/**
 * Temp files and staging folders of ferry below `prefix` (and, beside it, those named for it: the
 * staging folder of a new destination folder, the temp file of a single file), removed when stale.
 */
export async function cleanTempLeftovers(
  tree: LeftoverTree,
  prefix: string,
  options: CleanupOptions,
): Promise<CleanupResult> {
  const leftovers: Leftover[] = [];
  const now = Date.now();
  const consider = async (dir: string, entry: TreeEntry) => {
    const reason = staleReason(entry.name, entry.modified, options.olderThanMs, now);
    if (reason === undefined) return;
    const path = dir === "" ? entry.name : `${dir}/${entry.name}`;
    const leftover: Leftover = {
      path,
      kind: entry.directory ? "staging-folder" : "temp-file",
      ...(entry.directory ? {} : { size: entry.size }),
      ...(entry.modified ? { modified: entry.modified } : {}),
      reason,
      status: options.dryRun ? "would-remove" : "removed",
    };
    if (!options.dryRun) {
      try {
        await tree.remove(path, entry.directory);
      } catch (error) {
        leftover.status = "failed";
        leftover.error = error instanceof Error ? error.message : String(error);
      }
    }
    leftovers.push(leftover);
  };
  if (prefix !== "") {
    const slash = prefix.lastIndexOf("/");
    const parent = slash < 0 ? "" : prefix.slice(0, slash);
    const name = prefix.slice(slash + 1);
    for (const entry of await tree.readDirectory(parent)) {
      if (entry.name.replace(TEMP_HEAD, "") === name) await consider(parent, entry);
    }
  }
  // Directories are read a few at a time (over SFTP each is a round trip); the walk itself is not limited.
  const reads = pLimit(WALK_CONCURRENCY);
  const visit = async (dir: string): Promise<void> => {
    throwIfAborted(options.signal, { path: dir });
    const below: string[] = [];
    for (const entry of await reads(() => tree.readDirectory(dir))) {
      if (entry.name.startsWith(TEMP_PREFIX)) await consider(dir, entry);
      else if (entry.directory) below.push(dir === "" ? entry.name : `${dir}/${entry.name}`);
    }
    await Promise.all(below.map(visit));
  };
  await visit(prefix);
  leftovers.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { leftovers, unchecked: [] };
}
