/**
 * The plan: both sides listed once, then one decision per file — copy, skip or (sync) delete.
 *
 * "Unchanged" (the default) must never skip a changed file, and — GitHub aside — costs no request per
 * file: it is decided from the two listings alone.
 * - Different sizes: changed.
 * - A destination that records the times we give it (`capabilities.setMtime`: local disk, SFTP, GCS
 *   metadata), both listings carrying a time: same time within the coarser of the two precisions
 *   (rclone's rule).
 * - Both listings carrying an MD5: equal MD5s.
 * - A destination whose time is when the copy was made (S3, Azure): unchanged only when the source's
 *   time — the later of mtime and ctime, where the source keeps a ctime (local disk) — is older than
 *   the destination's by more than both precisions together: the source has not changed since it was
 *   copied (aws-cli's `s3 sync` rule, with either side's rounding allowed for, and ctime catching a
 *   file moved or restored with an older mtime).
 * - A side that lists git blob ids (GitHub): the other side's bytes hashed as a git blob and compared;
 *   reading a file is cheaper than the copy it saves, and git keeps no times.
 * - Nothing else proves a file unchanged, so it is copied.
 * `checksum`: same size and same MD5 (from the listings, or the storage's `checksum()` for files of
 * equal size); with no MD5 in common, the default rules (and a note saying so). `sizeOnly`: size alone.
 */

import { createHash } from "node:crypto";
import type { Entry, Storage } from "@ferry/plugin-kit";
import {
  baseName,
  compareKeys,
  describeUnaddressable,
  errors,
  FerryError,
  joinKey,
  relativeKey,
  throwIfAborted,
} from "@ferry/plugin-kit";
import pLimit from "p-limit";
import type { ResolvedEndpoint } from "./endpoints.ts";
import { overlaps, sameStorage, statOrUndefined } from "./endpoints.ts";
import type { PathFilter } from "./filters.ts";
import type { PlannedAction } from "./types.ts";

export interface PlanInput {
  source: ResolvedEndpoint;
  destination: ResolvedEndpoint;
  filter: PathFilter;
  mirror: boolean;
  checksum: boolean;
  sizeOnly: boolean;
  signal: AbortSignal | undefined;
}

export interface Plan {
  actions: PlannedAction[];
  notes: string[];
  /** Source keys that cannot be mapped to a destination path (`a/../b`, `c//d`): each a failed file. */
  refused: { path: string; error: FerryError }[];
  /** The source was one file rather than a directory. */
  singleFile: boolean;
}

/** All files below `dir`, keyed by path relative to it. Missing directories list as empty. */
async function listTree(
  storage: Storage,
  dir: string,
  signal: AbortSignal | undefined,
  onUnaddressable: (name: string) => void,
): Promise<Map<string, Entry>> {
  const files = new Map<string, Entry>();
  for await (const entry of storage.list(dir, { recursive: true, signal, onUnaddressable })) {
    if (entry.kind !== "file") continue;
    const relative = relativeKey(dir, entry.path);
    if (relative !== undefined && relative !== "") files.set(relative, entry);
  }
  return files;
}

export async function buildPlan(input: PlanInput): Promise<Plan> {
  const { source, signal } = input;
  const sourceEntry = await statOrUndefined(source.storage, source.key, signal);
  if (!sourceEntry) {
    throw errors.notFound(`nothing to copy: ${source.url} does not exist`, {
      system: source.storage.system,
      path: source.key,
    });
  }
  const notes: string[] = [];
  const compare = new Comparison(input, notes);
  if (sourceEntry.kind === "file") {
    const action = await planFile(input, sourceEntry, compare);
    return { actions: [action], notes, refused: [], singleFile: true };
  }
  await refuseFolderOnFile(input);
  const trees = await listBoth(input, notes);
  throwIfAborted(signal);
  const actions = await planFolder(input, trees, compare);
  return { actions, notes: [...new Set(notes)], refused: trees.refused, singleFile: false };
}

/** What `decide` knows of one source file: its path in the tree, its keys at both ends, and what is there. */
interface FileAtBothEnds {
  path: string;
  entry: Entry;
  sourceKey: string;
  destinationKey: string;
  existing: Entry | undefined;
}

/** Copy or skip one source file, by comparing it with what is at its destination key. */
async function decide(
  compare: Comparison,
  { path, entry, sourceKey, destinationKey, existing }: FileAtBothEnds,
): Promise<PlannedAction> {
  const verdict = existing
    ? await compare.compare(entry, existing, sourceKey, destinationKey)
    : { changed: true, reason: "new" };
  const base = {
    path,
    sourceKey,
    destinationKey,
    source: entry,
    ...(existing ? { destination: existing } : {}),
  };
  return verdict.changed
    ? { ...base, action: "copy", size: entry.size, reason: verdict.reason }
    : { ...base, action: "skip", size: 0, reason: verdict.reason };
}

