/**
 * A model of a source tree under random edits, and the state a destination must reach after each
 * `cp` or `sync --delete` of it. Shared by the model-based sync tests and bench/model-sync.ts.
 *
 * Every operation happens on a real local folder and in the model; the caller copies the folder with
 * ferry after each step and compares the destination with `expected` byte for byte. A seed fixes the
 * whole sequence (names, sizes, contents, which steps use `sync --delete`), so a failure replays.
 *
 * Modified times are set explicitly, because they are what change detection is tested on:
 * - some edits keep the size and are stamped with the second the previous copy finished in (floored,
 *   as a file system with 1 s precision stores it) — the case where "same size, older than the
 *   destination's upload" would wrongly skip;
 * - a new time is always at least 2 s from the file's previous one and from the one its copy at the
 *   destination carries: a content change whose time stays
 *   within the destination's precision (1 s on SFTP) is invisible to any time comparison — rclone's
 *   documented limit and ferry's, left to `--checksum`.
 */
import { mkdirSync, readdirSync, renameSync, rmdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** mulberry32: small, fast, and the same sequence for a seed everywhere. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Names every system here can hold: unicode, spaces and URL-awkward characters, no `\`, no control characters. */
export const NAMES = [
  "a",
  "b.txt",
  "data 1.csv",
  "ünïcødé.txt",
  "日本語.md",
  "emoji-🚀.bin",
  "percent%20x",
  "plus+sign",
  "hash#tag",
  "amp&and=eq",
  "quote'single",
  "(paren) [br]",
  "tilde~x",
  "comma,semi;",
  "@at!bang",
  ".hidden",
] as const;

export const DIRECTORIES = ["", "d", "sub dir", "ñested/deep", "x"] as const;

export type Mode = "copy" | "sync";

export interface ModelFile {
  data: Buffer;
  mtimeMs: number;
}

export interface Step {
  /** What was done to the source, for a failure message that says how the tree got there. */
  operations: string[];
  mode: Mode;
}

const parents = (path: string): string[] => {
  const parts = path.split("/");
  return parts.slice(0, -1).map((_, index) => parts.slice(0, index + 1).join("/"));
};

/** True when `path` can be a file beside `files` (no file at a parent, nothing below it). */
function fits(path: string, files: ReadonlyMap<string, unknown>): boolean {
  if (parents(path).some((parent) => files.has(parent))) return false;
  for (const other of files.keys()) if (other.startsWith(`${path}/`)) return false;
  return true;
}

export class SourceModel {
  /** The source tree, as the model says it is. */
  readonly files = new Map<string, ModelFile>();
  /** What the destination must hold after the next transfer (updated by `transferred`). */
  readonly expected = new Map<string, Buffer>();
  readonly #next: () => number;
  /** The source time each destination file was copied with. */
  readonly #copiedTimes = new Map<string, number>();
  /** End of the last transfer (ms): "same second" edits are stamped with it. */
  #lastCopyEnd = Date.now();

  readonly root: string;

  constructor(root: string, seed: number) {
    this.root = root;
    this.#next = random(seed);
    mkdirSync(root, { recursive: true });
  }

  #int(below: number): number {
    return Math.floor(this.#next() * below);
  }

  #pick<T>(items: readonly T[]): T {
    return items[this.#int(items.length)]!;
  }

  #bytes(size: number): Buffer {
    const data = Buffer.alloc(size);
    for (let index = 0; index < size; index += 1) data[index] = this.#int(256);
    return data;
  }

  #size(): number {
    const roll = this.#next();
    if (roll < 0.1) return 0;
    if (roll < 0.95) return 1 + this.#int(300);
    return 64 * 1024 + this.#int(8 * 1024);
  }

  /**
   * A new time for `path`: now, or the second the last copy ended in — moved on to 2 s past the file's
   * current time and the time its copy at the destination carries, when it would fall within 2 s of them.
   */
  #newTime(path: string, sameSecondAsCopy: boolean): number {
    const chosen = sameSecondAsCopy ? Math.floor(this.#lastCopyEnd / 1000) * 1000 : Date.now();
    const avoid = [this.files.get(path)?.mtimeMs, this.#copiedTimes.get(path)].filter(
      (time): time is number => time !== undefined,
    );
    return avoid.every((time) => Math.abs(chosen - time) >= 2000) ? chosen : Math.max(...avoid) + 2000;
  }

  #write(path: string, data: Buffer, mtimeMs: number): void {
    const full = join(this.root, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, data);
    utimesSync(full, mtimeMs / 1000, mtimeMs / 1000);
    this.files.set(path, { data, mtimeMs });
  }

  #remove(path: string): void {
    rmSync(join(this.root, path));
    this.files.delete(path);
    this.#pruneEmpty(dirname(path));
  }

  /** Empty folders are not copied; removing them keeps the source what the model says. */
  #pruneEmpty(dir: string): void {
    while (dir !== "." && dir !== "") {
      const full = join(this.root, dir);
      if (readdirSync(full).length > 0) return;
      rmdirSync(full);
      dir = dirname(dir);
    }
  }

  /**
   * A free path for a new file. In a `copy` step the destination keeps files the source lost, so a
   * path must fit beside those too (a file where the destination has a folder cannot land on local
   * disk or SFTP — a conflict only `sync --delete` resolves).
   */
  #freePath(mode: Mode, avoid?: string): string | undefined {
    for (let attempt = 0; attempt < 50; attempt += 1) {
      const path = join(this.#pick(DIRECTORIES), this.#pick(NAMES));
      if (path === avoid || this.files.has(path) || !fits(path, this.files)) continue;
      if (mode === "copy" && (this.expected.has(path) || !fits(path, this.expected))) continue;
      return path;
    }
    return undefined;
  }

  #anyFile(filter: (file: ModelFile) => boolean = () => true): string | undefined {
    const paths = [...this.files].filter(([, file]) => filter(file)).map(([path]) => path);
    return paths.length === 0 ? undefined : this.#pick(paths.sort());
  }

  /** One random operation on the source; returns what it did, or undefined when it did not apply. */
  #operate(mode: Mode): string | undefined {
    const roll = this.#int(mode === "sync" ? 9 : 8);
    switch (roll) {
      case 0:
      case 1: {
        const path = this.#freePath(mode);
        if (!path) return undefined;
        const data = this.#bytes(this.#size());
        this.#write(path, data, this.#newTime(path, false));
        return `create ${path} (${data.length} B)`;
      }
      case 2:
      case 3: {
        const path = this.#anyFile((file) => file.data.length > 0);
        if (!path) return undefined;
        const file = this.files.get(path)!;
        const data = Buffer.from(file.data);
        const at = this.#int(data.length);
        data[at] = (data[at]! + 1 + this.#int(255)) % 256;
        const sameSecond = this.#next() < 0.7;
        this.#write(path, data, this.#newTime(path, sameSecond));
        return `edit ${path} keeping its size${sameSecond ? " (stamped with the last copy's second)" : ""}`;
      }
      case 4: {
        const path = this.#anyFile();
        if (!path) return undefined;
        const file = this.files.get(path)!;
        const data = Buffer.concat([file.data, this.#bytes(1 + this.#int(40))]).subarray(
          0,
          this.#next() < 0.5 ? Math.max(0, file.data.length - 1 - this.#int(20)) : undefined,
        );
        this.#write(path, data, this.#newTime(path, this.#next() < 0.5));
        return `edit ${path} to ${data.length} B`;
      }
      case 5: {
        const path = this.#anyFile();
        if (!path) return undefined;
        const file = this.files.get(path)!;
        const mtimeMs = this.#newTime(path, this.#next() < 0.5);
        utimesSync(join(this.root, path), mtimeMs / 1000, mtimeMs / 1000);
        this.files.set(path, { data: file.data, mtimeMs });
        return `touch ${path}`;
      }
      case 6: {
        const path = this.#anyFile();
        if (!path) return undefined;
        this.#remove(path);
        return `delete ${path}`;
      }
      case 7: {
        const from = this.#anyFile();
        // Onto a name the destination does not hold: a renamed file keeps its old time, which can be
        // older than a same-sized destination file's upload — the documented limit of time rules.
        const to = from === undefined ? undefined : this.#freePath("copy", from);
        if (!from || !to || this.expected.has(to)) return undefined;
        const file = this.files.get(from)!;
        mkdirSync(dirname(join(this.root, to)), { recursive: true });
        renameSync(join(this.root, from), join(this.root, to));
        this.files.delete(from);
        this.files.set(to, file);
        this.#pruneEmpty(dirname(from));
        return `rename ${from} → ${to}`;
      }
      default:
        return this.#swap();
    }
  }

  /** A file becomes a folder of that name, or a folder becomes a file (only before `sync --delete`). */
  #swap(): string | undefined {
    const folders = [...new Set([...this.files.keys()].flatMap(parents))].sort();
    if (folders.length > 0 && this.#next() < 0.5) {
      const folder = this.#pick(folders);
      for (const path of [...this.files.keys()]) if (path.startsWith(`${folder}/`)) this.#remove(path);
      this.#write(folder, this.#bytes(1 + this.#int(100)), this.#newTime(folder, false));
      return `folder ${folder} → file`;
    }
    const path = this.#anyFile();
    if (!path) return undefined;
    this.#remove(path);
    const inside = `${path}/${this.#pick(NAMES)}`;
    this.#write(inside, this.#bytes(1 + this.#int(100)), this.#newTime(inside, false));
    return `file ${path} → folder with ${inside}`;
  }

  /** The next step: 1–3 operations, and whether it ends in `cp` or `sync --delete`. */
  step(): Step {
    const mode: Mode = this.#next() < 0.4 ? "sync" : "copy";
    const count = 1 + this.#int(3);
    const operations: string[] = [];
    for (let tries = 0; operations.length < count && tries < 20; tries += 1) {
      const done = this.#operate(mode);
      if (done) operations.push(done);
    }
    return { operations, mode };
  }

  /** Record a finished transfer: what the destination must now hold. */
  transferred(mode: Mode): void {
    this.#lastCopyEnd = Date.now();
    if (mode === "sync") {
      this.expected.clear();
      this.#copiedTimes.clear();
    }
    for (const [path, file] of this.files) {
      if (mode === "copy") {
        for (const parent of parents(path)) this.expected.delete(parent);
      }
      this.expected.set(path, file.data);
      this.#copiedTimes.set(path, file.mtimeMs);
    }
  }

  /** Populate the tree with a few files before the first step. */
  seed(count: number): void {
    for (let index = 0; index < count; index += 1) this.#operate("copy");
  }
}

/** Differences between what a destination holds and what it must hold, in words ([] when equal). */
export function differences(
  actual: ReadonlyMap<string, Buffer>,
  expected: ReadonlyMap<string, Buffer>,
): string[] {
  const problems: string[] = [];
  for (const [path, data] of expected) {
    const got = actual.get(path);
    if (!got) problems.push(`missing ${path}`);
    else if (!got.equals(data)) {
      let at = 0;
      while (at < got.length && at < data.length && got[at] === data[at]) at += 1;
      problems.push(
        `${path}: holds ${got.length} B, expected ${data.length} B, first difference at byte ${at}`,
      );
    }
  }
  for (const path of actual.keys()) if (!expected.has(path)) problems.push(`extra ${path}`);
  return problems;
}
