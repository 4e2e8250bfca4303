/**
 * `POST /git/trees`: overlay a list of path changes on a base tree, writing every changed level with
 * `git mktree`. Untouched subtrees keep their ids; a directory left empty disappears, as in git.
 */
import type { GitRepository, TreeEntry } from "./git.ts";
import { HttpError } from "./http.ts";

export interface TreeChange {
  path: string;
  mode: string;
  type: "blob" | "tree" | "commit";
  /** undefined = write `content` as a new blob; null = delete the path. */
  sha: string | null | undefined;
  content: string | undefined;
}

const MODES: Record<string, TreeChange["type"]> = {
  "100644": "blob",
  "100755": "blob",
  "120000": "blob",
  "040000": "tree",
  "160000": "commit",
};

const DOCS = "https://docs.github.com/rest/git/trees#create-a-tree";

function invalid(message: string): HttpError {
  return new HttpError(422, message, DOCS);
}

/** Validate the request body's `tree` array into changes. */
export function parseTreeChanges(raw: unknown): TreeChange[] {
  if (!Array.isArray(raw))
    throw invalid(`Invalid request.\n\nFor 'properties/tree', ${JSON.stringify(raw)} is not an array.`);
  return raw.map((item: unknown, index) => {
    if (typeof item !== "object" || item === null)
      throw invalid(`Invalid request.\n\nFor 'items', ${JSON.stringify(item)} is not an object.`);
    const { path, mode, type, sha, content } = item as Record<string, unknown>;
    if (typeof path !== "string" || !isValidTreePath(path))
      throw invalid("tree.path contains a malformed path component");
    if (typeof mode !== "string" || !(mode in MODES))
      throw invalid(
        `Invalid request.\n\n${JSON.stringify(mode)} is not a valid tree mode (tree.${index}.mode).`,
      );
    const expectedType = MODES[mode]!;
    if (type !== undefined && type !== expectedType)
      throw invalid(`Invalid request.\n\nmode ${mode} requires type ${expectedType} (tree.${index}.type).`);
    if (sha !== undefined && content !== undefined)
      throw invalid("Must supply either tree.sha or tree.content, not both");
    if (sha !== undefined && sha !== null && (typeof sha !== "string" || !/^[0-9a-f]{40}$/.test(sha))) {
      throw invalid(`tree.sha ${String(sha)} is not a valid object id`);
    }
    if (content !== undefined && (typeof content !== "string" || expectedType !== "blob")) {
      throw invalid("tree.content must be a string and only for blobs");
    }
    if (sha === undefined && content === undefined) throw invalid("Must supply tree.sha or tree.content");
    return {
      path,
      mode,
      type: expectedType,
      sha: sha as string | null | undefined,
      content: content as string | undefined,
    };
  });
}

function isValidTreePath(path: string): boolean {
  if (path === "" || path.startsWith("/") || path.endsWith("/")) return false;
  return path
    .split("/")
    .every(
      (segment) =>
        segment !== "" &&
        segment !== "." &&
        segment !== ".." &&
        segment.toLowerCase() !== ".git" &&
        !segment.includes("\0"),
    );
}

interface Level {
  /** Changes addressed to a direct child of this level, by name. */
  direct: Map<string, TreeChange>;
  /** Changes below a child directory, by that child's name. */
  nested: Map<string, Level>;
}

function group(changes: readonly TreeChange[]): Level {
  const root: Level = { direct: new Map(), nested: new Map() };
  for (const change of changes) {
    const segments = change.path.split("/");
    let level = root;
    for (const segment of segments.slice(0, -1)) {
      let next = level.nested.get(segment);
      if (!next) {
        next = { direct: new Map(), nested: new Map() };
        level.nested.set(segment, next);
      }
      level = next;
    }
    level.direct.set(segments.at(-1)!, change);
  }
  return root;
}

/** The id of the new root tree. */
export async function buildTree(
  git: GitRepository,
  baseTree: string | undefined,
  changes: readonly TreeChange[],
): Promise<string> {
  const sha = await buildLevel(git, baseTree, group(changes), "");
  // The root is written even when empty: a commit may hold an empty tree.
  return sha ?? git.writeTree([]);
}

async function buildLevel(
  git: GitRepository,
  baseTree: string | undefined,
  level: Level,
  prefix: string,
): Promise<string | undefined> {
  const entries = new Map<string, Omit<TreeEntry, "size">>();
  if (baseTree) for (const entry of await git.listTree(baseTree)) entries.set(entry.path, entry);

  for (const [name, change] of level.direct) {
    const fullPath = `${prefix}${name}`;
    if (change.sha === null) {
      if (!entries.has(name) && !level.nested.has(name))
        throw invalid(`tree.path ${fullPath} does not exist and cannot be deleted`);
      entries.delete(name);
      continue;
    }
    let sha = change.sha;
    if (sha === undefined) sha = await git.writeBlob(Buffer.from(change.content ?? "", "utf8"));
    else if (change.type !== "commit") {
      const actual = await git.objectType(sha);
      if (actual !== change.type) throw invalid(`tree.sha ${sha} is not a valid ${change.type}`);
    }
    entries.set(name, { mode: change.mode, type: change.type, sha, path: name });
  }

  for (const [name, nested] of level.nested) {
    const fullPath = `${prefix}${name}`;
    const existing = entries.get(name);
    if (existing && existing.type !== "tree" && !level.direct.has(name)) {
      throw invalid(`tree.path ${fullPath} is a file, so paths below it cannot be created`);
    }
    const base = existing?.type === "tree" ? existing.sha : undefined;
    const sha = await buildLevel(git, base, nested, `${fullPath}/`);
    if (sha === undefined) entries.delete(name);
    else entries.set(name, { mode: "040000", type: "tree", sha, path: name });
  }

  if (entries.size === 0) return undefined;
  return git.writeTree([...entries.values()]);
}
