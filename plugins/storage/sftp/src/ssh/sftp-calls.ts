/**
 * SFTP requests as promises, with SFTP status codes mapped to ferry's error codes (errors.ts). Errors
 * without a status code (the transport went away) pass through unchanged, for the pool to recognise.
 */
import { describeStall, type FerryError } from "@ferry/plugin-kit";
import type { Attributes, FileEntryWithStats, OpenMode, SFTPWrapper } from "ssh2";
import { mapSftpError, STATUS, statusOf } from "../errors.ts";

const S_IFMT = 0o170000;
export const isDirectoryMode = (mode: number) => (mode & S_IFMT) === 0o040000;
export const isFileMode = (mode: number) => (mode & S_IFMT) === 0o100000;
export const isLinkMode = (mode: number) => (mode & S_IFMT) === 0o120000;

/** The write size every SFTP v3 server must accept (draft-ietf-secsh-filexfer-02 §3: 32768 data bytes). */
const FALLBACK_MAX_WRITE = 32 * 1024;

/** Calls on one SFTP channel, as promises. */
export class SftpCalls {
  readonly sftp: SFTPWrapper;
  readonly host: string;

  /** Requests waiting for an answer: how to fail each, and what it was about. */
  readonly #pending = new Map<(error: Error) => void, [string, "read" | "write"]>();
  readonly #beforeRequest: () => void;
  readonly #stalled: () => FerryError | undefined;
  #closed = false;

  /**
   * `beforeRequest` runs before each request is handed to ssh2 (the connection batches socket writes
   * there); `stalled` tells whether the idle timeout ended the connection, so that its requests fail
   * with that (saying what stalled) rather than with ssh2's "No response from server".
   */
  constructor(
    sftp: SFTPWrapper,
    host: string,
    beforeRequest: () => void = () => {},
    stalled: () => FerryError | undefined = () => undefined,
  ) {
    this.sftp = sftp;
    this.host = host;
    this.#beforeRequest = beforeRequest;
    this.#stalled = stalled;
    // ssh2 answers the requests in flight when a channel closes, but a request issued after that
    // would wait forever: fail every waiting call, and refuse new ones.
    sftp.once("close", () => {
      this.#closed = true;
      for (const [reject, [path, intent]] of this.#pending) reject(this.#lost(path, intent));
      this.#pending.clear();
    });
  }

  #lost(path?: string, intent: "read" | "write" = "read"): Error {
    return this.#stall(path, intent) ?? new Error(`Not connected: the SFTP channel to ${this.host} closed`);
  }

