/**
 * What a batch changes: its operations applied in order on the base tree (as an overlay of paths),
 * then turned into `POST /git/trees` entries and a commit message.
 */
import { errors } from "@ferry/plugin-kit";
import type { CommitSummary, GithubOptions } from "../options.ts";
import type { GitEntry, TreeReader } from "./trees.ts";

/** One change a batch records, in the order the callback made it. */
export type Operation =
  | {
      op: "write";
      path: string;
      blob: Promise<{ sha: string; size: number }>;
      ifNoneMatch: boolean;
      /** Already committed as the first commit of an empty repository. */
      started: boolean;
    }
  | { op: "delete"; path: string }
  | { op: "deleteDirectory"; path: string }
  | { op: "copy" | "move"; from: string; to: string; ifNoneMatch: boolean };

/** A path's state after the batch's operations, before they are compared with the base tree. */
export type Overlay =
  | { kind: "blob"; sha: string; mode: string; size: number }
  | { kind: "deleted" }
  | { kind: "deletedDirectory" };

export type TreeChange = {
  path: string;
  mode: "100644" | "100755" | "040000" | "160000" | "120000";
  type: "blob" | "tree";
  sha: string | null;
};

/** The overlay as `POST /git/trees` entries; deletions of things the base does not have are dropped. */
export async function treeChanges(
  overlay: Map<string, Overlay>,
  baseTree: string,
  trees: TreeReader,
  signal?: AbortSignal,
): Promise<TreeChange[]> {
  const changes: TreeChange[] = [];
  const removedDirectories = [...overlay]
    .filter(([, value]) => value.kind === "deletedDirectory")
    .map(([path]) => path);
  const coveredByRemoval = (path: string) => removedDirectories.some((dir) => path.startsWith(`${dir}/`));
  for (const [path, value] of overlay) {
    if (value.kind === "blob") {
      // Content the base already has at that path changes nothing: no entry, and no empty commit.
      const existing = coveredByRemoval(path) ? undefined : await trees.entryAt(baseTree, path, signal);
      if (existing?.type !== "blob" || existing.sha !== value.sha || existing.mode !== value.mode) {
        changes.push({ path, mode: value.mode as TreeChange["mode"], type: "blob", sha: value.sha });
      }
      continue;
    }
    if (coveredByRemoval(path)) continue;
    const existing = await trees.entryAt(baseTree, path, signal);
    if (!existing) continue;
    if (value.kind === "deleted" && existing.type === "blob")
      changes.push({ path, mode: existing.mode as TreeChange["mode"], type: "blob", sha: null });
    if (value.kind === "deletedDirectory") {
      changes.push(
        existing.type === "tree"
          ? { path, mode: "040000", type: "tree", sha: null }
          : { path, mode: existing.mode as TreeChange["mode"], type: "blob", sha: null },
      );
    }
  }
  return changes;
}

export function emptySummary(branch: string): CommitSummary {
  return { written: [], deleted: [], copied: [], moved: [], branch };
}

export function commitMessage(options: GithubOptions, summary: CommitSummary): string {
  if (typeof options.commitMessage === "function") return options.commitMessage(summary);
  if (typeof options.commitMessage === "string") return options.commitMessage;
  const lines = [
    ...summary.written.map((path) => `Update ${path}`),
    ...summary.deleted.map((path) => `Delete ${path}`),
    ...summary.copied.map(([from, to]) => `Copy ${from} to ${to}`),
    ...summary.moved.map(([from, to]) => `Rename ${from} to ${to}`),
  ];
  if (lines.length === 1) return lines[0]!;
  return `Update ${lines.length} paths\n\n${lines.join("\n")}`;
}

type FileLike = (Overlay & { kind: "blob" }) | GitEntry;

function isFile(value: Overlay | GitEntry | undefined): value is FileLike {
  return value !== undefined && ("kind" in value ? value.kind === "blob" : value.type === "blob");
}

