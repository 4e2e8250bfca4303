/**
 * The one way ferry places many new local files at once (a batch copy within local storage, and the
 * Catalog's copies into a local run folder): each file is written under its final name inside one
 * hidden staging folder, which is then moved into place — one rename for the whole tree when the
 * destination does not exist yet, one per top-level name otherwise, and file by file below names that
 * are taken. A reader never sees a half-written file under its name, and a file costs no temp name and
 * (into a new folder) no rename of its own.
 */
import * as nodeFs from "node:fs";
import * as nodePath from "node:path";
import { tempNameHead } from "@ferry/plugin-kit";

/**
 * The staging folder of one batch (never listed): `.ferry-tmp-<owner>-<name>` beside a
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
   * Move the files at `indexes` that were written (`done[index]`) into place: the whole folder when the
   * destination does not exist, else each top-level name that is free there, and file by file below
   * names that are taken. A file that cannot be moved is marked not done; the returned map says why.
   */
  publish(
    relativeOf: (index: number) => string,
    done: boolean[],
    indexes: readonly number[],
  ): Map<number, unknown> {
    const unplaced = new Map<number, unknown>();
    const copied = indexes.filter((index) => done[index]);
    if (copied.length === 0) return unplaced;
    if (this.#whole && nodeFs.lstatSync(this.#targetDir, { throwIfNoEntry: false }) === undefined) {
      try {
        nodeFs.renameSync(this.folder, this.#targetDir);
        return unplaced;
      } catch {
        // Made meanwhile: merged below, file by file where needed.
      }
    }
    try {
      nodeFs.mkdirSync(this.#targetDir, { recursive: true });
    } catch (error) {
      // A file where the folder should be, say: each file goes the usual way, which says what is wrong.
      for (const index of copied) this.#unplaced(index, error, done, unplaced);
      return unplaced;
    }
    for (const [top, group] of groupByTopName(copied, relativeOf)) {
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
        const relative = relativeOf(index);
        try {
          const destination = nodePath.join(this.#targetDir, ...relative.split("/"));
          nodeFs.mkdirSync(nodePath.dirname(destination), { recursive: true });
          nodeFs.renameSync(this.stagedPath(relative), destination);
        } catch (error) {
          this.#unplaced(index, error, done, unplaced);
        }
      }
    }
    return unplaced;
  }

  #unplaced(index: number, error: unknown, done: boolean[], unplaced: Map<number, unknown>): void {
    done[index] = false;
    unplaced.set(index, error);
  }

  /** Remove what is left of the staging folder (files that were not moved, or everything after a failure). */
  remove(): void {
    nodeFs.rmSync(this.folder, { recursive: true, force: true });
  }
}

function groupByTopName(
  indexes: readonly number[],
  relativeOf: (index: number) => string,
): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  for (const index of indexes) {
    const top = relativeOf(index).split("/")[0]!;
    const group = groups.get(top);
    if (group) group.push(index);
    else groups.set(top, [index]);
  }
  return groups;
}
