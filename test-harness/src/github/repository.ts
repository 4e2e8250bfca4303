/**
 * A repository the GitHub server hosts: a real bare git repository plus GitHub's view of it
 * (owner, name, visibility, default branch). Tests get this handle from `createRepo` to seed
 * content, push "from elsewhere" and inspect history with git itself.
 */
import type { CommitObject, GitRepository } from "./git.ts";
import { isSafeRevision, ZERO_SHA } from "./git.ts";
import { isoSeconds } from "./git-objects.ts";
import { buildTree, type TreeChange } from "./tree-builder.ts";

export type FileContent = string | Uint8Array;

export interface CommitSpec {
  /** Branch to advance (default: the default branch). Created when missing. */
  branch?: string;
  /** Files to add or replace, by path. */
  files?: Record<string, FileContent>;
  /** Paths to remove. */
  deletes?: readonly string[];
  message?: string;
  author?: { name: string; email: string };
}

export interface LogEntry {
  sha: string;
  message: string;
  parents: string[];
}

const SEED_AUTHOR = { name: "Ferry Seed", email: "seed@example.invalid" };

export class HostedRepository {
  readonly owner: string;
  readonly name: string;
  readonly id: number;
  readonly git: GitRepository;
  readonly createdAt: Date;
  isPrivate: boolean;
  defaultBranch: string;
  pushedAt: Date;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(args: {
    owner: string;
    name: string;
    id: number;
    git: GitRepository;
    isPrivate: boolean;
    defaultBranch: string;
  }) {
    this.owner = args.owner;
    this.name = args.name;
    this.id = args.id;
    this.git = args.git;
    this.isPrivate = args.isPrivate;
    this.defaultBranch = args.defaultBranch;
    this.createdAt = new Date();
    this.pushedAt = this.createdAt;
  }

  get fullName(): string {
    return `${this.owner}/${this.name}`;
  }

  /** The bare repository on disk (run `git --git-dir <gitDir> log` against it). */
  get gitDir(): string {
    return this.git.gitDir;
  }

  /** Ref updates run one at a time, so a fast-forward check and the update that follows it are atomic. */
  exclusive<T>(run: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(run, run);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /**
   * A branch, tag or commit sha (full or abbreviated) → commit sha, the way GitHub resolves `ref`
   * parameters: branches win over tags; annotated tags are peeled.
   */
  async resolveCommit(name: string): Promise<string | undefined> {
    if (!isSafeRevision(name)) return undefined;
    const names = name.startsWith("refs/") ? [name] : [`refs/heads/${name}`, `refs/tags/${name}`];
    for (const candidate of names) {
      const record = await this.git.readRef(candidate);
      if (record) return record.type === "tag" ? record.peeled : record.sha;
    }
    if (/^[0-9a-f]{4,40}$/.test(name)) return this.git.revParse(`${name}^{commit}`);
    return undefined;
  }

  /** Head commit of a branch, or undefined. */
  async branchHead(branch: string): Promise<string | undefined> {
    return (await this.git.readRef(`refs/heads/${branch}`))?.sha;
  }

  /** Commit directly to a branch with git plumbing, as another client pushing would. Returns the new commit sha. */
  async commit(spec: CommitSpec): Promise<string> {
    const branch = spec.branch ?? this.defaultBranch;
    return this.exclusive(async () => {
      const parent = await this.branchHead(branch);
      const baseTree = parent ? (await this.git.readCommit(parent)).tree : undefined;
      const changes: TreeChange[] = [];
      for (const [path, content] of Object.entries(spec.files ?? {})) {
        const sha = await this.git.writeBlob(
          typeof content === "string" ? Buffer.from(content, "utf8") : content,
        );
        changes.push({ path, mode: "100644", type: "blob", sha, content: undefined });
      }
      for (const path of spec.deletes ?? [])
        changes.push({ path, mode: "100644", type: "blob", sha: null, content: undefined });
      const tree = await buildTree(this.git, baseTree, changes);
      const author = { ...(spec.author ?? SEED_AUTHOR), date: isoSeconds(new Date()) };
      const sha = await this.git.writeCommit({
        tree,
        parents: parent ? [parent] : [],
        author,
        committer: author,
        message: spec.message ?? "seed",
      });
      if (!(await this.git.updateRef(`refs/heads/${branch}`, sha, parent ?? ZERO_SHA))) {
        throw new Error(`branch ${branch} moved while committing`);
      }
      this.pushedAt = new Date();
      return sha;
    });
  }

  /** Create a lightweight tag, or an annotated one when a message is given. */
  async tag(name: string, target: string, options: { message?: string } = {}): Promise<void> {
    const commit = await this.resolveCommit(target);
    if (!commit) throw new Error(`cannot tag ${target}: no such commit`);
    if (options.message === undefined) {
      await this.git.run(["update-ref", `refs/tags/${name}`, commit]);
      return;
    }
    const env = {
      GIT_COMMITTER_NAME: SEED_AUTHOR.name,
      GIT_COMMITTER_EMAIL: SEED_AUTHOR.email,
    };
    await this.git.run(["tag", "-a", "-m", options.message, name, commit], { env });
  }

  async createBranch(name: string, from: string): Promise<void> {
    const commit = await this.resolveCommit(from);
    if (!commit) throw new Error(`cannot branch from ${from}: no such commit`);
    await this.git.run(["update-ref", `refs/heads/${name}`, commit, ZERO_SHA]);
  }

  /** Commits on a branch (or any ref), newest first, read with `git log`. */
  async log(ref: string = this.defaultBranch): Promise<LogEntry[]> {
    const out = await this.git.text(["log", "--format=%H%x00%P%x00%B%x1e", ref, "--"]);
    return out
      .split("\x1e")
      .map((record) => record.replace(/^\n/, ""))
      .filter(Boolean)
      .map((record) => {
        const [sha = "", parents = "", message = ""] = record.split("\0");
        return { sha, parents: parents.split(" ").filter(Boolean), message: message.replace(/\n+$/, "") };
      });
  }

  async readCommit(sha: string): Promise<CommitObject> {
    return this.git.readCommit(sha);
  }

  /** The file's bytes at a ref, read with git (for assertions). */
  async readFile(path: string, ref: string = this.defaultBranch): Promise<Buffer | undefined> {
    const commit = await this.resolveCommit(ref);
    if (!commit) return undefined;
    const entry = await this.git.entryAt(commit, path);
    return entry?.type === "blob" ? this.git.readBlob(entry.sha) : undefined;
  }
}
