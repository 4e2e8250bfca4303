/**
 * Where keys live on disk, and the symlink policy.
 *
 * Keys reach the driver already normalised by core (no `.`/`..`, no empty segments), so a key can
 * only leave the root through a symbolic link. Policy:
 *   - a link whose target resolves inside the root is followed (stat, read, write into it, list);
 *   - a link that resolves outside the root is refused with PermissionDenied, and left out of listings;
 *   - a broken link is left out of listings and is NotFound to stat/read;
 *   - delete and move act on the link itself, never on its target.
 * The check resolves the deepest existing ancestor with realpath, so it also covers paths that are
 * about to be created below a linked directory. It is a check-then-act: a link swapped in between the
 * check and the operation by another process is not caught (as with rclone and fsspec).
 */
import { realpath } from "node:fs/promises";
import { dirname, join, sep } from "node:path";
import { errors } from "@ferry/plugin-kit";
import { fsErrorCode, mapFsError } from "./errors.ts";

export { TEMP_PREFIX } from "@ferry/plugin-kit";

export class LocalRoot {
  /** Absolute directory the keys are relative to, as given. */
  readonly dir: string;
  #real: string | undefined;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Absolute file path of a key ("" is the root). */
  path(key: string): string {
    return key === "" ? this.dir : join(this.dir, ...key.split("/"));
  }

  /** Canonical root (symlinks in the root's own path resolved); cached once the root exists. */
  async realRoot(): Promise<string> {
    if (this.#real !== undefined) return this.#real;
    const { real, exists } = await resolveExisting(this.dir);
    if (exists) this.#real = real;
    return real;
  }

  /** The root is the file system's root ("/", or a drive's root on Windows). */
  async isFileSystemRoot(): Promise<boolean> {
    const root = await this.realRoot();
    return dirname(root) === root;
  }

  /** True when `real` (a canonical path) is the root or below it. */
  async contains(real: string): Promise<boolean> {
    const root = await this.realRoot();
    if (real === root) return true;
    return real.startsWith(root.endsWith(sep) ? root : root + sep);
  }

  /**
   * The file path of `key`, after checking that following its symlinks stays inside the root.
   * `followLast: false` checks only the parent (for delete and move, which act on a link itself).
   */
  async resolve(key: string, options: { followLast?: boolean } = {}): Promise<string> {
    return (await this.resolveTarget(key, options)).path;
  }

  /**
   * `resolve`, plus what the check saw on the way: whether something is at the path and whether its
   * parent directory exists — so a write can skip creating parents and looking for a file to replace.
   */
  async resolveTarget(key: string, options: { followLast?: boolean } = {}): Promise<ResolvedTarget> {
    const filePath = this.path(key);
    if (key === "") return { path: filePath, exists: true, parentExists: true };
    // Rooted at the file system's root (file:// URLs and plain paths), every path is inside: there is
    // nothing to check, and resolving would cost a readlink per path component for every file.
    if (await this.isFileSystemRoot()) return { path: filePath, exists: undefined, parentExists: undefined };
    const probe = options.followLast === false ? dirname(filePath) : filePath;
    let resolved: Awaited<ReturnType<typeof resolveExisting>>;
    try {
      resolved = await resolveExisting(probe);
    } catch (error) {
      throw mapFsError(error, filePath);
    }
    const { real, missing } = resolved;
    if (!(await this.contains(real))) {
      throw errors.permissionDenied(
        `${filePath} is a symbolic link that leads outside the storage root ${this.dir}`,
        {
          system: "file",
          path: filePath,
        },
      );
    }
    if (options.followLast === false) return { path: filePath, exists: false, parentExists: missing === 0 };
    return { path: filePath, exists: missing === 0, parentExists: missing <= 1 };
  }
}

export interface ResolvedTarget {
  path: string;
  /** Something was at the path when it was checked (undefined: not looked at). */
  exists: boolean | undefined;
  /** The parent directory existed when the path was checked (undefined: not looked at). */
  parentExists: boolean | undefined;
}

/**
 * realpath of the deepest existing ancestor of `target`, with the missing remainder appended.
 * A dangling symlink on the way resolves as missing (its own path), which is then inside the root.
 */
async function resolveExisting(target: string): Promise<{ real: string; exists: boolean; missing: number }> {
  let current = target;
  const missing: string[] = [];
  for (;;) {
    try {
      const real = await realpath(current);
      return {
        real: missing.length === 0 ? real : join(real, ...missing.reverse()),
        exists: missing.length === 0,
        missing: missing.length,
      };
    } catch (error) {
      const code = fsErrorCode(error);
      if (code !== "ENOENT" && code !== "ENOTDIR") throw error;
      const parent = dirname(current);
      if (parent === current) throw error;
      missing.push(current.slice(parent.length).replace(/^[/\\]+/, ""));
      current = parent;
    }
  }
}
