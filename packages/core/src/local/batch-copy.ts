/**
 * Many small files copied within local storage into a new place, in synchronous batches, the way the
 * catalog captures them (catalog/small-files.ts): every file is written under its final name inside
 * one hidden staging folder (StagedTree), which is moved into place when the copy is done, and at
 * least once a second before that — one rename for the whole tree when the destination does not
 * exist yet, one per top-level name otherwise. A reader never sees a half-written file under its
 * name, as with the temp file and rename per file that a single copy uses; but a file costs no temp
 * name and (into a new folder) no rename of its own, and no thread-pool round trip per step.
 *
 * A file the batch does not copy (it changed since the listing, is not a regular file, is larger than
 * a batch takes, or any call failed) is left out with nothing written, and the transfer engine copies
 * it the usual way, with its retries and its error reporting.
 */
import * as nodeFs from "node:fs";
import * as nodePath from "node:path";
import { setImmediate } from "node:timers/promises";
import { tempNameHead } from "@ferry/plugin-kit";

/**
 * Files up to this size are taken by a batch; larger ones are copied one by one on the thread pool,
 * where a long copy does not hold up the event loop.
 */
export const BATCH_COPY_MAX_BYTES = 1024 * 1024;
/** Files per batch: enough to amortise the bookkeeping, few enough to keep the event loop responsive. */
const BATCH_FILES = 64;

export interface BatchCopyItem {
  /** Absolute path of the source file. */
  source: string;
  /** Path below the destination folder, `/`-separated. */
  relative: string;
  /** Size the listing saw; a file of another size is left to the usual path. */
  size: number;
  /** Modified time to give the copy (ms since the epoch), as the single-file copy does. */
  mtimeMs?: number | undefined;
}

/**
 * One thread's copier: copyFile (the kernel copies, or reflinks where the file system can, and gives
 * the source's permissions), the modified time, and a stat to check the size against the listing —
 * all synchronous. (A second thread copying batches beside this one, as the catalog's capture does,
 * was measured: no faster for 1,000 files of 64 KiB, with 40 % more CPU — its start-up is as long as
 * the whole copy.)
 */
export class SmallFileCopier {
  readonly #madeDirectories = new Set<string>();

  /** Copy `source` to `target` (which must not exist); false, with nothing left at `target`, when it did not. */
  copy(source: string, target: string, size: number, mtimeMs: number | undefined): boolean {
    let created = false;
    try {
      const parent = nodePath.dirname(target);
      if (!this.#madeDirectories.has(parent)) {
        nodeFs.mkdirSync(parent, { recursive: true });
        this.#madeDirectories.add(parent);
      }
      nodeFs.copyFileSync(source, target, nodeFs.constants.COPYFILE_EXCL | nodeFs.constants.COPYFILE_FICLONE);
      created = true;
      if (mtimeMs !== undefined) nodeFs.utimesSync(target, mtimeMs / 1000, mtimeMs / 1000);
      // Changed since the listing: left to the usual path, which reports it.
      if (nodeFs.statSync(target).size !== size) throw new Error("size changed since the listing");
      return true;
    } catch (error) {
      // A file that was there already is not ours to remove.
      if (created || (error as { code?: string }).code !== "EEXIST") nodeFs.rmSync(target, { force: true });
      return false;
    }
  }
}

export interface BatchCopyOptions {
  signal?: AbortSignal | undefined;
  /** Called after each batch with the items it copied (indexes into `items`), before they are placed. */
  onCopied?: ((indexes: readonly number[]) => void) | undefined;
  /** Called each time copied items have been moved into place (indexes into `items`). */
  onPlaced?: ((indexes: readonly number[]) => void) | undefined;
  /** Move what has been copied into place at least this often (default PLACE_EVERY_MS). */
  placeEveryMs?: number | undefined;
}

/**
 * What has been copied is moved into place at least this often, so that a long copy shows at its
 * destination (and in per-file events) as it goes. Only the first move can be one rename for a whole
 * new tree; later ones merge name by name.
 */
const PLACE_EVERY_MS = 1_000;

/**
 * Copy `items` into the folder `targetDir` (made if missing): staged beside it, then moved into
 * place. Returns, per item, whether it is now at its destination. After an abort, the files already
 * copied are still moved into place (each is complete) and the rest are not done.
 */
