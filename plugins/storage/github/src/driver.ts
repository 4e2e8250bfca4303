/** A repository at a ref as a ferry storage: reads through the trees and blobs APIs, writes as commits. */
import type { Readable } from "node:stream";
import {
  baseCapabilities,
  type Capabilities,
  type CopyOptions,
  compareKeys,
  type Entry,
  errors,
  type HashAlgorithm,
  type ListOptions,
  mapStreamErrors,
  type ReadOptions,
  type SignalOptions,
  type StorageDriver,
  type WriteOptions,
} from "@ferry/plugin-kit";
import {
  type BatchOptions,
  type BatchResult,
  type CommitTarget,
  type GithubTransaction,
  isCallbackError,
  runBatch,
} from "./batch.ts";
import { downloadBlob } from "./blobs.ts";
import type { ClientSource } from "./client.ts";
import { httpStatus, toGithubError } from "./errors.ts";
import type { GithubOptions } from "./options.ts";
import { type GitEntry, type RepoRef, TreeReader } from "./trees.ts";

const MAX_BLOB_BYTES = 100 * 1024 * 1024;

/** What every GitHub storage declares; a storage at a commit sha narrows `write` to false. */
export const GITHUB_CAPABILITIES: Capabilities = {
  ...baseCapabilities,
  write: true,
  // Checked against the pinned base commit, and the fast-forward-only ref update makes it atomic.
  conditionalWrite: true,
  // Blobs come whole from GitHub; ranges are cut client-side while streaming.
  rangeRead: false,
  copy: "native",
  move: "native",
  mkdir: false,
  emptyDirectories: false,
  directories: "virtual",
  hashes: ["git-sha1"],
  checksum: true,
  exec: false,
  presign: false,
  listOrder: "lexicographic",
  listRecursive: "native",
  mtime: "none",
  setMtime: false,
  contentType: false,
  caseInsensitive: false,
  limits: { maxObjectSize: MAX_BLOB_BYTES, deleteBatchMax: 10_000 },
};

/** Directories sort as `name/`, the order object stores list in with a delimiter (and git's own tree order). */
function delimited(entry: Entry): string {
  return entry.kind === "directory" ? `${entry.path}/` : entry.path;
}

export function isCommitSha(ref: string | undefined): boolean {
  return ref !== undefined && /^[0-9a-f]{40}$/i.test(ref);
}

export class GithubDriver implements StorageDriver {
  readonly system = "github";
  readonly root: string;
  readonly capabilities: Capabilities;
  readonly owner: string;
  readonly repo: string;
  /** The ref this storage reads (undefined = the default branch). */
  readonly ref: string | undefined;
  readonly #client: ClientSource;
  readonly #options: GithubOptions;
  readonly #trees: TreeReader;
  #branch: Promise<{ branch: string; empty: boolean }> | undefined;
  #commits: Promise<unknown> = Promise.resolve();

  constructor(location: RepoRef, client: ClientSource, options: GithubOptions = {}) {
    this.owner = location.owner;
    this.repo = location.repo;
    this.ref = location.ref;
    this.root = `github://${this.owner}/${this.repo}${this.ref ? `@${this.ref}` : ""}`;
    this.capabilities = isCommitSha(this.ref)
      ? { ...GITHUB_CAPABILITIES, write: false }
      : GITHUB_CAPABILITIES;
    this.#client = client;
    this.#options = options;
    this.#trees = new TreeReader(client, location, options.treeCacheTtl ?? 5000);
  }

  /** `owner/repo@ref/path`, for messages. */
  describe(path = ""): string {
    return `${this.owner}/${this.repo}${this.ref ? `@${this.ref}` : ""}${path ? `/${path}` : ""}`;
  }

