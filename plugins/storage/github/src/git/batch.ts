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
} from "@ferry/core";
import type { Octokit } from "@octokit/rest";
import { createFirstFile, type FirstCommit, uploadBlob } from "./blobs.ts";
import { commitMessage, emptySummary, type Overlay, treeChanges } from "./changes.ts";
import { withSignal } from "./client.ts";
import type { CommitSummary, GithubOptions } from "./options.ts";
import type { GitEntry, TreeReader } from "./trees.ts";

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

type Operation =
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

export async function runBatch(
  target: CommitTarget,
  build: (tx: GithubTransaction) => void | Promise<void>,
  options: BatchOptions = {},
): Promise<BatchResult> {
  const { api, owner, repo, branch, trees } = target;
  const signal = options.signal;
  const key = (path: string) => normalizeKey(path, { system: "github" });
  const operations: Operation[] = [];
  const uploads: Promise<unknown>[] = [];
  let bootstrap: Promise<FirstCommit> | undefined;
  const tx: GithubTransaction = {
    write(path, source, writeOptions = {}) {
      const normalized = key(path);
      const bytes = toByteIterable(source);
      const writeSignal = writeOptions.signal ?? signal;
      let blob: Promise<{ sha: string; size: number }>;
      const startsRepository = target.empty && !bootstrap;
      if (startsRepository) {
        // An empty repository refuses the git data API: its first file is its first commit, made
        // through the contents API; everything else in the batch then commits on top of it.
        const first = createFirstFile(
          api,
          { owner, repo },
          {
            path: normalized,
            branch,
            message:
              options.message ??
              commitMessage(target.options, { ...emptySummary(branch), written: [normalized] }),
            author: target.options.author,
            committer: target.options.committer,
          },
          bytes,
          writeSignal,
        );
        bootstrap = first;
        blob = first.then(({ blob: sha, size }) => ({ sha, size }));
      } else if (bootstrap) {
        blob = bootstrap.then(() => uploadBlob(api, { owner, repo }, bytes, writeSignal));
      } else {
        blob = uploadBlob(api, { owner, repo }, bytes, writeSignal);
      }
      // A stall names the file being uploaded, not only the repository the blob went to.
      blob = blob.catch((error: unknown) => {
        throw (
          describeStall(error, "upload", `github://${owner}/${repo}/${normalized}`, {
            system: "github",
            path: normalized,
          }) ?? error
        );
      });
      uploads.push(blob.catch(() => undefined));
      operations.push({
        op: "write",
        path: normalized,
        blob,
        ifNoneMatch: writeOptions.ifNoneMatch === "*",
        started: startsRepository,
      });
      const entry = blob.then(
        ({ sha, size }): Entry => ({ path: normalized, kind: "file", size, etag: sha }),
      );
      // The batch reports an upload failure itself; a caller that does not await this is not left with an unhandled rejection.
      entry.catch(() => undefined);
      return entry;
    },
    delete(paths) {
      for (const path of typeof paths === "string" ? [paths] : paths)
        operations.push({ op: "delete", path: key(path) });
    },
    deleteDirectory(path) {
      operations.push({
        op: "deleteDirectory",
        path: normalizeKey(path, { system: "github", allowRoot: true }),
      });
    },
    copy(from, to, copyOptions = {}) {
      operations.push({
        op: "copy",
        from: key(from),
        to: key(to),
        ifNoneMatch: copyOptions.ifNoneMatch === "*",
      });
    },
    move(from, to, copyOptions = {}) {
      operations.push({
        op: "move",
        from: key(from),
        to: key(to),
        ifNoneMatch: copyOptions.ifNoneMatch === "*",
      });
    },
  };
  try {
    await build(tx);
  } catch (error) {
    if (typeof error === "object" && error !== null) callbackErrors.add(error);
    throw error;
  } finally {
    // Never leave an upload running behind a failed callback.
    await Promise.all(uploads);
  }

  if (target.empty && !bootstrap) {
    // Nothing exists in an empty repository: deletes have nothing to do, copies nothing to copy.
    const copy = operations.find((operation) => operation.op === "copy" || operation.op === "move");
    if (copy && "from" in copy) {
      throw errors.notFound(`${target.describe(copy.from)} does not exist (the repository is empty)`, {
        system: "github",
        path: copy.from,
      });
    }
    return { commit: undefined, parent: undefined, branch, summary: emptySummary(branch) };
  }
  const started = bootstrap ? await bootstrap : undefined;
  if (started) trees.setHead({ commit: started.commit, tree: started.tree });

  // Commits from this storage go one at a time: its own parallel writes never race each other;
  // only a push from elsewhere can make the fast-forward fail.
  return target.serialize(async () => {
    // The base is the branch head now (or the caller's baseCommit): every decision below (what exists,
    // what to delete, create-only checks) is made against it, and the fast-forward-only ref update
    // guarantees nobody changed the branch in between.
    const parent =
      options.baseCommit ??
      (await api.git.getRef({ owner, repo, ref: `heads/${branch}`, request: withSignal(signal) })).data.object
        .sha;
    const baseTree = await trees.commitTree(parent, signal);
    const overlay = new Map<string, Overlay>();
    const summary = emptySummary(branch);

    const lookup = async (path: string): Promise<Overlay | GitEntry | undefined> => {
      const own = overlay.get(path);
      if (own) return own.kind === "blob" ? own : undefined;
      const segments = path.split("/");
      for (let index = segments.length - 1; index > 0; index -= 1) {
        const above = overlay.get(segments.slice(0, index).join("/"));
        if (above) return undefined;
      }
      return trees.entryAt(baseTree, path, signal);
    };
    const isFile = (
      value: Overlay | GitEntry | undefined,
    ): value is (Overlay & { kind: "blob" }) | GitEntry =>
      value !== undefined && ("kind" in value ? value.kind === "blob" : value.type === "blob");

    for (const operation of operations) {
      switch (operation.op) {
        case "write": {
          const { sha, size } = await operation.blob;
          const existing = await lookup(operation.path);
          if (operation.ifNoneMatch && existing !== undefined && !operation.started) {
            throw errors.conditionNotMet(`${target.describe(operation.path)} already exists`, {
              system: "github",
              path: operation.path,
            });
          }
          // Keep an executable file executable when its content is replaced.
          const mode = isFile(existing) && existing.mode === "100755" ? "100755" : "100644";
          overlay.set(operation.path, { kind: "blob", sha, mode, size });
          summary.written.push(operation.path);
          break;
        }
        case "delete": {
          if (isFile(await lookup(operation.path))) {
            overlay.set(operation.path, { kind: "deleted" });
            summary.deleted.push(operation.path);
          }
          break;
        }
        case "deleteDirectory": {
          const dir = operation.path;
          for (const path of [...overlay.keys()])
            if (dir === "" || path.startsWith(`${dir}/`)) overlay.delete(path);
          if (dir === "") {
            for (const name of (await trees.level(baseTree, signal)).keys())
              overlay.set(name, { kind: "deletedDirectory" });
          } else {
            overlay.set(dir, { kind: "deletedDirectory" });
          }
          summary.deleted.push(dir === "" ? "/" : `${dir}/`);
          break;
        }
        case "copy":
        case "move": {
          const source = await lookup(operation.from);
          if (!isFile(source)) {
            throw errors.notFound(
              `${target.describe(operation.from)} does not exist (nothing to ${operation.op})`,
              {
                system: "github",
                path: operation.from,
              },
            );
          }
          if (operation.from === operation.to) break;
          if (operation.ifNoneMatch && (await lookup(operation.to)) !== undefined) {
            throw errors.conditionNotMet(`${target.describe(operation.to)} already exists`, {
              system: "github",
              path: operation.to,
            });
          }
          overlay.set(operation.to, { kind: "blob", sha: source.sha, mode: source.mode, size: source.size });
          if (operation.op === "move") {
            overlay.set(operation.from, { kind: "deleted" });
            summary.moved.push([operation.from, operation.to]);
          } else {
            summary.copied.push([operation.from, operation.to]);
          }
          break;
        }
      }
    }

    const changes = await treeChanges(overlay, baseTree, trees, signal);
    // A batch whose only change was the first file of an empty repository is that first commit.
    if (changes.length === 0)
      return { commit: started?.commit, parent: started ? undefined : parent, branch, summary };

    const { data: tree } = await api.git.createTree({
      owner,
      repo,
      base_tree: baseTree,
      tree: changes,
      request: withSignal(signal),
    });
    const { data: commit } = await api.git.createCommit({
      owner,
      repo,
      message: options.message ?? commitMessage(target.options, summary),
      tree: tree.sha,
      parents: [parent],
      ...(target.options.author ? { author: target.options.author } : {}),
      ...(target.options.committer ? { committer: target.options.committer } : {}),
      request: withSignal(signal),
    });
    try {
      await api.git.updateRef({
        owner,
        repo,
        ref: `heads/${branch}`,
        sha: commit.sha,
        force: false,
        request: withSignal(signal),
      });
    } catch (error) {
      trees.forgetHead();
      throw error;
    }
    trees.rememberLevel(tree.sha, tree.tree);
    trees.setHead({ commit: commit.sha, tree: tree.sha });
    return { commit: commit.sha, parent, branch, summary };
  });
}
