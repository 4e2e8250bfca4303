/**
 * `mkdir -p` that always ends. Node's `mkdir(path, { recursive: true })` retries forever when the
 * file system answers ENOENT for a directory whose parent exists (/proc, /sys and other virtual
 * file systems do, as can a parent removed meanwhile): here each level is created once, and a level
 * refused under an existing parent is PermissionDenied naming it. Other errors (ENOTDIR, EACCES, …)
 * are thrown as Node gives them, for the caller to map.
 */
import { mkdirSync, statSync } from "node:fs";
import { mkdir, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { errors } from "@ferry/plugin-kit";
import { fsErrorCode } from "./errors.ts";

function refused(path: string, cause: unknown): Error {
  return errors.permissionDenied(
    `cannot create directory ${path}: the file system at ${dirname(path)} does not accept new directories`,
    { system: "file", path, cause },
  );
}

export async function makeDirectories(path: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await mkdir(path);
      return;
    } catch (error) {
      const code = fsErrorCode(error);
      if (code === "EEXIST" && (await stat(path).catch(() => undefined))?.isDirectory()) return;
      if (code !== "ENOENT" || dirname(path) === path) throw error;
      if (attempt > 0) throw refused(path, error);
    }
    await makeDirectories(dirname(path));
  }
}

export function makeDirectoriesSync(path: string): void {
  for (let attempt = 0; ; attempt++) {
    try {
      mkdirSync(path);
      return;
    } catch (error) {
      const code = fsErrorCode(error);
      if (code === "EEXIST" && statSync(path, { throwIfNoEntry: false })?.isDirectory()) return;
      if (code !== "ENOENT" || dirname(path) === path) throw error;
      if (attempt > 0) throw refused(path, error);
    }
    makeDirectoriesSync(dirname(path));
  }
}
