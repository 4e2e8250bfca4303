/**
 * A bare git repository driven by the `git` CLI. Every object id the GitHub server hands out comes
 * from git itself (hash-object, mktree, commit-tree), so clients can compare them with ids they
 * compute locally, and `git log` in the bare repository shows exactly what the API did.
 */
import { spawn } from "node:child_process";
import { devNull } from "node:os";
import type { Readable } from "node:stream";
import { CatFile } from "./cat-file.ts";
import { headerFields, parseCommit, parseSignature } from "./git-objects.ts";

export const ZERO_SHA = "0000000000000000000000000000000000000000";
export const EMPTY_TREE_SHA = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

export type ObjectType = "blob" | "tree" | "commit" | "tag";

export interface TreeEntry {
  mode: string;
  type: "blob" | "tree" | "commit";
  sha: string;
  /** Bytes, for blobs only. */
  size: number | undefined;
  /** Name within its tree, or the full path for recursive listings. */
  path: string;
}

export interface Signature {
  name: string;
  email: string;
  /** ISO 8601 in UTC without milliseconds, as GitHub prints it. */
  date: string;
}

export interface CommitObject {
  sha: string;
  tree: string;
  parents: string[];
  author: Signature;
  committer: Signature;
  message: string;
}

export interface RefRecord {
  /** Fully qualified: refs/heads/main, refs/tags/v1. */
  ref: string;
  /** What the ref points at (a tag object for annotated tags). */
  sha: string;
  type: ObjectType;
  /** The commit an annotated tag points at (peeled); undefined for direct refs. */
  peeled: string | undefined;
}

