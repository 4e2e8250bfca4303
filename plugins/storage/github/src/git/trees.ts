/**
 * Reading a repository at a ref through the git trees API. Trees are content-addressed, so every
 * level fetched is cached by its id for the life of the storage; only "which commit is the branch
 * at" expires (treeCacheTtl). A recursive listing is one request; when GitHub truncates it, the
 * listing falls back to walking subtrees one level at a time, as GitHub's documentation advises.
 */
import { compareKeys, errors } from "@ferry/plugin-kit";
import { type ClientSource, withSignal } from "../client.ts";

export interface GitEntry {
  name: string;
  mode: string;
  type: "blob" | "tree" | "commit";
  sha: string;
  size: number;
}

export interface RepoRef {
  owner: string;
  repo: string;
  /** undefined = the default branch. */
  ref: string | undefined;
}

export interface Head {
  commit: string;
  tree: string;
}

const MAX_CACHED_LEVELS = 20_000;

export class TreeReader {
  readonly #client: ClientSource;
  readonly #repo: RepoRef;
  readonly #ttl: number;
  readonly #levels = new Map<string, Map<string, GitEntry>>();
  readonly #commitTrees = new Map<string, string>();
  #head: { value: Head; at: number } | undefined;
  #defaultBranch: Promise<string> | undefined;

  constructor(client: ClientSource, repo: RepoRef, ttl: number) {
    this.#client = client;
    this.#repo = repo;
    this.#ttl = ttl;
  }