/** One file goes to the destination's name, or inside it when that is a directory (cp semantics). */
async function planFile(input: PlanInput, sourceEntry: Entry, compare: Comparison): Promise<PlannedAction> {
  const { source, destination, signal } = input;
  const target = await statOrUndefined(destination.storage, destination.key, signal);
  const intoDirectory = destination.directoryHint || destination.key === "" || target?.kind === "directory";
  const key = intoDirectory ? joinKey(destination.key, baseName(source.key)) : destination.key;
  if (sameStorage(source.storage, destination.storage) && key === source.key) {
    throw errors.invalidInput(`cannot copy ${source.url} onto itself`, {
      system: source.storage.system,
      path: source.key,
    });
  }
  const existing = intoDirectory ? await statOrUndefined(destination.storage, key, signal) : target;
  return decide(compare, {
    path: baseName(source.key),
    entry: sourceEntry,
    sourceKey: source.key,
    destinationKey: key,
    existing: existing?.kind === "file" ? existing : undefined,
  });
}

/**
 * A folder is refused onto a file where folders are real (local disk, SFTP; on an object store a key
 * and a prefix of the same name coexist, so there it can land), and onto a folder inside or around it.
 */
async function refuseFolderOnFile(input: PlanInput): Promise<void> {
  const { source, destination, signal } = input;
  if (
    destination.storage.capabilities.directories === "real" &&
    (await statOrUndefined(destination.storage, destination.key, signal))?.kind === "file"
  ) {
    throw errors.invalidInput(
      `cannot copy the folder ${source.url} onto ${destination.url}: that is a file, not a folder`,
      { system: destination.storage.system, path: destination.key },
    );
  }
  if (sameStorage(source.storage, destination.storage) && overlaps(source.key, destination.key)) {
    throw errors.invalidInput(
      `source and destination overlap (${source.url} and ${destination.url}): one is inside the other`,
      { system: source.storage.system, path: source.key },
    );
  }
}

interface Trees {
  sourceFiles: Map<string, Entry>;
  destinationFiles: Map<string, Entry>;
  /** Source keys that map to no safe path, each a failed file. */
  refused: Plan["refused"];
}

/** Both trees listed at once; names that cannot be addressed are noted (and at the source, refused). */
async function listBoth(input: PlanInput, notes: string[]): Promise<Trees> {
  const { source, destination, signal } = input;
  const unaddressable: [string[], string[]] = [[], []];
  const [sourceFiles, destinationFiles] = await Promise.all([
    listTree(source.storage, source.key, signal, (name) => unaddressable[0].push(name)),
    listTree(destination.storage, destination.key, signal, (name) => unaddressable[1].push(name)),
  ]);
  if (unaddressable[0].length > 0)
    notes.push(describeUnaddressable(unaddressable[0], source.url, "were not copied"));
  const refused = unaddressable[0].map((key) => {
    const path = relativeKey(source.key, key) ?? key;
    return {
      path,
      error: errors.invalidInput(
        `${JSON.stringify(path)} below ${source.url} cannot be mapped to a safe path (".", ".." or empty segments); not copied`,
        { system: source.storage.system, path: key },
      ),
    };
  });
  if (unaddressable[1].length > 0)
    notes.push(describeUnaddressable(unaddressable[1], destination.url, "were left as they are"));
  return { sourceFiles, destinationFiles, refused };
}

/** A decision per source file the filter lets through and (mirror) a delete per extra, in key order. */
async function planFolder(input: PlanInput, trees: Trees, compare: Comparison): Promise<PlannedAction[]> {
  const { source, destination } = input;
  const { sourceFiles, destinationFiles } = trees;
  // Decisions only do I/O when they hash files of equal size: a few at a time then.
  const limit: (run: () => Promise<PlannedAction>) => Promise<PlannedAction> = compare.mayRead
    ? pLimit(8)
    : (run) => run();
  const actions = await Promise.all(
    [...sourceFiles]
      .filter(([path]) => input.filter(path))
      .map(([path, entry]) =>
        limit(() =>
          decide(compare, {
            path,
            entry,
            sourceKey: joinKey(source.key, path),
            destinationKey: joinKey(destination.key, path),
            existing: destinationFiles.get(path),
          }),
        ),
      ),
  );
  if (input.mirror) {
    for (const [path, entry] of destinationFiles) {
      if (sourceFiles.has(path) || !input.filter(path)) continue;
      actions.push({
        action: "delete",
        path,
        destinationKey: joinKey(destination.key, path),
        size: 0,
        reason: "not in source",
        destination: entry,
      });
    }
  }
  return actions.sort((a, b) => compareKeys(a.path, b.path));
}

/** A git blob id: what GitHub lists for a file. */
const GIT_BLOB_ID = /^[0-9a-f]{40}$/;

function listsGitIds(storage: Storage): boolean {
  return storage.capabilities.hashes.includes("git-sha1");
}

