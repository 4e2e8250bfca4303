/**
 * Atomic uploads: bytes go to a temporary name in the target's directory, written as fixed-size
 * chunks at their offsets with several requests in flight (memory: chunkSize × concurrency), and
 * only a complete file is put in place, by one rename (or one hard link for create-only writes).
 */
import { randomBytes } from "node:crypto";
import { posix } from "node:path";
import { chunkBytes, errors, throwIfAborted } from "@ferry/core";
import type { Connection } from "./connection.ts";
import { isDirectoryMode, type SftpCalls, STATUS, statusOf } from "./sftp-ops.ts";

/** Same prefix as ferry's local storage, so in-flight writes look alike everywhere and are hidden from listings. */
export const TEMP_PREFIX = ".ferry-tmp-";
const NAME_MAX_BYTES = 255;

/** `.ferry-tmp-<random>-<name>` next to `finalPath`, shortened on a character boundary to fit NAME_MAX. */
export function tempPathFor(finalPath: string): string {
  const head = `${TEMP_PREFIX}${randomBytes(6).toString("hex")}-`;
  let name = posix.basename(finalPath);
  while (Buffer.byteLength(head + name) > NAME_MAX_BYTES) name = [...name].slice(0, -1).join("");
  return posix.join(posix.dirname(finalPath), head + name);
}

export interface PlaceFeatures {
  posixRename: boolean;
  hardlink: boolean;
}

export function placeFeatures(connection: Connection): PlaceFeatures {
  return {
    posixRename: connection.hasExtension("posix-rename@openssh.com"),
    hardlink: connection.hasExtension("hardlink@openssh.com"),
  };
}

/** mkdir -p. A file in the way is InvalidInput (for parents) naming it. */
export async function makeDirectories(calls: SftpCalls, dir: string): Promise<void> {
  const existing = await calls.statOrNothing(dir).catch((error) => {
    // A parent that is a file answers stat with FAILURE/NO_SUCH_FILE on some servers; look closer below.
    if (statusOf((error as { cause?: unknown }).cause) === STATUS.FAILURE) return undefined;
    throw error;
  });
  if (existing) {
    if (isDirectoryMode(existing.mode)) return;
    throw errors.alreadyExists(`cannot create directory ${dir} on ${calls.host}: a file is in the way`, {
      system: "sftp",
      path: dir,
    });
  }
  const parent = posix.dirname(dir);
  if (parent !== dir) await makeDirectories(calls, parent);
  try {
    await calls.mkdir(dir);
  } catch (error) {
    // Lost a race with another creator: fine when a directory is there now.
    const now = await calls.statOrNothing(dir);
    if (now && isDirectoryMode(now.mode)) return;
    if (now)
      throw errors.alreadyExists(`cannot create directory ${dir} on ${calls.host}: a file is in the way`, {
        system: "sftp",
        path: dir,
      });
    throw error;
  }
}

/** Create `finalPath`'s parent directories; a file among them is InvalidInput. */
export async function ensureParent(calls: SftpCalls, finalPath: string): Promise<void> {
  try {
    await makeDirectories(calls, posix.dirname(finalPath));
  } catch (error) {
    if ((error as { code?: string }).code === "AlreadyExists") {
      throw errors.invalidInput(
        `cannot create ${finalPath} on ${calls.host}: a parent path is a file, not a directory`,
        { system: "sftp", path: finalPath, cause: error },
      );
    }
    throw error;
  }
}

/**
 * Put the complete file `temp` under `finalPath`. Create-only: a hard link (fails if anything is
 * there), else SFTP v3 rename (which must not replace, per the protocol). Otherwise posix-rename
 * (atomic replace), else unlink + rename (a short window without the file; only on servers
 * lacking posix-rename).
 */
export async function place(
  calls: SftpCalls,
  temp: string,
  finalPath: string,
  exclusive: boolean,
  features: PlaceFeatures,
): Promise<void> {
  if (exclusive) {
    try {
      if (features.hardlink) {
        await calls.hardlink(temp, finalPath);
        await calls.unlink(temp);
      } else {
        await calls.rename(temp, finalPath);
      }
    } catch (error) {
      if (await calls.statOrNothing(finalPath)) {
        throw errors.conditionNotMet(
          `not created: something already exists at ${finalPath} on ${calls.host}`,
          { system: "sftp", path: finalPath, cause: error },
        );
      }
      throw error;
    }
    return;
  }
  if (features.posixRename) {
    await calls.posixRename(temp, finalPath);
    return;
  }
  try {
    await calls.rename(temp, finalPath);
  } catch (error) {
    if (!(await calls.statOrNothing(finalPath))) throw error;
    await calls.unlink(finalPath);
    await calls.rename(temp, finalPath);
  }
}

export interface UploadOptions {
  chunkSize: number;
  concurrency: number;
  mtime?: Date | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * Write `source` into a new file `temp` (created exclusively). Up to `concurrency` chunk writes are
 * in flight; the source is not read further until one completes (back-pressure).
 */
export async function uploadTo(
  calls: SftpCalls,
  temp: string,
  source: AsyncIterable<Uint8Array>,
  options: UploadOptions,
): Promise<number> {
  const handle = await calls.open(temp, "wx", "write", 0o644);
  let closed = false;
  try {
    const inFlight = new Set<Promise<void>>();
    let failure: unknown;
    let position = 0;
    for await (const chunk of chunkBytes(source, options.chunkSize)) {
      if (failure !== undefined) break;
      throwIfAborted(options.signal, { system: "sftp", path: temp });
      const write = calls.writeAt(handle, chunk, position, temp).then(
        () => {
          inFlight.delete(write);
        },
        (error) => {
          inFlight.delete(write);
          failure ??= error;
        },
      );
      inFlight.add(write);
      position += chunk.byteLength;
      if (inFlight.size >= options.concurrency) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    if (failure !== undefined) throw failure;
    if (options.mtime) await calls.futimes(handle, options.mtime, temp);
    closed = true;
    await calls.close(handle, temp);
    return position;
  } finally {
    if (!closed) await calls.close(handle, temp).catch(() => undefined);
  }
}