  /** The stall that ended this connection, said from the side of a request on `path`; else undefined. */
  #stall(path: string | undefined, intent: "read" | "write"): FerryError | undefined {
    const stall = this.#stalled();
    if (!stall) return undefined;
    const where = `sftp://${this.host}${path ?? ""}`;
    return describeStall(stall, intent, where, { system: "sftp", path }) ?? stall;
  }

  #call<T>(
    path: string,
    intent: "read" | "write",
    start: (done: (error: Error | null | undefined, value?: T) => void) => void,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#closed) {
        reject(this.#lost(path, intent));
        return;
      }
      this.#pending.set(reject, [path, intent]);
      const settle = (error: Error | null | undefined, value?: T) => {
        this.#pending.delete(reject);
        if (error) reject(this.#stall(path, intent) ?? mapSftpError(error, path, this.host, intent));
        else resolve(value as T);
      };
      try {
        this.#beforeRequest();
        start(settle);
      } catch (error) {
        // ssh2 throws synchronously when the channel is already closed.
        settle(error as Error);
      }
    });
  }

  stat(path: string): Promise<Attributes> {
    return this.#call(path, "read", (done) => this.sftp.stat(path, done));
  }

  lstat(path: string): Promise<Attributes> {
    return this.#call(path, "read", (done) => this.sftp.lstat(path, done));
  }

  /** stat, or undefined when nothing is there. */
  async statOrNothing(path: string): Promise<Attributes | undefined> {
    try {
      return await this.stat(path);
    } catch (error) {
      if ((error as FerryError).code === "NotFound") return undefined;
      throw error;
    }
  }

  realpath(path: string): Promise<string> {
    return this.#call(path, "read", (done) => this.sftp.realpath(path, done));
  }

  open(path: string, flags: OpenMode, intent: "read" | "write", mode?: number): Promise<Buffer> {
    return this.#call(path, intent, (done) =>
      mode === undefined ? this.sftp.open(path, flags, done) : this.sftp.open(path, flags, { mode }, done),
    );
  }

  close(handle: Buffer, path: string): Promise<void> {
    return this.#call(path, "write", (done) => this.sftp.close(handle, done));
  }

  /**
   * Largest WRITE the server takes in one request (OpenSSH announces 261120 bytes through
   * limits@openssh.com). ssh2 sends the rest of a longer write only after the first part is
   * answered, a round trip in series; writeAt sends every part at once instead.
   */
  get maxWriteLength(): number {
    const announced = (this.sftp as unknown as { _maxWriteLen?: unknown })._maxWriteLen;
    return typeof announced === "number" && announced > 0 ? announced : FALLBACK_MAX_WRITE;
  }

  /** Write `chunk` at `position`, in requests of at most maxWriteLength bytes, all in flight together. */
  writeAt(handle: Buffer, chunk: Uint8Array, position: number, path: string): Promise<void> {
    const buffer = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const piece = this.maxWriteLength;
    if (buffer.byteLength <= piece) {
      return this.#call(path, "write", (done) =>
        this.sftp.write(handle, buffer, 0, buffer.byteLength, position, done),
      );
    }
    const writes: Promise<void>[] = [];
    for (let offset = 0; offset < buffer.byteLength; offset += piece) {
      const length = Math.min(piece, buffer.byteLength - offset);
      writes.push(
        this.#call(path, "write", (done) =>
          this.sftp.write(handle, buffer, offset, length, position + offset, done),
        ),
      );
    }
    return Promise.all(writes).then(() => undefined);
  }

  /** `length` bytes from `position`, fewer only at the end of the file (servers may answer a read in parts). */
  async readAt(handle: Buffer, position: number, length: number, path: string): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      let count: number;
      try {
        count = await this.#call<number>(path, "read", (done) =>
          this.sftp.read(handle, buffer, filled, length - filled, position + filled, (error, bytesRead) =>
            done(error, bytesRead),
          ),
        );
      } catch (error) {
        if (statusOf((error as { cause?: unknown }).cause) === STATUS.EOF) break;
        throw error;
      }
      if (count === 0) break;
      filled += count;
    }
    return buffer.subarray(0, filled);
  }

  futimes(handle: Buffer, mtime: Date, path: string): Promise<void> {
    return this.#call(path, "write", (done) => this.sftp.futimes(handle, mtime, mtime, done));
  }

  opendir(path: string): Promise<Buffer> {
    return this.#call(path, "read", (done) => this.sftp.opendir(path, done));
  }

  /** One batch of directory entries, or undefined at the end. */
  async readdirBatch(handle: Buffer, path: string): Promise<FileEntryWithStats[] | undefined> {
    try {
      return await this.#call<FileEntryWithStats[]>(path, "read", (done) =>
        this.sftp.readdir(handle, done as never),
      );
    } catch (error) {
      if (statusOf((error as { cause?: unknown }).cause) === STATUS.EOF) return undefined;
      throw error;
    }
  }

  unlink(path: string): Promise<void> {
    return this.#call(path, "write", (done) => this.sftp.unlink(path, done));
  }

  rmdir(path: string): Promise<void> {
    return this.#call(path, "write", (done) => this.sftp.rmdir(path, done));
  }

  mkdir(path: string): Promise<void> {
    return this.#call(path, "write", (done) => this.sftp.mkdir(path, done));
  }

  /** SFTP v3 rename: refuses to replace an existing target (OpenSSH implements it with link + unlink). */
  rename(from: string, to: string): Promise<void> {
    return this.#call(to, "write", (done) => this.sftp.rename(from, to, done));
  }

  /** rename(2): atomically replaces the target. */
  posixRename(from: string, to: string): Promise<void> {
    return this.#call(to, "write", (done) => this.sftp.ext_openssh_rename(from, to, done));
  }

  /** link(2): fails if the target exists, so it is an atomic create-if-absent. */
  hardlink(from: string, to: string): Promise<void> {
    return this.#call(to, "write", (done) => this.sftp.ext_openssh_hardlink(from, to, done));
  }

  /** Server-side copy of a whole file between two open handles (`copy-data` extension). */
  copyData(source: Buffer, target: Buffer, path: string): Promise<void> {
    return this.#call(path, "write", (done) => this.sftp.ext_copy_data(source, 0, 0, target, 0, done));
  }
}
