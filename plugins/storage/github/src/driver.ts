/**
 * A repository at a ref as a ferry storage: reads through the trees and blobs APIs (list.ts, read.ts),
 * writes as commits (git/batch.ts), failures typed with the repository, ref and path (errors.ts).
 */
import type { Readable } from "node:stream";
import {
  type Capabilities,
  type CopyOptions,
  type Entry,
  errors,
  type HashAlgorithm,
  type ListOptions,
  type ReadOptions,
  type SignalOptions,
  type StorageDriver,
  type WriteOptions,
} from "@ferry/plugin-kit";
import { capabilitiesAt } from "./capabilities.ts";
import type { ClientSource } from "./client.ts";
import { explainFailure } from "./errors.ts";
import {
  type BatchOptions,
  type BatchResult,
  type CommitTarget,
  type GithubTransaction,
  isCallbackError,
  runBatch,
} from "./git/batch.ts";
import { type WritableBranch, writableBranch } from "./git/branch.ts";
import { type RepoRef, TreeReader } from "./git/trees.ts";
import { entryOf, listTree } from "./list.ts";
import { DEFAULT_TREE_CACHE_TTL, type GithubOptions } from "./options.ts";
import { readEntry } from "./read.ts";

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
  #branch: Promise<WritableBranch> | undefined;
  #commits: Promise<unknown> = Promise.resolve();

  constructor(location: RepoRef, client: ClientSource, options: GithubOptions = {}) {
    this.owner = location.owner;
    this.repo = location.repo;
    this.ref = location.ref;
    this.root = `github://${this.owner}/${this.repo}${this.ref ? `@${this.ref}` : ""}`;
    this.capabilities = capabilitiesAt(this.ref);
    this.#client = client;
    this.#options = options;
    this.#trees = new TreeReader(client, location, options.treeCacheTtl ?? DEFAULT_TREE_CACHE_TTL);
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

  #explain(error: unknown, path: string) {
    const where = { owner: this.owner, repo: this.repo, ref: this.ref, what: this.describe(path), path };
    return explainFailure(this.#client, error, where);
  }

  async #rootTree(signal?: AbortSignal): Promise<string> {
    return (await this.#trees.head(signal)).tree;
  }

  stat(path: string, options: SignalOptions = {}): Promise<Entry> {
    return this.#call(path, async () => {
      const entry = await this.#trees.entryAt(await this.#rootTree(options.signal), path, options.signal);
      if (!entry || entry.type === "commit")
        throw errors.notFound(`${this.describe(path)} does not exist`, { system: "github", path });
      return entryOf(path, entry);
    });
  }

  async *list(dir: string, options: ListOptions = {}): AsyncIterable<Entry> {
    const entries = await this.#call(dir, async () =>
      listTree(this.#trees, await this.#rootTree(options.signal), dir, options),
    );
    yield* entries;
  }

  read(path: string, options: ReadOptions = {}): Promise<Readable> {
    return this.#call(path, async () => {
      const entry = await this.#trees.entryAt(await this.#rootTree(options.signal), path, options.signal);
      const file = { path, what: this.describe(path), entry };
      return readEntry(await this.#client(), { owner: this.owner, repo: this.repo }, file, options);
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

  /** The branch writes go to (git/branch.ts), asked once per storage while it succeeds. */
  #writableBranch(): Promise<WritableBranch> {
    this.#branch ??= this.#call("", async () =>
      writableBranch(await this.#client(), { ...this.#repoRef(), describe: this.describe() }, this.#trees),
    );
    this.#branch.catch(() => {
      this.#branch = undefined;
    });
    return this.#branch;
  }

  #repoRef(): RepoRef {
    return { owner: this.owner, repo: this.repo, ref: this.ref };
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