  /** The default branch (asked once per storage). */
  defaultBranch(): Promise<string> {
    this.#defaultBranch ??= (async () => {
      const api = await this.#client();
      const { data } = await api.repos.get({ owner: this.#repo.owner, repo: this.#repo.repo });
      return data.default_branch;
    })();
    this.#defaultBranch.catch(() => {
      this.#defaultBranch = undefined;
    });
    return this.#defaultBranch;
  }

  /** The commit (and its tree) the ref points at now, reusing a recent answer. */
  async head(signal?: AbortSignal): Promise<Head> {
    const immutable = this.#repo.ref !== undefined && /^[0-9a-f]{40}$/i.test(this.#repo.ref);
    if (this.#head && (immutable || Date.now() - this.#head.at < this.#ttl)) return this.#head.value;
    const api = await this.#client();
    const ref = this.#repo.ref ?? (await this.defaultBranch());
    // The sha media type answers just the commit id: the full commit response carries a diff
    // (files, stats) that GitHub computes for nothing here. The tree then comes from the commit
    // object, cached by id.
    const { data } = await api.request("GET /repos/{owner}/{repo}/commits/{ref}", {
      owner: this.#repo.owner,
      repo: this.#repo.repo,
      ref,
      headers: { accept: "application/vnd.github.sha" },
      request: withSignal(signal),
    });
    const commit = String(data).trim();
    const value = { commit, tree: await this.commitTree(commit, signal) };
    this.#head = { value, at: Date.now() };
    return value;
  }

  /** After this storage's own commit: readers see it at once. */
  setHead(head: Head): void {
    this.#commitTrees.set(head.commit, head.tree);
    this.#head = { value: head, at: Date.now() };
  }

  /** A tree level already in hand (the root of a tree this storage just created). */
  rememberLevel(tree: string, items: readonly TreeItem[]): void {
    // Only when it is complete: a blob without its size would make stat report 0 bytes.
    if (this.#levels.has(tree) || items.some((item) => item.type === "blob" && typeof item.size !== "number"))
      return;
    const level = new Map<string, GitEntry>();
    for (const item of items) level.set(item.path!, toEntry(item.path!, item));
    this.#remember(tree, level);
  }

  forgetHead(): void {
    this.#head = undefined;
  }

  async commitTree(commit: string, signal?: AbortSignal): Promise<string> {
    const known = this.#commitTrees.get(commit);
    if (known) return known;
    const api = await this.#client();
    const { data } = await api.git.getCommit({
      owner: this.#repo.owner,
      repo: this.#repo.repo,
      commit_sha: commit,
      request: withSignal(signal),
    });
    this.#commitTrees.set(commit, data.tree.sha);
    return data.tree.sha;
  }

  /** One level of a tree, by name. */
  async level(tree: string, signal?: AbortSignal): Promise<Map<string, GitEntry>> {
    const cached = this.#levels.get(tree);
    if (cached) return cached;
    const api = await this.#client();
    const { data } = await api.git.getTree({
      owner: this.#repo.owner,
      repo: this.#repo.repo,
      tree_sha: tree,
      request: withSignal(signal),
    });
    if (data.truncated) {
      throw errors.unsupported(
        `a directory of ${this.#repo.owner}/${this.#repo.repo} has more entries than GitHub returns in one tree (${data.tree.length})`,
        { system: "github" },
      );
    }
    const level = new Map<string, GitEntry>();
    for (const item of data.tree) level.set(item.path!, toEntry(item.path!, item));
    this.#remember(tree, level);
    return level;
  }

  #remember(tree: string, level: Map<string, GitEntry>): void {
    if (this.#levels.size >= MAX_CACHED_LEVELS) this.#levels.delete(this.#levels.keys().next().value!);
    this.#levels.set(tree, level);
  }

  /** The entry at `path` below `tree` ("" = the tree itself), or undefined. */
  async entryAt(tree: string, path: string, signal?: AbortSignal): Promise<GitEntry | undefined> {
    if (path === "") return { name: "", mode: "040000", type: "tree", sha: tree, size: 0 };
    let current: GitEntry | undefined;
    let treeSha = tree;
    for (const segment of path.split("/")) {
      if (current && current.type !== "tree") return undefined;
      current = (await this.level(treeSha, signal)).get(segment);
      if (!current) return undefined;
      treeSha = current.sha;
    }
    return current;
  }

  /**
   * Every blob below `tree` with its path relative to it, sorted by UTF-8 bytes. One request when
   * GitHub answers in full; a level-by-level walk (cached) when the answer is truncated.
   */
  async files(tree: string, signal?: AbortSignal): Promise<{ path: string; entry: GitEntry }[]> {
    const api = await this.#client();
    const { data } = await api.git.getTree({
      owner: this.#repo.owner,
      repo: this.#repo.repo,
      tree_sha: tree,
      recursive: "1",
      request: withSignal(signal),
    });
    const files: { path: string; entry: GitEntry }[] = [];
    if (!data.truncated) {
      this.#rememberRecursive(tree, data.tree);
      for (const item of data.tree)
        if (item.type === "blob") files.push({ path: item.path!, entry: toEntry(item.path!, item) });
    } else {
      await this.#walk(tree, "", files, signal);
    }
    return files.sort((a, b) => compareKeys(a.path, b.path));
  }

  async #walk(
    tree: string,
    prefix: string,
    out: { path: string; entry: GitEntry }[],
    signal?: AbortSignal,
  ): Promise<void> {
    for (const entry of (await this.level(tree, signal)).values()) {
      const path = `${prefix}${entry.name}`;
      if (entry.type === "blob") out.push({ path, entry });
      else if (entry.type === "tree") await this.#walk(entry.sha, `${path}/`, out, signal);
    }
  }

  /** Split a full recursive listing into per-tree levels, so later stats need no request. */
  #rememberRecursive(root: string, items: readonly TreeItem[]): void {
    const shaOfDir = new Map<string, string>([["", root]]);
    for (const item of items) if (item.type === "tree") shaOfDir.set(item.path!, item.sha!);
    const levels = new Map<string, Map<string, GitEntry>>();
    for (const sha of shaOfDir.values()) levels.set(sha, new Map());
    for (const item of items) {
      const path = item.path!;
      const slash = path.lastIndexOf("/");
      const parent = shaOfDir.get(slash === -1 ? "" : path.slice(0, slash));
      const name = path.slice(slash + 1);
      if (parent !== undefined) levels.get(parent)!.set(name, toEntry(name, item));
    }
    for (const [sha, level] of levels) if (!this.#levels.has(sha)) this.#remember(sha, level);
  }
}

export interface TreeItem {
  path?: string;
  mode?: string;
  type?: string;
  sha?: string;
  size?: number;
}

function toEntry(name: string, item: TreeItem): GitEntry {
  return {
    name,
    mode: item.mode ?? "100644",
    type: (item.type ?? "blob") as GitEntry["type"],
    sha: item.sha ?? "",
    size: item.size ?? 0,
  };
}