class Comparison {
  readonly #input: PlanInput;
  readonly #notes: string[];
  /** Two times this close are the same time (the coarser precision of the two sides). */
  readonly #tolerance: number;
  /** How much older than the destination a source must be to be older for sure (both precisions). */
  readonly #margin: number;
  readonly #timesComparable: boolean;
  /** Whether a decision may read file contents (checksum mode, or a side listing git blob ids). */
  readonly mayRead: boolean;

  constructor(input: PlanInput, notes: string[]) {
    this.#input = input;
    this.#notes = notes;
    const from = input.source.storage.capabilities;
    const to = input.destination.storage.capabilities;
    this.#tolerance = Math.max(from.mtimePrecisionMs, to.mtimePrecisionMs, 1);
    this.#margin = Math.max(from.mtimePrecisionMs, 1) + Math.max(to.mtimePrecisionMs, 1);
    // A destination that records the times we give it holds the source's time, so times compare;
    // anywhere else its time is merely when the copy was made.
    this.#timesComparable = to.setMtime;
    this.mayRead =
      !input.sizeOnly &&
      (input.checksum || listsGitIds(input.source.storage) || listsGitIds(input.destination.storage));
  }

  /** Whether the destination file must be replaced, and why (or why not). */
  async compare(
    source: Entry,
    destination: Entry,
    sourceKey: string,
    destinationKey: string,
  ): Promise<{ changed: boolean; reason: string }> {
    const changed = (reason: string) => ({ changed: true, reason });
    const unchanged = (reason: string) => ({ changed: false, reason });
    if (source.size !== destination.size) return changed("size differs");
    if (this.#input.sizeOnly) return unchanged("same size");
    if (this.#input.checksum) {
      const [a, b] = await Promise.all([
        this.#md5(this.#input.source.storage, source, sourceKey),
        this.#md5(this.#input.destination.storage, destination, destinationKey),
      ]);
      if (a !== undefined && b !== undefined) {
        return a === b ? unchanged("same size and hash") : changed("hash differs");
      }
      this.#notes.push(
        "--checksum: the two sides have no MD5 in common, so files of equal size were compared as by default",
      );
    }
    if (this.#timesComparable && source.mtime && destination.mtime) {
      return Math.abs(source.mtime.getTime() - destination.mtime.getTime()) <= this.#tolerance
        ? unchanged("same size and modified time")
        : changed("modified time differs");
    }
    if (source.md5 && destination.md5) {
      return source.md5 === destination.md5 ? unchanged("same size and hash") : changed("hash differs");
    }
    if (!this.#timesComparable && source.mtime && destination.mtime) {
      // A file moved, restored or extracted with an older mtime still has a new ctime.
      const changedAt = Math.max(source.mtime.getTime(), source.ctime?.getTime() ?? 0);
      return changedAt + this.#margin <= destination.mtime.getTime()
        ? unchanged("same size, older than the destination")
        : changed("source newer than the destination");
    }
    const gitId = await this.#gitComparison(source, destination, sourceKey, destinationKey);
    if (gitId !== undefined) {
      return gitId ? unchanged("same size and git blob id") : changed("git blob id differs");
    }
    return changed("same size, but nothing shows it unchanged");
  }

  /** Equal git blob ids (one side's listed, the other's hashed from its bytes), or undefined when no side lists one. */
  async #gitComparison(
    source: Entry,
    destination: Entry,
    sourceKey: string,
    destinationKey: string,
  ): Promise<boolean | undefined> {
    const { source: from, destination: to } = this.#input;
    const listed = (storage: Storage, entry: Entry) =>
      listsGitIds(storage) && entry.etag !== undefined && GIT_BLOB_ID.test(entry.etag)
        ? entry.etag
        : undefined;
    const sourceId = listed(from.storage, source);
    const destinationId = listed(to.storage, destination);
    if (sourceId && destinationId) return sourceId === destinationId;
    if (sourceId) return sourceId === (await this.#gitBlobId(to.storage, destinationKey, destination.size));
    if (destinationId) return destinationId === (await this.#gitBlobId(from.storage, sourceKey, source.size));
    return undefined;
  }

  /** The git blob id of a file's bytes; undefined when it cannot be read (then it is copied, and any error shows there). */
  async #gitBlobId(storage: Storage, key: string, size: number): Promise<string | undefined> {
    const hash = createHash("sha1").update(`blob ${size}\0`);
    try {
      for await (const chunk of await storage.read(key, { signal: this.#input.signal })) {
        hash.update(chunk as Uint8Array);
      }
    } catch (error) {
      throwIfAborted(this.#input.signal);
      if (FerryError.isInstance(error)) return undefined;
      throw error;
    }
    return hash.digest("hex");
  }

  async #md5(storage: Storage, entry: Entry, key: string): Promise<string | undefined> {
    if (entry.md5) return entry.md5;
    if (!storage.capabilities.checksum || !storage.capabilities.hashes.includes("md5")) return undefined;
    return storage.checksum(key, "md5", { signal: this.#input.signal });
  }
}
