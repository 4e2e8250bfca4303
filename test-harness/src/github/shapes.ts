/** Response bodies in the shapes of GitHub's REST description (git-ref, git-commit, git-tree, content-file, ...). */
import type { CommitObject, RefRecord, Signature, TreeEntry } from "./git.ts";

/** Where a repository's API and web URLs point. */
export interface RepoUrls {
  /** http://127.0.0.1:P[/prefix]/repos/o/r */
  api: string;
  /** http://127.0.0.1:P/o/r (what html_url points at; not served) */
  html: string;
}

export function nodeId(kind: string, id: string): string {
  return `${kind}_${Buffer.from(`${kind}:${id}`).toString("base64url")}`;
}

const UNVERIFIED = { verified: false, reason: "unsigned", signature: null, payload: null, verified_at: null };

export function gitRef(urls: RepoUrls, ref: RefRecord) {
  const objectPath = ref.type === "tag" ? "tags" : ref.type === "commit" ? "commits" : `${ref.type}s`;
  return {
    ref: ref.ref,
    node_id: nodeId("REF", ref.ref),
    url: `${urls.api}/git/${ref.ref}`,
    object: { type: ref.type, sha: ref.sha, url: `${urls.api}/git/${objectPath}/${ref.sha}` },
  };
}

function signature(value: Signature) {
  return { name: value.name, email: value.email, date: value.date };
}

/** `git-commit` (the git data API form). */
export function gitCommit(urls: RepoUrls, commit: CommitObject) {
  return {
    sha: commit.sha,
    node_id: nodeId("C", commit.sha),
    url: `${urls.api}/git/commits/${commit.sha}`,
    html_url: `${urls.html}/commit/${commit.sha}`,
    author: signature(commit.author),
    committer: signature(commit.committer),
    tree: { sha: commit.tree, url: `${urls.api}/git/trees/${commit.tree}` },
    message: commit.message,
    parents: commit.parents.map((sha) => ({
      sha,
      url: `${urls.api}/git/commits/${sha}`,
      html_url: `${urls.html}/commit/${sha}`,
    })),
    verification: UNVERIFIED,
  };
}

/** `commit` (the repos API form: GET /commits/{ref}, list commits, branch.commit). */
export function repoCommit(urls: RepoUrls, commit: CommitObject) {
  return {
    sha: commit.sha,
    node_id: nodeId("C", commit.sha),
    commit: {
      author: signature(commit.author),
      committer: signature(commit.committer),
      message: commit.message,
      tree: { sha: commit.tree, url: `${urls.api}/git/trees/${commit.tree}` },
      url: `${urls.api}/git/commits/${commit.sha}`,
      comment_count: 0,
      verification: UNVERIFIED,
    },
    url: `${urls.api}/commits/${commit.sha}`,
    html_url: `${urls.html}/commit/${commit.sha}`,
    comments_url: `${urls.api}/commits/${commit.sha}/comments`,
    author: null,
    committer: null,
    parents: commit.parents.map((sha) => ({
      sha,
      url: `${urls.api}/commits/${sha}`,
      html_url: `${urls.html}/commit/${sha}`,
    })),
  };
}

export function treeEntry(urls: RepoUrls, entry: TreeEntry) {
  const base = { path: entry.path, mode: entry.mode, type: entry.type, sha: entry.sha };
  if (entry.type === "blob")
    return { ...base, size: entry.size ?? 0, url: `${urls.api}/git/blobs/${entry.sha}` };
  if (entry.type === "tree") return { ...base, url: `${urls.api}/git/trees/${entry.sha}` };
  return base;
}

export function gitTree(urls: RepoUrls, sha: string, entries: readonly TreeEntry[], truncated: boolean) {
  return {
    sha,
    url: `${urls.api}/git/trees/${sha}`,
    tree: entries.map((entry) => treeEntry(urls, entry)),
    truncated,
  };
}

function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

export type ContentType = "file" | "dir" | "symlink" | "submodule";

export function contentType(entry: TreeEntry): ContentType {
  if (entry.type === "tree") return "dir";
  if (entry.type === "commit") return "submodule";
  return entry.mode === "120000" ? "symlink" : "file";
}

/** One item of a contents response, without `content` (a directory entry, or the file body's metadata). */
export function contentItem(
  urls: RepoUrls,
  ref: string,
  path: string,
  entry: TreeEntry,
  type: ContentType = contentType(entry),
) {
  const name = path.slice(path.lastIndexOf("/") + 1);
  const self = `${urls.api}/contents/${encodePath(path)}?ref=${encodeURIComponent(ref)}`;
  const git =
    type === "dir"
      ? `${urls.api}/git/trees/${entry.sha}`
      : type === "submodule"
        ? null
        : `${urls.api}/git/blobs/${entry.sha}`;
  const html = `${urls.html}/${type === "dir" ? "tree" : "blob"}/${encodeURIComponent(ref)}/${encodePath(path)}`;
  return {
    type,
    size: entry.type === "blob" ? (entry.size ?? 0) : 0,
    name,
    path,
    sha: entry.sha,
    url: self,
    git_url: git,
    html_url: type === "submodule" ? null : html,
    download_url:
      type === "file" || type === "symlink"
        ? `${urls.html}/raw/${encodeURIComponent(ref)}/${encodePath(path)}`
        : null,
    _links: { self, git, html },
  };
}

export function branch(urls: RepoUrls, name: string, commit: CommitObject) {
  return {
    name,
    commit: repoCommit(urls, commit),
    _links: {
      self: `${urls.api}/branches/${encodeURIComponent(name)}`,
      html: `${urls.html}/tree/${encodeURIComponent(name)}`,
    },
    protected: false,
    protection: {
      enabled: false,
      required_status_checks: { enforcement_level: "off", contexts: [], checks: [] },
    },
    protection_url: `${urls.api}/branches/${encodeURIComponent(name)}/protection`,
  };
}
