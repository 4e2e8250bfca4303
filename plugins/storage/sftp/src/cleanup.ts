/**
 * `cleanup`: temp files that writes killed outright left on the host (`.ferry-tmp-<host>.<pid>.…`,
 * owner = the machine and process that ran ferry), found by walking directories over SFTP without
 * following links, and removed when stale by core's rule (leftovers.ts in @ferry/plugin-kit).
 */
import { posix } from "node:path";
import {
  type CleanupOptions,
  type CleanupResult,
  cleanTempLeftovers,
  FerryError,
  type TreeEntry,
} from "@ferry/plugin-kit";
import type { HostPool } from "./client.ts";
import { removeTree } from "./ssh/server-side.ts";
import { isDirectoryMode } from "./ssh/sftp-calls.ts";

export function cleanupHost(
  pool: HostPool,
  pathOf: (key: string) => string,
  prefix: string,
  options: CleanupOptions,
): Promise<CleanupResult> {
  return cleanTempLeftovers(
    {
      readDirectory: (dir) => readRawDirectory(pool, pathOf(dir)),
      remove: (key, directory) =>
        pool.run((connection) =>
          directory ? removeTree(connection.calls, pathOf(key), false) : connection.calls.unlink(pathOf(key)),
        ),
    },
    prefix,
    options,
  );
}

/** Every name in a directory, temp names included, with lstat attributes; empty when it is missing or a file. */
async function readRawDirectory(pool: HostPool, path: string): Promise<TreeEntry[]> {
  return pool.run(async (connection) => {
    const calls = connection.calls;
    let handle: Buffer;
    try {
      handle = await calls.opendir(path);
    } catch (error) {
      if (FerryError.isInstance(error, "NotFound")) return [];
      const attrs = await calls.statOrNothing(path);
      if (!attrs || !isDirectoryMode(attrs.mode)) return [];
      throw error;
    }
    const entries: TreeEntry[] = [];
    try {
      for (;;) {
        const batch = await calls.readdirBatch(handle, path);
        if (!batch) break;
        for (const { filename, attrs } of batch) {
          if (filename === "." || filename === "..") continue;
          entries.push({
            name: filename,
            directory: isDirectoryMode(attrs.mode),
            size: attrs.size,
            modified: new Date(attrs.mtime * 1000),
          });
        }
      }
    } finally {
      await calls.close(handle, posix.join(path)).catch(() => undefined);
    }
    return entries;
  });
}
