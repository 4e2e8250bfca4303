/**
 * Changes to a branch as ONE commit through the git data API: blobs are uploaded as the batch runs,
 * then a tree is built on the base commit's tree (`base_tree`), a commit is made on the base commit,
 * and the branch is moved with `force: false`. If anyone pushed in between, GitHub refuses the
 * fast-forward and the batch fails with ConditionNotMet: nothing is lost, nothing is half-applied.
 */
import {
  describeStall,
  type Entry,
  errors,
  normalizeKey,
  toByteIterable,
  type WriteSource,
} from "@ferry/plugin-kit";
import type { Octokit } from "@octokit/rest";
import { withSignal } from "../client.ts";
import type { CommitSummary, GithubOptions } from "../options.ts";
import { createFirstFile, type FirstCommit, uploadBlob } from "../write.ts";
import {
  commitMessage,
  emptySummary,
  type Operation,
  PendingTree,
  type TreeChange,
  treeChanges,
} from "./changes.ts";
import type { TreeReader } from "./trees.ts";

/** What a batch callback gets: record changes; they are committed together when the callback returns. */
export interface GithubTransaction {
  /** Upload the bytes now (streamed) and put them at `path` in the commit. */
  write(
    path: string,
    source: WriteSource,
    options?: { ifNoneMatch?: "*" | undefined; signal?: AbortSignal | undefined },
  ): Promise<Entry>;
  /** Remove files; paths that do not exist are ignored. */
  delete(paths: string | readonly string[]): void;
  /** Remove a directory and everything below it (one tree entry in the commit). */
  deleteDirectory(path: string): void;
  /** Server-side copy: the new tree entry points at the same blob; no bytes move. */
  copy(from: string, to: string, options?: { ifNoneMatch?: "*" | undefined }): void;
  /** Rename within the same commit. */
  move(from: string, to: string, options?: { ifNoneMatch?: "*" | undefined }): void;
}

export interface BatchOptions {
  /** Commit message (default: the `commitMessage` option, else a summary of the changes). */
  message?: string | undefined;
  signal?: AbortSignal | undefined;
  /**
   * Commit on top of exactly this commit: ConditionNotMet if the branch is anywhere else when the
   * batch commits (use it when the batch was decided from what you read at that commit).
   * Default: the branch head when the batch commits.
   */
  baseCommit?: string | undefined;
}

export interface BatchResult {
  /** The new commit, or undefined when the batch changed nothing (no commit is made). */
  commit: string | undefined;
  /** The commit the batch was based on (undefined when it started an empty repository). */
  parent: string | undefined;
  branch: string;
  summary: CommitSummary;
}

export interface CommitTarget {
  api: Octokit;
  owner: string;
  repo: string;
  branch: string;
  trees: TreeReader;
  options: GithubOptions;
  describe(path?: string): string;
  /** The repository has no commit yet: the first write goes through the contents API. */
  empty: boolean;
  /** Runs commit phases one after another. */
  serialize<T>(run: () => Promise<T>): Promise<T>;
}

/** Errors the caller's own batch callback threw: they pass through unchanged, never re-labelled as GitHub's. */
const callbackErrors = new WeakSet<object>();

export function isCallbackError(error: unknown): boolean {
  return typeof error === "object" && error !== null && callbackErrors.has(error);
}

/** Record the callback's changes (uploading blobs as it goes), then commit them as one commit. */
export async function runBatch(
  target: CommitTarget,
  build: (tx: GithubTransaction) => void | Promise<void>,
  options: BatchOptions = {},
): Promise<BatchResult> {
  const recorder = new Recorder(target, options);
  try {
    await build(recorder.tx);
  } catch (error) {
    if (typeof error === "object" && error !== null) callbackErrors.add(error);
    throw error;
  } finally {
    // Never leave an upload running behind a failed callback.
    await Promise.all(recorder.uploads);
  }
  const { branch } = target;
  if (target.empty && !recorder.bootstrap) return nothingToCommit(target, recorder.operations);
  const started = recorder.bootstrap ? await recorder.bootstrap : undefined;
  if (started) target.trees.setHead({ commit: started.commit, tree: started.tree });
  // Commits from this storage go one at a time: its own parallel writes never race each other;
  // only a push from elsewhere can make the fast-forward fail.
  return target.serialize(async () => {
    // The base is the branch head now (or the caller's baseCommit): every decision below (what exists,
    // what to delete, create-only checks) is made against it, and the fast-forward-only ref update
    // guarantees nobody changed the branch in between.
    const parent = options.baseCommit ?? (await branchHead(target, options.signal));
    const baseTree = await target.trees.commitTree(parent, options.signal);
    const pending = new PendingTree(target, baseTree, options.signal);
    for (const operation of recorder.operations) await pending.apply(operation);
    const changes = await treeChanges(pending.overlay, baseTree, target.trees, options.signal);
    // A batch whose only change was the first file of an empty repository is that first commit.
    if (changes.length === 0)
      return {
        commit: started?.commit,
        parent: started ? undefined : parent,
        branch,
        summary: pending.summary,
      };
    const commit = await commitChanges(
      target,
      { parent, baseTree, changes },
      {
        message: options.message ?? commitMessage(target.options, pending.summary),
        signal: options.signal,
      },
    );
    return { commit, parent, branch, summary: pending.summary };
  });
}

/** A batch on an empty repository that writes nothing: deletes have nothing to do, copies nothing to copy. */
function nothingToCommit(target: CommitTarget, operations: readonly Operation[]): BatchResult {
  const copy = operations.find((operation) => operation.op === "copy" || operation.op === "move");
  if (copy && "from" in copy) {
    throw errors.notFound(`${target.describe(copy.from)} does not exist (the repository is empty)`, {
      system: "github",
      path: copy.from,
    });
  }
  return {
    commit: undefined,
    parent: undefined,
    branch: target.branch,
    summary: emptySummary(target.branch),
  };
}

