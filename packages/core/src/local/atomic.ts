/**
 * Atomic placement of new content: bytes go to a hidden temp file in the target's own directory
 * (same file system, so rename is atomic), then the temp file is renamed over the final name — or,
 * for create-only writes, hard-linked to it, which fails with EEXIST instead of replacing anything.
 * Whatever goes wrong, the temp file is removed and the final name is untouched.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { chmod, link, mkdir, open, rename, rm, stat, unlink, utimes } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { errors } from "../errors.ts";
import { fsErrorCode, mapFsError } from "./errors.ts";
import { TEMP_PREFIX } from "./root.ts";

const NAME_MAX_BYTES = 255;
const encoder = new TextEncoder();

/** `.ferry-tmp-<random>-<name>`, the name shortened (on a character boundary) to fit NAME_MAX. */
export function tempPathFor(finalPath: string): string {
  const head = `${TEMP_PREFIX}${randomBytes(6).toString("hex")}-`;
  let name = basename(finalPath);
  while (encoder.encode(head + name).byteLength > NAME_MAX_BYTES) name = [...name].slice(0, -1).join("");
  return join(dirname(finalPath), head + name);
}

export interface PlaceOptions {
  /** Create only: ConditionNotMet if anything exists at the final name. */
  exclusive?: boolean | undefined;
  mtime?: Date | undefined;
  fsync?: boolean | undefined;
  /** What resolving the final path saw: skip creating parents that exist and keeping the mode of nothing. */
  target?: { exists: boolean; parentExists: boolean } | undefined;
}

/** Create the parent directories of `filePath`; a file in the way is InvalidInput. */
export async function ensureParent(filePath: string): Promise<void> {
  const parent = dirname(filePath);
  try {
    await mkdir(parent, { recursive: true });
  } catch (error) {
    const code = fsErrorCode(error);
    if (code === "EEXIST" || code === "ENOTDIR") {
      throw errors.invalidInput(`cannot create ${filePath}: a parent path is a file, not a directory`, {
        system: "file",
        path: filePath,
        cause: error,
      });
    }
    throw mapFsError(error, filePath, "write");
  }
}

/**
 * Run `fill(tempPath)` to produce the content, then move it into place. The temp file is removed
 * on every failure path, including a source that throws, an abort, and a lost create race.
 */
export async function placeAtomically(
  finalPath: string,
  fill: (tempPath: string) => Promise<void>,
  options: PlaceOptions = {},
): Promise<void> {
  if (!options.target?.parentExists) await ensureParent(finalPath);
  const tempPath = tempPathFor(finalPath);
  try {
    await fill(tempPath);
    if (options.fsync) await syncFile(tempPath);
    if (options.mtime) await utimes(tempPath, options.mtime, options.mtime);
    if (options.exclusive) {
      await linkExclusive(tempPath, finalPath);
      await unlink(tempPath);
    } else {
      if (options.target?.exists !== false) await keepMode(finalPath, tempPath);
      await renameInto(tempPath, finalPath);
    }
    if (options.fsync) await syncDirectory(dirname(finalPath));
  } catch (error) {
    await rm(tempPath, { force: true }).catch(() => undefined);
    throw mapFsError(error, finalPath, "write");
  }
}

/** Stream `source` into `tempPath` with back-pressure; aborting the signal destroys the stream. */
export async function streamToFile(
  source: AsyncIterable<Uint8Array>,
  tempPath: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  const sink = createWriteStream(tempPath, { flags: "wx" });
  await pipeline(Readable.from(source, { objectMode: false }), sink, signal ? { signal } : {});
}

/**
 * An overwrite replaces the file, so it would otherwise get default permissions: carry the old
 * file's mode over (an executable script stays executable, a private file stays private).
 */
async function keepMode(finalPath: string, tempPath: string): Promise<void> {
  const existing = await stat(finalPath).catch(() => undefined);
  if (existing?.isFile()) await chmod(tempPath, existing.mode & 0o7777);
}

async function linkExclusive(tempPath: string, finalPath: string): Promise<void> {
  try {
    await link(tempPath, finalPath);
  } catch (error) {
    if (fsErrorCode(error) === "EEXIST") {
      throw errors.conditionNotMet(`not created: something already exists at ${finalPath}`, {
        system: "file",
        path: finalPath,
        cause: error,
      });
    }
    throw error;
  }
}

async function renameInto(tempPath: string, finalPath: string): Promise<void> {
  try {
    await rename(tempPath, finalPath);
  } catch (error) {
    const code = fsErrorCode(error);
    if (code === "EISDIR" || code === "ENOTEMPTY" || code === "EEXIST") {
      throw errors.invalidInput(`cannot write ${finalPath}: a directory is there`, {
        system: "file",
        path: finalPath,
        cause: error,
      });
    }
    throw error;
  }
}

async function syncFile(filePath: string): Promise<void> {
  const handle = await open(filePath, "r+");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Make the rename itself durable. Some platforms cannot open directories; that is not an error. */
async function syncDirectory(dirPath: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dirPath, "r");
    await handle.sync();
  } catch {
    // best effort
  } finally {
    await handle?.close();
  }
}