  /** Run a GitHub call, turning failures into typed errors that name the repository, ref and path. */
  async #call<T>(path: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (isCallbackError(error)) throw error;
      throw await this.#explain(error, path);
    }
  }

  /** A 404 (or "no commit") is ambiguous: find out whether the repository, the ref or the path is missing. */
  async #explain(error: unknown, path: string) {
    const status = httpStatus(error);
    const mapped = toGithubError(error, { what: this.describe(path), path });
    if (status !== 404 && !(status === 422 && mapped.code === "NotFound")) return mapped;
    try {
      const api = await this.#client();
      await api.repos.get({ owner: this.owner, repo: this.repo });
    } catch (repoError) {
      if (httpStatus(repoError) === 404) {
        return errors.notFound(
          `repository ${this.owner}/${this.repo} was not found on GitHub (or it is private and the token cannot see it)`,
          {
            system: "github",
            path,
            cause: error,
          },
        );
      }
      return mapped;
    }
    if (this.ref !== undefined) {
      try {
        const api = await this.#client();
        await api.repos.getCommit({
          owner: this.owner,
          repo: this.repo,
          ref: this.ref,
          headers: { accept: "application/vnd.github.sha" },
        });
      } catch {
        return errors.notFound(
          `ref "${this.ref}" was not found in ${this.owner}/${this.repo} (no such branch, tag or commit)`,
          {
            system: "github",
            path,
            cause: error,
          },
        );
      }
    }
    return mapped;
  }

  async #rootTree(signal?: AbortSignal): Promise<string> {
    return (await this.#trees.head(signal)).tree;
  }

  #toEntry(path: string, entry: GitEntry): Entry {
    if (entry.type === "tree") return { path, kind: "directory", size: 0 };
    return { path, kind: "file", size: entry.size, etag: entry.sha };
  }

  stat(path: string, options: SignalOptions = {}): Promise<Entry> {
    return this.#call(path, async () => {
      const entry = await this.#trees.entryAt(await this.#rootTree(options.signal), path, options.signal);
      if (!entry || entry.type === "commit")
        throw errors.notFound(`${this.describe(path)} does not exist`, { system: "github", path });
      return this.#toEntry(path, entry);
    });
  }

  async *list(dir: string, options: ListOptions = {}): AsyncIterable<Entry> {
    const prefix = dir === "" ? "" : `${dir}/`;
    const entries = await this.#call(dir, async () => {
      const root = await this.#rootTree(options.signal);
      const directory = await this.#trees.entryAt(root, dir, options.signal);
      if (directory?.type !== "tree") return [];
      if (options.recursive) {
        return (await this.#trees.files(directory.sha, options.signal)).map(({ path, entry }) =>
          this.#toEntry(`${prefix}${path}`, entry),
        );
      }
      const level = [...(await this.#trees.level(directory.sha, options.signal)).values()];
      return level
        .filter((entry) => entry.type !== "commit")
        .map((entry) => this.#toEntry(`${prefix}${entry.name}`, entry))
        .sort((a, b) => compareKeys(delimited(a), delimited(b)));
    });
    yield* entries;
  }

  read(path: string, options: ReadOptions = {}): Promise<Readable> {
    return this.#call(path, async () => {
      const entry = await this.#trees.entryAt(await this.#rootTree(options.signal), path, options.signal);
      if (!entry || entry.type === "commit")
        throw errors.notFound(`${this.describe(path)} does not exist`, { system: "github", path });
      if (entry.type === "tree")
        throw errors.invalidInput(`${this.describe(path)} is a directory, not a file`, {
          system: "github",
          path,
        });
      const api = await this.#client();
      const body = await downloadBlob(
        api,
        { owner: this.owner, repo: this.repo },
        entry,
        options.range,
        options.signal,
      );
      // The answer streams on after this returns: its failures (a stall, a dropped connection) too are typed.
      return mapStreamErrors(body, (error) => toGithubError(error, { what: this.describe(path), path }));
    });
  }

  async checksum(path: string, algorithm: HashAlgorithm, options: SignalOptions = {}): Promise<string> {
    if (algorithm !== "git-sha1")
      throw errors.unsupported(`GitHub keeps git-sha1 blob ids only, not ${algorithm}`, {
        system: "github",
        path,
      });
    const entry = await this.stat(path, options);
    if (entry.kind !== "file")
      throw errors.invalidInput(`${this.describe(path)} is a directory`, { system: "github", path });
    return entry.etag!;
  }

  /**
   * The branch writes go to: the ref when it is a branch, else the default branch; tags and shas are
   * read-only. `empty`: the repository has no commit yet (its first commit can only start the default branch).
   */
  #writableBranch(): Promise<{ branch: string; empty: boolean }> {
    this.#branch ??= this.#call("", async () => {
      const api = await this.#client();
      const probe = async (branch: string): Promise<"exists" | "missing" | "empty"> => {
        try {
          await api.git.getRef({ owner: this.owner, repo: this.repo, ref: `heads/${branch}` });
          return "exists";
        } catch (error) {
          if (httpStatus(error) === 404) return "missing";
          if (httpStatus(error) === 409) return "empty";
          throw error;
        }
      };
      const readOnly = (kind: string) =>
        errors.unsupported(
          `${this.describe()} is a ${kind}; only branches are writable (use github://${this.owner}/${this.repo}@<branch>)`,
          { system: "github" },
        );
      if (this.ref === undefined) {
        const branch = await this.#trees.defaultBranch();
        return { branch, empty: (await probe(branch)) === "empty" };
      }
      if (isCommitSha(this.ref)) throw readOnly("commit");
      const state = await probe(this.ref);
      if (state === "exists") return { branch: this.ref, empty: false };
      if (state === "empty") {
        const defaultBranch = await this.#trees.defaultBranch();
        if (this.ref === defaultBranch) return { branch: this.ref, empty: true };
        throw errors.notFound(
          `ref "${this.ref}" was not found in ${this.owner}/${this.repo}: the repository is empty, and its first commit can only start the default branch "${defaultBranch}"`,
          { system: "github" },
        );
      }
      try {
        await api.git.getRef({ owner: this.owner, repo: this.repo, ref: `tags/${this.ref}` });
      } catch (error) {
        if (httpStatus(error) !== 404) throw error;
        await this.#trees.head();
        throw readOnly("commit");
      }
      throw readOnly("tag");
    });
    this.#branch.catch(() => {
      this.#branch = undefined;
    });
    return this.#branch;
  }

  /**
   * Several changes as one commit: `await driver.batch(async (tx) => { await tx.write("a", bytes); tx.delete("b"); }, { message })`.
   * ConditionNotMet when the branch moved since the batch started (nothing is committed then).
   */
  async batch(
    build: (tx: GithubTransaction) => void | Promise<void>,
    options: BatchOptions = {},
  ): Promise<BatchResult> {
    const { branch, empty } = await this.#writableBranch();
    // An empty repository stops being empty with this batch's first write: ask again next time.
    if (empty) this.#branch = undefined;
    return this.#call("", async () => {
      const target: CommitTarget = {
        api: await this.#client(),
        owner: this.owner,
        repo: this.repo,
        branch,
        trees: this.#trees,
        options: this.#options,
        describe: (path) => this.describe(path),
        empty,
        serialize: (run) => {
          const next = this.#commits.then(run, run);
          this.#commits = next.catch(() => undefined);
          return next;
        },
      };
      return runBatch(target, build, options);
    });
  }

  async write(path: string, source: AsyncIterable<Uint8Array>, options: WriteOptions = {}): Promise<Entry> {
    let written: Promise<Entry> | undefined;
    await this.batch(
      (tx) => {
        written = tx.write(path, source, { ifNoneMatch: options.ifNoneMatch, signal: options.signal });
      },
      { signal: options.signal },
    );
    return written!;
  }

  async delete(paths: readonly string[], options: SignalOptions = {}): Promise<void> {
    await this.batch((tx) => tx.delete(paths), { signal: options.signal });
  }

  async deleteDirectory(path: string, options: SignalOptions = {}): Promise<void> {
    await this.batch((tx) => tx.deleteDirectory(path), { signal: options.signal });
  }

  async copy(from: string, to: string, options: CopyOptions = {}): Promise<Entry> {
    await this.batch((tx) => tx.copy(from, to, { ifNoneMatch: options.ifNoneMatch }), {
      signal: options.signal,
    });
    return this.stat(to, options);
  }

  async move(from: string, to: string, options: CopyOptions = {}): Promise<Entry> {
    await this.batch((tx) => tx.move(from, to, { ifNoneMatch: options.ifNoneMatch }), {
      signal: options.signal,
    });
    return this.stat(to, options);
  }
}