async function branchHead(target: CommitTarget, signal: AbortSignal | undefined): Promise<string> {
  const { api, owner, repo, branch } = target;
  const { data } = await api.git.getRef({ owner, repo, ref: `heads/${branch}`, request: withSignal(signal) });
  return data.object.sha;
}

/**
 * A tree of `changes` on `baseTree`, a commit of it on `parent`, and the branch moved there with
 * `force: false` (GitHub refuses when the branch is no longer at `parent`). Resolves to the commit.
 */
async function commitChanges(
  target: CommitTarget,
  base: { parent: string; baseTree: string; changes: TreeChange[] },
  options: { message: string; signal: AbortSignal | undefined },
): Promise<string> {
  const { api, owner, repo, branch, trees } = target;
  const request = withSignal(options.signal);
  const { data: tree } = await api.git.createTree({
    owner,
    repo,
    base_tree: base.baseTree,
    tree: base.changes,
    request,
  });
  const { data: commit } = await api.git.createCommit({
    owner,
    repo,
    message: options.message,
    tree: tree.sha,
    parents: [base.parent],
    ...(target.options.author ? { author: target.options.author } : {}),
    ...(target.options.committer ? { committer: target.options.committer } : {}),
    request,
  });
  try {
    await api.git.updateRef({ owner, repo, ref: `heads/${branch}`, sha: commit.sha, force: false, request });
  } catch (error) {
    trees.forgetHead();
    throw error;
  }
  trees.rememberLevel(tree.sha, tree.tree);
  trees.setHead({ commit: commit.sha, tree: tree.sha });
  return commit.sha;
}

/** The transaction a batch callback gets: it records operations and starts each write's upload at once. */
class Recorder {
  /** What the callback gets: plain functions, so that `async ({ write, delete: remove }) => …` works too. */
  readonly tx: GithubTransaction = {
    write: (path, source, options) => this.#write(path, source, options),
    delete: (paths) => this.#delete(paths),
    deleteDirectory: (path) => this.#deleteDirectory(path),
    copy: (from, to, options) => this.#copyOrMove("copy", from, to, options),
    move: (from, to, options) => this.#copyOrMove("move", from, to, options),
  };
  readonly operations: Operation[] = [];
  /** Every upload started, settled or not: the batch waits for all of them before it goes on. */
  readonly uploads: Promise<unknown>[] = [];
  /** The first file of an empty repository, committed through the contents API. */
  bootstrap: Promise<FirstCommit> | undefined;
  readonly #target: CommitTarget;
  readonly #options: BatchOptions;

  constructor(target: CommitTarget, options: BatchOptions) {
    this.#target = target;
    this.#options = options;
  }

  #write(
    path: string,
    source: WriteSource,
    options: { ifNoneMatch?: "*" | undefined; signal?: AbortSignal | undefined } = {},
  ): Promise<Entry> {
    const normalized = key(path);
    const startsRepository = this.#target.empty && !this.bootstrap;
    const { owner, repo } = this.#target;
    // A stall names the file being uploaded, not only the repository the blob went to.
    const blob = this.#upload(
      normalized,
      toByteIterable(source),
      options.signal ?? this.#options.signal,
    ).catch((error: unknown) => {
      throw (
        describeStall(error, "upload", `github://${owner}/${repo}/${normalized}`, {
          system: "github",
          path: normalized,
        }) ?? error
      );
    });
    this.uploads.push(blob.catch(() => undefined));
    this.operations.push({
      op: "write",
      path: normalized,
      blob,
      ifNoneMatch: options.ifNoneMatch === "*",
      started: startsRepository,
    });
    const entry = blob.then(({ sha, size }): Entry => ({ path: normalized, kind: "file", size, etag: sha }));
    // The batch reports an upload failure itself; a caller that does not await this is not left with an unhandled rejection.
    entry.catch(() => undefined);
    return entry;
  }

  /**
   * The blob of one write. An empty repository refuses the git data API: its first file is its
   * first commit, made through the contents API; everything else in the batch then commits on top of it.
   */
  #upload(path: string, bytes: AsyncIterable<Uint8Array>, signal: AbortSignal | undefined) {
    const { api, owner, repo, branch, options } = this.#target;
    if (this.bootstrap) {
      return this.bootstrap.then(() => uploadBlob(api, { owner, repo }, bytes, signal));
    }
    if (!this.#target.empty) return uploadBlob(api, { owner, repo }, bytes, signal);
    const message =
      this.#options.message ?? commitMessage(options, { ...emptySummary(branch), written: [path] });
    const first = createFirstFile(
      api,
      { owner, repo },
      { path, branch, message, author: options.author, committer: options.committer },
      bytes,
      signal,
    );
    this.bootstrap = first;
    return first.then(({ blob: sha, size }) => ({ sha, size }));
  }

  #delete(paths: string | readonly string[]): void {
    for (const path of typeof paths === "string" ? [paths] : paths)
      this.operations.push({ op: "delete", path: key(path) });
  }

  #deleteDirectory(path: string): void {
    this.operations.push({
      op: "deleteDirectory",
      path: normalizeKey(path, { system: "github", allowRoot: true }),
    });
  }

  #copyOrMove(
    op: "copy" | "move",
    from: string,
    to: string,
    options: { ifNoneMatch?: "*" | undefined } = {},
  ): void {
    this.operations.push({ op, from: key(from), to: key(to), ifNoneMatch: options.ifNoneMatch === "*" });
  }
}

function key(path: string): string {
  return normalizeKey(path, { system: "github" });
}