export class GitCommandError extends Error {
  readonly exitCode: number | null;
  readonly stderr: string;
  constructor(args: readonly string[], exitCode: number | null, stderr: string) {
    super(`git ${args.join(" ")} failed (${exitCode}): ${stderr.trim()}`);
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/** A name a client may pass as a ref or rev expression; refuses what git would read as an option. */
export function isSafeRevision(name: string): boolean {
  if (name.length === 0 || name.length >= 1024 || name.startsWith("-")) return false;
  for (const char of name) {
    const code = char.charCodeAt(0);
    if (code < 0x20 || code === 0x7f) return false;
  }
  return true;
}

export class GitRepository {
  readonly gitDir: string;
  #catFile: CatFile | undefined;
  #hasCommits = false;

  constructor(gitDir: string) {
    this.gitDir = gitDir;
  }

  /** Object reads go through one long-lived cat-file process (started on first use). */
  get #objects(): CatFile {
    this.#catFile ??= new CatFile(gitEnv(this.gitDir));
    return this.#catFile;
  }

  close(): void {
    this.#catFile?.close();
    this.#catFile = undefined;
  }

  static async init(gitDir: string, defaultBranch: string): Promise<GitRepository> {
    await runGit(undefined, ["init", "--quiet", "--bare", `--initial-branch=${defaultBranch}`, gitDir]);
    return new GitRepository(gitDir);
  }

  /** Run git in this repository; stdout as bytes. */
  run(args: readonly string[], options: RunOptions = {}): Promise<Buffer> {
    return runGit(this.gitDir, args, options);
  }

  async text(args: readonly string[], options: RunOptions = {}): Promise<string> {
    return (await this.run(args, options)).toString("utf8");
  }

  /** Write a blob; the id git computes for these bytes. */
  async writeBlob(content: Uint8Array): Promise<string> {
    return (await this.text(["hash-object", "-w", "--stdin"], { input: content })).trim();
  }

  /** Write one tree level (git sorts the entries itself). */
  async writeTree(entries: readonly Omit<TreeEntry, "size">[]): Promise<string> {
    const input = entries
      .map((entry) => `${entry.mode} ${entry.type} ${entry.sha}\t${entry.path}\0`)
      .join("");
    return (await this.text(["mktree", "-z"], { input: Buffer.from(input, "utf8") })).trim();
  }

  async writeCommit(commit: Omit<CommitObject, "sha">): Promise<string> {
    const args = ["commit-tree", commit.tree, ...commit.parents.flatMap((parent) => ["-p", parent])];
    const env = {
      GIT_AUTHOR_NAME: commit.author.name,
      GIT_AUTHOR_EMAIL: commit.author.email,
      GIT_AUTHOR_DATE: commit.author.date,
      GIT_COMMITTER_NAME: commit.committer.name,
      GIT_COMMITTER_EMAIL: commit.committer.email,
      GIT_COMMITTER_DATE: commit.committer.date,
    };
    return (await this.text(args, { input: Buffer.from(commit.message, "utf8"), env })).trim();
  }

  /** Compare-and-swap a ref: `expected` undefined = unconditional, ZERO_SHA = must not exist yet. */
  async updateRef(ref: string, sha: string, expected?: string): Promise<boolean> {
    try {
      await this.run(["update-ref", ref, sha, ...(expected === undefined ? [] : [expected])]);
      return true;
    } catch (error) {
      if (error instanceof GitCommandError) return false;
      throw error;
    }
  }

  async deleteRef(ref: string): Promise<void> {
    await this.run(["update-ref", "-d", ref]);
  }

  /** The object's type, or undefined when it does not exist. */
  async objectType(sha: string): Promise<ObjectType | undefined> {
    if (!/^[0-9a-f]{40}$/.test(sha)) return undefined;
    return (await this.#objects.info(sha))?.type;
  }

  async blobSize(sha: string): Promise<number> {
    const info = await this.#objects.info(sha);
    if (!info) throw new Error(`no object ${sha}`);
    return info.size;
  }

  async readBlob(sha: string): Promise<Buffer> {
    return (await this.#read(sha, "blob")).content;
  }

  async #read(name: string, type: ObjectType): Promise<{ sha: string; content: Buffer }> {
    const answer = await this.#objects.contents(name);
    if (!answer || answer.info.type !== type) throw new Error(`${name} is not a ${type}`);
    return { sha: answer.info.sha, content: answer.content };
  }

  /** The blob's bytes as a stream straight from git (raw responses are piped, never buffered). */
  streamBlob(sha: string): Readable {
    const child = spawn("git", ["cat-file", "blob", sha], {
      env: gitEnv(this.gitDir),
      stdio: ["ignore", "pipe", "ignore"],
    });
    return child.stdout;
  }

  async readCommit(sha: string): Promise<CommitObject> {
    return parseCommit(sha, (await this.#read(sha, "commit")).content.toString("utf8"));
  }

  async readTag(sha: string): Promise<{
    tag: string;
    object: string;
    type: ObjectType;
    tagger: Signature | undefined;
    message: string;
  }> {
    const raw = (await this.#read(sha, "tag")).content.toString("utf8");
    const [head = "", ...rest] = raw.split("\n\n");
    const fields = headerFields(head);
    const tagger = fields.get("tagger");
    return {
      tag: fields.get("tag") ?? "",
      object: fields.get("object") ?? "",
      type: (fields.get("type") ?? "commit") as ObjectType,
      tagger: tagger === undefined ? undefined : parseSignature(tagger),
      message: rest.join("\n\n"),
    };
  }

  /** One level of a tree, or (recursive) every entry below it including subtrees, in git order (pre-order). */
  async listTree(treeish: string, options: { recursive?: boolean } = {}): Promise<TreeEntry[]> {
    const tree = await this.#objects.info(`${treeish}^{tree}`);
    if (!tree) throw new Error(`${treeish} is not a tree`);
    const out: TreeEntry[] = [];
    await this.#collect(tree.sha, "", options.recursive ?? false, out);
    return out;
  }

  async #collect(tree: string, prefix: string, recursive: boolean, out: TreeEntry[]): Promise<void> {
    const level = await this.#level(tree);
    for (const entry of level) {
      out.push({ ...entry, path: `${prefix}${entry.path}` });
      if (recursive && entry.type === "tree")
        await this.#collect(entry.sha, `${prefix}${entry.path}/`, true, out);
    }
  }

  /** A raw tree object parsed: `<mode> <name>\0<20-byte id>` per entry, blob sizes asked in one pipelined batch. */
  async #level(tree: string): Promise<TreeEntry[]> {
    const { content } = await this.#read(tree, "tree");
    const entries: TreeEntry[] = [];
    let offset = 0;
    while (offset < content.byteLength) {
      const space = content.indexOf(32, offset);
      const nul = content.indexOf(0, space);
      const rawMode = content.subarray(offset, space).toString("latin1");
      const mode = rawMode.padStart(6, "0");
      const type = mode === "040000" ? "tree" : mode === "160000" ? "commit" : "blob";
      const path = content.subarray(space + 1, nul).toString("utf8");
      const sha = content.subarray(nul + 1, nul + 21).toString("hex");
      entries.push({ mode, type, sha, size: undefined, path });
      offset = nul + 21;
    }
    await Promise.all(
      entries.map(async (entry) => {
        if (entry.type === "blob") entry.size = (await this.#objects.info(entry.sha))?.size ?? 0;
      }),
    );
    return entries;
  }

  /** The entry at `path` in a commit or tree, or undefined. Paths are literal (no globbing). */
  async entryAt(treeish: string, path: string): Promise<TreeEntry | undefined> {
    const root = await this.#objects.info(`${treeish}^{tree}`);
    if (!root) return undefined;
    let tree = root.sha;
    let found: TreeEntry | undefined;
    const segments = path.split("/");
    for (const [index, segment] of segments.entries()) {
      found = (await this.#level(tree)).find((entry) => entry.path === segment);
      if (!found) return undefined;
      if (index < segments.length - 1) {
        if (found.type !== "tree") return undefined;
        tree = found.sha;
      }
    }
    return found ? { ...found, path } : undefined;
  }

  /** `git rev-parse --verify` of an expression; undefined when it does not resolve. */
  async revParse(expression: string): Promise<string | undefined> {
    if (!isSafeRevision(expression)) return undefined;
    try {
      return (
        (await this.text(["rev-parse", "--verify", "--quiet", "--end-of-options", expression])).trim() ||
        undefined
      );
    } catch (error) {
      if (error instanceof GitCommandError) return undefined;
      throw error;
    }
  }

  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    try {
      await this.run(["merge-base", "--is-ancestor", ancestor, descendant]);
      return true;
    } catch (error) {
      if (error instanceof GitCommandError && error.exitCode === 1) return false;
      throw error;
    }
  }

  /**
   * One ref by its full name (`refs/heads/main`), read fresh from disk through the cat-file process
   * (git resolves loose and packed refs anew on every lookup); undefined when it does not exist.
   */
  async readRef(ref: string): Promise<RefRecord | undefined> {
    // A ref name, not a revision expression (git check-ref-format's forbidden characters).
    if (!/^refs\/(heads|tags)\//.test(ref) || !isSafeRevision(ref) || /[\^~:?*[\\\s]|\.\.|@\{/.test(ref))
      return undefined;
    const target = await this.#objects.info(ref);
    if (!target) return undefined;
    const peeled = target.type === "tag" ? (await this.#objects.info(`${ref}^{commit}`))?.sha : undefined;
    return { ref, sha: target.sha, type: target.type, peeled };
  }

  /** Every ref, sorted by name. */
  async refs(): Promise<RefRecord[]> {
    const format = "%(refname)%00%(objectname)%00%(objecttype)%00%(*objectname)";
    const out = await this.text(["for-each-ref", `--format=${format}`, "refs/"]);
    return out
      .split("\n")
      .filter(Boolean)
      .map((line) => {
        const [ref = "", sha = "", type = "", peeled = ""] = line.split("\0");
        return { ref, sha, type: type as ObjectType, peeled: peeled || undefined };
      });
  }

  /** Whether any branch exists; once true it stays true (a repository's branches are not all deleted in tests). */
  async hasCommits(): Promise<boolean> {
    this.#hasCommits ||=
      (await this.text(["for-each-ref", "--count=1", "--format=%(refname)", "refs/heads/"])).trim() !== "";
    return this.#hasCommits;
  }

  /** Commits reachable from `start`, newest first (optionally only those touching `path`). */
  async revList(
    start: string,
    options: { skip: number; max: number; path?: string | undefined },
  ): Promise<string[]> {
    const args = ["rev-list", `--skip=${options.skip}`, `--max-count=${options.max}`, start];
    if (options.path) args.push("--", options.path);
    return (await this.text(args)).split("\n").filter(Boolean);
  }

  async countCommits(start: string, path?: string): Promise<number> {
    const args = ["rev-list", "--count", start];
    if (path) args.push("--", path);
    return Number((await this.text(args)).trim());
  }
}

export interface RunOptions {
  input?: Uint8Array | undefined;
  env?: Record<string, string> | undefined;
}

function gitEnv(gitDir: string | undefined, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...(gitDir ? { GIT_DIR: gitDir } : {}),
    // The server must behave the same on every machine: no user or system config, no prompts,
    // and paths taken literally (a file named `*.txt` is not a glob).
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: devNull,
    GIT_TERMINAL_PROMPT: "0",
    GIT_LITERAL_PATHSPECS: "1",
    ...extra,
  };
}

function runGit(
  gitDir: string | undefined,
  args: readonly string[],
  options: RunOptions = {},
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", args, { env: gitEnv(gitDir, options.env), stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new GitCommandError(args, code, Buffer.concat(err).toString("utf8")));
    });
    child.stdin.on("error", () => {
      // git may exit before reading all input (e.g. a bad object id); the exit code reports it.
    });
    child.stdin.end(options.input ?? undefined);
  });
}
