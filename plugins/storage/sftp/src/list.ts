/** Listing: entries from SFTP attributes, and one directory's entries (sorted per directory). */
import { posix } from "node:path";
import { compareKeys, type Entry, FerryError, TEMP_PREFIX, throwIfAborted } from "@ferry/plugin-kit";
import type { Attributes } from "ssh2";
import type { HostPool } from "./client.ts";
import { isDirectoryMode, isFileMode, isLinkMode } from "./ssh/sftp-calls.ts";

export function entryOf(key: string, attrs: Attributes): Entry {
  return {
    path: key,
    kind: isDirectoryMode(attrs.mode) ? "directory" : "file",
    size: isDirectoryMode(attrs.mode) ? 0 : attrs.size,
    mtime: new Date(attrs.mtime * 1000),
  };
}

/**
 * One directory's entries (keys `dir/name`), sorted by UTF-8 bytes with a directory `d` sorting as
 * `d/` — readdir order is the server's. Symlinks are followed as stat does (a dangling one is left
 * out), in-flight temporary files are hidden, and a missing directory or a file lists as empty.
 */
export async function listDirectory(
  pool: HostPool,
  path: string,
  dir: string,
  signal?: AbortSignal,
): Promise<Entry[]> {
  const opened = await pool.run(async (connection) => {
    let handle: Buffer;
    try {
      handle = await connection.calls.opendir(path);
    } catch (error) {
      if (FerryError.isInstance(error, "NotFound")) return undefined;
      const attrs = await connection.calls.statOrNothing(path);
      if (!attrs || !isDirectoryMode(attrs.mode)) return undefined;
      throw error;
    }
    pool.hold(connection);
    return { connection, handle };
  });
  if (!opened) return [];
  const { connection, handle } = opened;
  const calls = connection.calls;
  const entries: Entry[] = [];
  try {
    for (;;) {
      throwIfAborted(signal, { system: "sftp", path: dir });
      const batch = await calls.readdirBatch(handle, path);
      if (!batch) break;
      for (const item of batch) {
        const name = item.filename;
        if (name === "." || name === ".." || name.startsWith(TEMP_PREFIX)) continue;
        let attrs: Attributes | undefined = item.attrs;
        if (isLinkMode(attrs.mode)) attrs = await calls.statOrNothing(posix.join(path, name));
        if (!attrs || (!isDirectoryMode(attrs.mode) && !isFileMode(attrs.mode))) continue;
        entries.push(entryOf(dir === "" ? name : `${dir}/${name}`, attrs));
      }
    }
  } finally {
    await calls.close(handle, path).catch(() => undefined);
    pool.giveBack(connection);
  }
  const sortKey = (entry: Entry) => (entry.kind === "directory" ? `${entry.path}/` : entry.path);
  return entries.sort((a, b) => compareKeys(sortKey(a), sortKey(b)));
}
