/** Listing: one level of a directory sorted as object stores list, or every file below it in one request. */
import { compareKeys, type Entry } from "@ferry/plugin-kit";
import type { GitEntry, TreeReader } from "./git/trees.ts";

export function entryOf(path: string, entry: GitEntry): Entry {
  if (entry.type === "tree") return { path, kind: "directory", size: 0 };
  return { path, kind: "file", size: entry.size, etag: entry.sha };
}

/** Directories sort as `name/`, the order object stores list in with a delimiter (and git's own tree order). */
function delimited(entry: Entry): string {
  return entry.kind === "directory" ? `${entry.path}/` : entry.path;
}

/** The entries of `dir` in the tree `root`: empty when it is missing or a file; submodules are left out. */
export async function listTree(
  trees: TreeReader,
  root: string,
  dir: string,
  options: { recursive?: boolean | undefined; signal?: AbortSignal | undefined },
): Promise<Entry[]> {
  const prefix = dir === "" ? "" : `${dir}/`;
  const directory = await trees.entryAt(root, dir, options.signal);
  if (directory?.type !== "tree") return [];
  if (options.recursive) {
    return (await trees.files(directory.sha, options.signal)).map(({ path, entry }) =>
      entryOf(`${prefix}${path}`, entry),
    );
  }
  const level = [...(await trees.level(directory.sha, options.signal)).values()];
  return level
    .filter((entry) => entry.type !== "commit")
    .map((entry) => entryOf(`${prefix}${entry.name}`, entry))
    .sort((a, b) => compareKeys(delimited(a), delimited(b)));
}
