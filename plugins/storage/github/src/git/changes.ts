/** What a batch changes, as `POST /git/trees` entries and a commit message. */
import type { CommitSummary, GithubOptions } from "./options.ts";
import type { TreeReader } from "./trees.ts";

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
