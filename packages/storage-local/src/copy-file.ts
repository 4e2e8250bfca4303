/**
 * A local file copy that an AbortSignal stops within one chunk. `copyFile` hands the whole file to
 * the kernel on a thread-pool thread, where nothing can interrupt it: a Ctrl-C during a 4 GiB copy
 * waited for the last byte. Here a reflink is tried first (instant where the file system shares
 * blocks: btrfs, XFS, APFS); otherwise the bytes go through two buffers, one read while the other
 * is written, and the signal is checked between chunks.
 */
import { constants } from "node:fs";
import { copyFile, type FileHandle, open } from "node:fs/promises";
import { throwIfAborted } from "@ferry/plugin-kit";
import { fsErrorCode } from "./errors.ts";

const CHUNK_BYTES = 8 * 1024 * 1024;

/** Codes with which a file system says it cannot share blocks between these files. */
const NO_REFLINK = new Set(["ENOTSUP", "EOPNOTSUPP", "EXDEV", "EINVAL", "ENOSYS", "ENOTTY", "EBADF"]);

/** Copy `source` to `target`, which must not exist, with the source's permissions. */
export async function copyFileCancellable(
  source: string,
  target: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  throwIfAborted(signal, { system: "file", path: target });
  try {
    await copyFile(source, target, constants.COPYFILE_FICLONE_FORCE | constants.COPYFILE_EXCL);
    return;
  } catch (error) {
    if (!NO_REFLINK.has(fsErrorCode(error) ?? "")) throw error;
  }
  const input = await open(source, "r");
  try {
    const mode = (await input.stat()).mode & 0o7777;
    const output = await open(target, "wx", mode);
    try {
      await copyChunks(input, output, signal, target);
      await output.chmod(mode); // the umask may have narrowed it
    } finally {
      await output.close();
    }
  } finally {
    await input.close();
  }
}

async function copyChunks(
  input: FileHandle,
  output: FileHandle,
  signal: AbortSignal | undefined,
  target: string,
): Promise<void> {
  const buffers = [Buffer.allocUnsafe(CHUNK_BYTES), Buffer.allocUnsafe(CHUNK_BYTES)];
  let writing: Promise<unknown> = Promise.resolve();
  for (let position = 0, turn = 0; ; turn ^= 1) {
    throwIfAborted(signal, { system: "file", path: target });
    const buffer = buffers[turn]!;
    const { bytesRead } = await input.read(buffer, 0, buffer.byteLength, position);
    await writing; // the other buffer is free again once its write is done
    if (bytesRead === 0) return;
    writing = writeAll(output, buffer, bytesRead, position);
    position += bytesRead;
  }
}

async function writeAll(output: FileHandle, buffer: Buffer, length: number, position: number): Promise<void> {
  for (let done = 0; done < length; ) {
    const { bytesWritten } = await output.write(buffer, done, length - done, position + done);
    done += bytesWritten;
  }
}
