/**
 * Many small files copied within local storage into a new place, in synchronous batches, the way the
 * catalog captures them (catalog/small-files.ts): every file is written under its final name inside
 * one hidden staging folder (StagedTree, staged-tree.ts), which is moved into place when the copy is done, and at
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
import { StagedTree } from "./staged-tree.ts";

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
      staging.publish((index) => items[index]!.relative, done, chunk);
      options.onPlaced?.(chunk.filter((index) => done[index]));
    } finally {
      staging.remove();
    }
  }
  return done;
}