/** The base tree with a batch's operations applied so far, and the summary of what they changed. */
export class PendingTree {
  readonly overlay = new Map<string, Overlay>();
  readonly summary: CommitSummary;
  readonly #trees: TreeReader;
  readonly #baseTree: string;
  readonly #describe: (path?: string) => string;
  readonly #signal: AbortSignal | undefined;

  constructor(
    target: { branch: string; trees: TreeReader; describe(path?: string): string },
    baseTree: string,
    signal: AbortSignal | undefined,
  ) {
    this.summary = emptySummary(target.branch);
    this.#trees = target.trees;
    this.#describe = (path) => target.describe(path);
    this.#baseTree = baseTree;
    this.#signal = signal;
  }

  async apply(operation: Operation): Promise<void> {
    switch (operation.op) {
      case "write":
        return this.#write(operation);
      case "delete":
        if (isFile(await this.#lookup(operation.path))) {
          this.overlay.set(operation.path, { kind: "deleted" });
          this.summary.deleted.push(operation.path);
        }
        return;
      case "deleteDirectory":
        return this.#deleteDirectory(operation.path);
      case "copy":
      case "move":
        return this.#copy(operation);
    }
  }

  /** What is at `path` now: the overlay's own entry, nothing below a removed or replaced path, else the base's. */
  async #lookup(path: string): Promise<Overlay | GitEntry | undefined> {
    const own = this.overlay.get(path);
    if (own) return own.kind === "blob" ? own : undefined;
    const segments = path.split("/");
    for (let index = segments.length - 1; index > 0; index -= 1) {
      if (this.overlay.get(segments.slice(0, index).join("/"))) return undefined;
    }
    return this.#trees.entryAt(this.#baseTree, path, this.#signal);
  }

  async #write(operation: Extract<Operation, { op: "write" }>): Promise<void> {
    const { sha, size } = await operation.blob;
    const existing = await this.#lookup(operation.path);
    if (operation.ifNoneMatch && existing !== undefined && !operation.started) {
      throw errors.conditionNotMet(`${this.#describe(operation.path)} already exists`, {
        system: "github",
        path: operation.path,
      });
    }
    // Keep an executable file executable when its content is replaced.
    const mode = isFile(existing) && existing.mode === "100755" ? "100755" : "100644";
    this.overlay.set(operation.path, { kind: "blob", sha, mode, size });
    this.summary.written.push(operation.path);
  }

  async #deleteDirectory(dir: string): Promise<void> {
    for (const path of [...this.overlay.keys()])
      if (dir === "" || path.startsWith(`${dir}/`)) this.overlay.delete(path);
    if (dir === "") {
      for (const name of (await this.#trees.level(this.#baseTree, this.#signal)).keys())
        this.overlay.set(name, { kind: "deletedDirectory" });
    } else {
      this.overlay.set(dir, { kind: "deletedDirectory" });
    }
    this.summary.deleted.push(dir === "" ? "/" : `${dir}/`);
  }

  async #copy(operation: Extract<Operation, { op: "copy" | "move" }>): Promise<void> {
    const { from, to } = operation;
    const source = await this.#lookup(from);
    if (!isFile(source)) {
      throw errors.notFound(`${this.#describe(from)} does not exist (nothing to ${operation.op})`, {
        system: "github",
        path: from,
      });
    }
    if (from === to) return;
    if (operation.ifNoneMatch && (await this.#lookup(to)) !== undefined) {
      throw errors.conditionNotMet(`${this.#describe(to)} already exists`, { system: "github", path: to });
    }
    this.overlay.set(to, { kind: "blob", sha: source.sha, mode: source.mode, size: source.size });
    if (operation.op === "move") {
      this.overlay.set(from, { kind: "deleted" });
      this.summary.moved.push([from, to]);
    } else {
      this.summary.copied.push([from, to]);
    }
  }
}
