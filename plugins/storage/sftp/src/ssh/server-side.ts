/**
 * Work that keeps the bytes on the host: ferry-built commands (`cp`, `md5sum`, `rm -rf`) with their
 * failures typed, the `copy-data` extension, and — when the host offers neither — the SFTP-only
 * fallbacks (a tree walk for rm -r, a copy streamed through this process).
 */
import { posix } from "node:path";
import { type ExecResult, errors } from "@ferry/plugin-kit";
import { commandError, ignoreNotFound } from "../errors.ts";
import type { HostTools } from "../options.ts";
import { ParallelReadStream, type RemoteFile } from "../read.ts";
import { uploadTo } from "../write.ts";
import type { Connection } from "./connection.ts";
import { isDirectoryMode, type SftpCalls } from "./sftp-calls.ts";
import { run, shellQuote } from "./shell.ts";

/** Run a ferry-built command; a non-zero exit becomes a typed error carrying the end of stderr. */
export async function runChecked(
  connection: Connection,
  command: string,
  path: string,
  signal?: AbortSignal,
): Promise<ExecResult> {
  const result = await run(connection, command, { signal });
  if (result.exitCode === 0) return result;
  throw commandError(connection.label, result.exitCode, result.stderr, path);
}

/** MD5 of a file, computed on the host. It reads stdin, so no escaped file name has to be parsed out. */
export async function md5OnHost(
  connection: Connection,
  path: string,
  tools: HostTools,
  signal?: AbortSignal,
): Promise<string> {
  const result = await runChecked(connection, `${tools.md5sum} < ${shellQuote(path)}`, path, signal);
  const match = /^\\?([0-9a-f]{32})\b/.exec(result.stdout);
  if (!match) {
    throw errors.unexpected(
      `unexpected output from ${tools.md5sum} on ${connection.label}: ${result.stdout.slice(0, 200)}`,
      {
        system: "sftp",
        path,
      },
    );
  }
  return match[1]!;
}

/** rm -r of `dir`, or of everything inside it when `keepDir` (a storage root is emptied, not removed). */
export async function removeOnHost(
  connection: Connection,
  dir: string,
  keepDir: boolean,
  tools: HostTools,
): Promise<void> {
  const command = keepDir
    ? `find ${shellQuote(dir)} -mindepth 1 -maxdepth 1 -exec ${tools.rm} -rf -- {} +`
    : `${tools.rm} -rf -- ${shellQuote(dir)}`;
  await runChecked(connection, command, dir);
}

/** rm -r over SFTP alone, depth first. */
export async function removeTree(calls: SftpCalls, dir: string, keepDir: boolean): Promise<void> {
  const handle = await calls.opendir(dir);
  const children: { path: string; directory: boolean }[] = [];
  try {
    for (
      let batch = await calls.readdirBatch(handle, dir);
      batch;
      batch = await calls.readdirBatch(handle, dir)
    ) {
      for (const item of batch) {
        if (item.filename === "." || item.filename === "..") continue;
        children.push({ path: posix.join(dir, item.filename), directory: isDirectoryMode(item.attrs.mode) });
      }
    }
  } finally {
    await calls.close(handle, dir).catch(() => undefined);
  }
  for (const child of children) {
    if (child.directory) await removeTree(calls, child.path, false);
    else await calls.unlink(child.path).catch(ignoreNotFound);
  }
  if (!keepDir) await calls.rmdir(dir).catch(ignoreNotFound);
}

export interface CopyPlan {
  /** `cp` runs on the host. */
  command: boolean;
  /** The `copy-data` extension is there. */
  copyData: boolean;
  tools: HostTools;
  chunkSize: number;
  concurrency: number;
}

/** The bytes of `source` into a new file `temp`: `cp` on the host, else `copy-data`, else streamed through this process. */
export async function copyInto(
  connection: Connection,
  source: { path: string; size: number },
  temp: string,
  plan: CopyPlan,
  signal: AbortSignal | undefined,
): Promise<void> {
  const calls = connection.calls;
  if (plan.command) {
    await runChecked(
      connection,
      `${plan.tools.cp} -- ${shellQuote(source.path)} ${shellQuote(temp)}`,
      source.path,
      signal,
    );
    return;
  }
  const sourceHandle = await calls.open(source.path, "r", "read");
  if (plan.copyData) {
    try {
      const targetHandle = await calls.open(temp, "wx", "write", 0o644);
      try {
        await calls.copyData(sourceHandle, targetHandle, temp);
      } finally {
        await calls.close(targetHandle, temp);
      }
    } finally {
      await calls.close(sourceHandle, source.path).catch(() => undefined);
    }
    return;
  }
  const file: RemoteFile = {
    calls,
    handle: sourceHandle,
    size: source.size,
    mtime: 0,
    lost: () => false,
    // The stream closes the handle; the connection belongs to the surrounding operation.
    release: () => {},
  };
  const { chunkSize, concurrency } = plan;
  const stream = new ParallelReadStream(file, source.path, {
    start: 0,
    length: source.size,
    chunkSize,
    concurrency,
  });
  try {
    await uploadTo(connection, temp, stream, { chunkSize, concurrency, signal });
  } finally {
    stream.destroy();
  }
}
