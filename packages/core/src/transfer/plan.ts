/**
 * The plan: both sides listed once, then one decision per file — copy, skip or (sync) delete.
 *
 * "Unchanged" follows rclone:
 * - default: same size and same modified time, within the coarser of the two sides' precision —
 *   used when the destination records the times we give it (`capabilities.setMtime`) and both
 *   listings carry a time;
 *   otherwise a destination's time is just "when it was uploaded" and says nothing, so we compare
 *   size + MD5 when both listings carry one, else size alone;
 * - `checksum`: same size and same MD5 (from the listings, or the storage's `checksum()` for files of
 *   equal size); with no common hash, size alone (and a note saying so);
 * - `sizeOnly`: size alone.
 */

import pLimit from "p-limit";
import { errors, type FerryError, throwIfAborted } from "../errors.ts";
import { baseName, compareKeys, describeUnaddressable, joinKey, relativeKey } from "../paths.ts";
import type { Entry, Storage } from "../storage.ts";
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
  const { source, destination, signal } = input;
  const notes: string[] = [];
  const sourceEntry = await statOrUndefined(source.storage, source.key, signal);
  if (!sourceEntry) {
    throw errors.notFound(`nothing to copy: ${source.url} does not exist`, {
      system: source.storage.system,
      path: source.key,
    });
  }

  const compare = new Comparison(input, notes);
  const actions: PlannedAction[] = [];
  const decide = async (
    path: string,
    entry: Entry,
    sourceKey: string,
    destinationKey: string,
    existing: Entry | undefined,
  ) => {
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
    actions.push(
      verdict.changed
        ? { ...base, action: "copy", size: entry.size, reason: verdict.reason }
        : { ...base, action: "skip", size: 0, reason: verdict.reason },
    );
  };

  const oneStorage = sameStorage(source.storage, destination.storage);
  if (sourceEntry.kind === "file") {
    // A file goes to the destination's name, or inside it when that is a directory (cp semantics).
    const target = await statOrUndefined(destination.storage, destination.key, signal);
    const intoDirectory = destination.directoryHint || destination.key === "" || target?.kind === "directory";
    const key = intoDirectory ? joinKey(destination.key, baseName(source.key)) : destination.key;
    if (oneStorage && key === source.key) {
      throw errors.invalidInput(`cannot copy ${source.url} onto itself`, {
        system: source.storage.system,
        path: source.key,
      });
    }
    const existing = intoDirectory ? await statOrUndefined(destination.storage, key, signal) : target;
    await decide(
      baseName(source.key),
      sourceEntry,
      source.key,
      key,
      existing?.kind === "file" ? existing : undefined,
    );
    return { actions, notes, refused: [], singleFile: true };
  }

  // Where folders are real (local disk, SFTP), a folder cannot land on a file (on an object store a
  // key and a prefix of the same name coexist, so there it can).
  if (destination.storage.capabilities.directories === "real") {
    const target = await statOrUndefined(destination.storage, destination.key, signal);
    if (target?.kind === "file") {
      throw errors.invalidInput(
        `cannot copy the folder ${source.url} onto ${destination.url}: that is a file, not a folder`,
        { system: destination.storage.system, path: destination.key },
      );
    }
  }
  if (oneStorage && overlaps(source.key, destination.key)) {
    throw errors.invalidInput(
      `source and destination overlap (${source.url} and ${destination.url}): one is inside the other`,
      { system: source.storage.system, path: source.key },
    );
  }
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
  throwIfAborted(signal);
  // Decisions only do I/O with `checksum` (hashing files of equal size): a few at a time then.
  const limit: (run: () => Promise<void>) => Promise<void> = input.checksum ? pLimit(8) : (run) => run();
  await Promise.all(
    [...sourceFiles]
      .filter(([path]) => input.filter(path))
      .map(([path, entry]) =>
        limit(() =>
          decide(
            path,
            entry,
            joinKey(source.key, path),
            joinKey(destination.key, path),
            destinationFiles.get(path),
          ),
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
  actions.sort((a, b) => compareKeys(a.path, b.path));
  return { actions, notes: [...new Set(notes)], refused, singleFile: false };
}

class Comparison {
  readonly #input: PlanInput;
  readonly #notes: string[];
  readonly #tolerance: number;
  readonly #timesComparable: boolean;

  constructor(input: PlanInput, notes: string[]) {
    this.#input = input;
    this.#notes = notes;
    const from = input.source.storage.capabilities;
    const to = input.destination.storage.capabilities;
    this.#tolerance = Math.max(from.mtimePrecisionMs, to.mtimePrecisionMs, 1);
    // A destination that records the times we give it holds the source's time (S3's upload time
    // included), so times compare; anywhere else its time is merely when the copy was made.
    this.#timesComparable = to.setMtime;
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
      if (a === undefined || b === undefined) {
        this.#notes.push(
          "--checksum: the two sides have no hash in common, so files of equal size were taken as unchanged",
        );
        return unchanged("same size (no common hash)");
      }
      return a === b ? unchanged("same size and hash") : changed("hash differs");
    }
    if (this.#timesComparable && source.mtime && destination.mtime) {
      return Math.abs(source.mtime.getTime() - destination.mtime.getTime()) <= this.#tolerance
        ? unchanged("same size and modified time")
        : changed("modified time differs");
    }
    if (source.md5 && destination.md5) {
      return source.md5 === destination.md5 ? unchanged("same size and hash") : changed("hash differs");
    }
    return unchanged("same size");
  }

  async #md5(storage: Storage, entry: Entry, key: string): Promise<string | undefined> {
    if (entry.md5) return entry.md5;
    if (!storage.capabilities.checksum || !storage.capabilities.hashes.includes("md5")) return undefined;
    return storage.checksum(key, "md5", { signal: this.#input.signal });
  }
}