export async function copyBatch(
  targetDir: string,
  items: readonly BatchCopyItem[],
  options: BatchCopyOptions = {},
): Promise<boolean[]> {
  const done = new Array<boolean>(items.length).fill(false);
  const copier = new SmallFileCopier();
  let next = 0;
  while (next < items.length && !options.signal?.aborted) {
    const staging = new StagedTree(targetDir);
    try {
      nodeFs.mkdirSync(staging.folder, { recursive: true });
    } catch {
      break; // e.g. the destination's parent is not writable: the rest go the usual way
    }
    const first = next;
    const started = performance.now();
    try {
      while (next < items.length && !options.signal?.aborted) {
        const copied: number[] = [];
        for (const end = Math.min(items.length, next + BATCH_FILES); next < end; next++) {
          const item = items[next]!;
          if (copier.copy(item.source, staging.stagedPath(item.relative), item.size, item.mtimeMs)) {
            done[next] = true;
            copied.push(next);
          }
        }
        options.onCopied?.(copied);
        await setImmediate(); // timers, aborts and progress output between batches
        if (performance.now() - started >= (options.placeEveryMs ?? PLACE_EVERY_MS)) break;
      }
      const chunk = Array.from({ length: next - first }, (_, offset) => first + offset);
      staging.publish(items, done, chunk);
      options.onPlaced?.(chunk.filter((index) => done[index]));
    } finally {
      staging.remove();
    }
  }
  return done;
}

/**
 * The staging folder of one batch copy (never listed): `.ferry-tmp-<owner>-<name>` beside a
 * destination folder that does not exist yet, so that it can become that folder with one rename;
 * `.ferry-tmp-<owner>` inside one that exists (owner: leftovers.ts) — on its file system even when it is a mount point, so
 * that moving names out of it is a rename too.
 */
export class StagedTree {
  readonly folder: string;
  readonly #targetDir: string;
  /** The destination did not exist (nor anything else by its name): the folder can simply become it. */
  readonly #whole: boolean;

  constructor(targetDir: string) {
    this.#targetDir = targetDir;
    const head = tempNameHead();
    const existing = nodeFs.lstatSync(targetDir, { throwIfNoEntry: false });
    this.#whole = existing === undefined;
    this.folder = this.#whole
      ? nodePath.join(nodePath.dirname(targetDir), `${head}-${nodePath.basename(targetDir)}`)
      : nodePath.join(targetDir, head);
  }

  stagedPath(relative: string): string {
    return nodePath.join(this.folder, ...relative.split("/"));
  }

  /**
   * Move the items at `indexes` that were copied into place: the whole folder when the destination
   * does not exist, else each top-level name that is free there, and file by file below names that
   * are taken. A file that cannot be moved is marked not done (and left for the usual path).
   */
  publish(items: readonly BatchCopyItem[], done: boolean[], indexes: readonly number[]): void {
    const copied = indexes.filter((index) => done[index]);
    if (copied.length === 0) return;
    if (this.#whole && nodeFs.lstatSync(this.#targetDir, { throwIfNoEntry: false }) === undefined) {
      try {
        nodeFs.renameSync(this.folder, this.#targetDir);
        return;
      } catch {
        // Made meanwhile: merged below, file by file where needed.
      }
    }
    try {
      nodeFs.mkdirSync(this.#targetDir, { recursive: true });
    } catch {
      // A file where the folder should be, say: each file goes the usual way, which says what is wrong.
      for (const index of copied) done[index] = false;
      return;
    }
    const byTopName = new Map<string, number[]>();
    for (const index of copied) {
      const top = items[index]!.relative.split("/")[0]!;
      const group = byTopName.get(top);
      if (group) group.push(index);
      else byTopName.set(top, [index]);
    }
    for (const [top, group] of byTopName) {
      const target = nodePath.join(this.#targetDir, top);
      try {
        if (nodeFs.lstatSync(target, { throwIfNoEntry: false }) === undefined) {
          nodeFs.renameSync(nodePath.join(this.folder, top), target);
          continue;
        }
      } catch {
        // Taken meanwhile: file by file.
      }
      for (const index of group) {
        const { relative } = items[index]!;
        try {
          const destination = nodePath.join(this.#targetDir, ...relative.split("/"));
          nodeFs.mkdirSync(nodePath.dirname(destination), { recursive: true });
          nodeFs.renameSync(this.stagedPath(relative), destination);
        } catch {
          done[index] = false;
        }
      }
    }
  }

  /** Remove what is left of the staging folder (files that were not moved, or everything after a failure). */
  remove(): void {
    nodeFs.rmSync(this.folder, { recursive: true, force: true });
  }
}
