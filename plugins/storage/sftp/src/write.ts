/**
 * Atomic uploads: bytes go to a temporary name in the target's directory, written as fixed-size
 * chunks at their offsets with several requests in flight (memory: chunkSize × concurrency), and
 * only a complete file is put in place, by one rename (or one hard link for create-only writes).
 */
import { posix } from "node:path";
import {
  chunkBytes,
  type Entry,
  errors,
  FerryError,
  PartRecycler,
  tempNameHead,
  throwIfAborted,
} from "@ferry/plugin-kit";
import type { Attributes } from "ssh2";
import type { HostPool } from "./client.ts";
import { isLostConnection, STATUS, statusOf } from "./errors.ts";
import { entryOf } from "./list.ts";
import { DEFAULTS } from "./options.ts";
import type { Connection } from "./ssh/connection.ts";
import { isDirectoryMode, type SftpCalls } from "./ssh/sftp-calls.ts";

/** Same prefix as ferry's local storage, so in-flight writes look alike everywhere and are hidden from listings. */
export { TEMP_PREFIX } from "@ferry/plugin-kit";

const NAME_MAX_BYTES = 255;

/**
 * `.ferry-tmp-<host>.<pid>.<random>-<name>` next to `finalPath` (the owner is this machine and
 * process: cleanup.ts), shortened on a character boundary to fit NAME_MAX.
 */
export function tempPathFor(finalPath: string): string {
  const head = `${tempNameHead()}-`;
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

/** An mtime as an SFTP v3 host stores it: whole seconds, the fraction dropped (as ssh2 sends it). */
export function wholeSeconds(mtime: Date): Date {
  return new Date(Math.trunc(mtime.getTime() / 1000) * 1000);
}

/**
 * The upload chunk when none is configured: DEFAULTS.chunkSize rounded down to whole WRITE requests
 * of the host (255 KiB on OpenSSH, whose limit is 261120 bytes), so that no chunk ends in a short
 * extra request that costs a packet and a reply of its own.
 */
export function defaultUploadChunk(calls: SftpCalls): number {
  const request = calls.maxWriteLength;
  return Math.max(request, Math.floor(DEFAULTS.chunkSize / request) * request);
}

/** A file open for writing on one pooled connection, held until `release()`. */
export interface OpenFile {
  connection: Connection;
  handle: Buffer;
  release(): void;
}

export interface UploadOptions {
  chunkSize: number;
  concurrency: number;
  /** The size the caller declared, if any: a smaller file is sent as one chunk of exactly its size. */
  size?: number | undefined;
  mtime?: Date | undefined;
  signal?: AbortSignal | undefined;
  /** Open the temporary file again (without truncating) on a fresh connection, after the first one dropped. */
  reopen?: (() => Promise<OpenFile>) | undefined;
  /** A check sent together with the open; its failure closes the file again and is thrown. */
  alongsideOpen?: (() => Promise<void>) | undefined;
}

export interface Uploaded {
  size: number;
  /** The connection the upload finished on (a fresh one after a resume): place the file with it, then release. */
  file: OpenFile;
}

export function statQuietly(calls: SftpCalls, path: string): Promise<Attributes | undefined> {
  return calls.statOrNothing(path).catch(() => undefined);
}

/** What a write must not replace: a directory, or anything at all for a create-only write. */
export function refuseExisting(
  existing: Attributes | undefined,
  path: string,
  exclusive: boolean,
  host: string,
): void {
  if (existing && isDirectoryMode(existing.mode)) {
    throw errors.invalidInput(`cannot write ${path} on ${host}: a directory is there`, {
      system: "sftp",
      path,
    });
  }
  if (existing && exclusive) {
    throw errors.conditionNotMet(`not created: something already exists at ${path} on ${host}`, {
      system: "sftp",
      path,
    });
  }
}

/**
 * Where a storage's writes land: parent directories that earlier writes found or created. A write
 * into one checks its target while it opens the temporary file, instead of a round trip before; if
 * the directory has gone since, the open fails and the write starts over with the full check.
 */
export class WriteTargets {
  readonly #known = new Set<string>();
  readonly #creating = new Map<string, Promise<void>>();

  /** Refuse early what the final placement would refuse, and create the parents. */
  async check(calls: SftpCalls, path: string, exclusive: boolean): Promise<void> {
    // Both questions in one round trip: is something at the path, and is its parent a directory.
    const [existing, parent] = await Promise.all([
      statQuietly(calls, path),
      statQuietly(calls, posix.dirname(path)),
    ]);
    refuseExisting(existing, path, exclusive, calls.host);
    if (!existing && !(parent && isDirectoryMode(parent.mode))) await this.#createParent(calls, path);
  }

  /**
   * Run `upload` for a write to `path`, after the full check on a first write into its directory,
   * else with the lighter check sent alongside the open. `consumed` tells whether the source has
   * been read (then a failed upload is not started over).
   */
  upload(
    calls: SftpCalls,
    path: string,
    exclusive: boolean,
    upload: (alongsideOpen?: () => Promise<void>) => Promise<Uploaded>,
    consumed: () => boolean,
  ): Promise<Uploaded> {
    const parent = posix.dirname(path);
    const checked = async () => {
      await this.check(calls, path, exclusive);
      this.#known.add(parent);
      return upload();
    };
    if (!this.#known.has(parent)) return checked();
    // Into a known directory, a create-only write is refused before any byte is sent. A
    // replacing write sends no check of its own: a directory in the way fails its rename.
    const refuseTaken = async () =>
      refuseExisting(await statQuietly(calls, path), path, exclusive, calls.host);
    return upload(exclusive ? refuseTaken : undefined).catch((error: unknown) => {
      // The directory went away since an earlier write: check and create it as a first write does.
      if (consumed() || !FerryError.isInstance(error, "NotFound")) throw error;
      this.#known.delete(parent);
      return checked();
    });
  }

  /**
   * ensureParent, once for writes into the same new directory that start together (a folder's
   * first files): the others wait for it instead of racing it with mkdir requests of their own.
   * When it fails, each tries on its own connection, so its error names its own file.
   */
  #createParent(calls: SftpCalls, path: string): Promise<void> {
    const dir = posix.dirname(path);
    const pending = this.#creating.get(dir);
    if (pending) return pending.catch(() => ensureParent(calls, path));
    const creating = ensureParent(calls, path).finally(() => this.#creating.delete(dir));
    this.#creating.set(dir, creating);
    return creating;
  }
}

/** Put an uploaded temporary file in place at `target.path`, release its connection, and describe the result. */
export async function placeUpload(
  uploaded: Uploaded,
  temp: string,
  target: { key: string; path: string },
  exclusive: boolean,
  mtime: Date | undefined,
): Promise<Entry> {
  const { file, size } = uploaded;
  const { key, path } = target;
  const calls = file.connection.calls;
  try {
    await place(calls, temp, path, exclusive, placeFeatures(file.connection)).catch(
      async (error: unknown) => {
        // A replacing write's rename fails on a directory: name it, as the check before
        // a first write into a directory does (create-only placement names its own refusal).
        if (!exclusive) refuseExisting(await statQuietly(calls, path), path, false, calls.host);
        throw error;
      },
    );
    // The temporary file was created by this write and holds exactly the bytes sent; with
    // the mtime set by this write too, a stat of the result would only repeat both.
    if (mtime) return { path: key, kind: "file", size, mtime: wholeSeconds(mtime) };
    return entryOf(key, await calls.stat(path));
  } finally {
    file.release();
  }
}

/** The temporary file of an interrupted upload, open again (not truncated) on a fresh connection. */
export function reopenForWrite(pool: HostPool, temp: string): Promise<OpenFile> {
  return pool.run(async (connection) => {
    const handle = await connection.calls.open(temp, "r+", "write");
    return { connection, handle, release: pool.keep(connection) };
  });
}

/**
 * Write `source` into a new file `temp` (created exclusively). Up to `concurrency` chunk writes are
 * in flight; the source is not read further until one completes (back-pressure). Chunks are kept
 * until the host acknowledges them, so when the connection drops the upload resumes once on a
 * fresh connection (`reopen`): the unacknowledged chunks are sent again and the source read on.
 */
export async function uploadTo(
  connection: Connection,
  temp: string,
  source: AsyncIterable<Uint8Array>,
  options: UploadOptions,
): Promise<Uploaded> {
  const handle = await openExclusive(connection, temp, options.alongsideOpen);
  return new ChunkedUpload({ connection, handle, release: () => {} }, temp, options).send(source);
}

/** Create `temp` for writing, with the caller's check sent together; a failed check closes it again. */
async function openExclusive(
  connection: Connection,
  temp: string,
  alongsideOpen: (() => Promise<void>) | undefined,
): Promise<Buffer> {
  const [opened, check] = await Promise.allSettled([
    connection.calls.open(temp, "wx", "write", 0o644),
    alongsideOpen?.(),
  ]);
  if (opened.status === "rejected") throw opened.reason;
  if (check.status === "rejected") {
    await connection.calls.close(opened.value, temp).catch(() => undefined);
    throw check.reason;
  }
  return opened.value;
}

/** One upload into an open temporary file: chunks in flight, their acknowledgements, one resume. */
class ChunkedUpload {
  #file: OpenFile;
  readonly #temp: string;
  readonly #options: UploadOptions;
  readonly #inFlight = new Set<Promise<void>>();
  /** Chunks sent but not yet acknowledged, by offset. */
  readonly #unacknowledged = new Map<number, Uint8Array>();
  /** Acknowledged chunks' memory, filled again with the next ones instead of new allocations. */
  readonly #recycler: PartRecycler;
  #failure: unknown;
  #resumed = false;
  /** The file whose close was sent: its handle is never closed twice (the host may hand it out again). */
  #closeSent: OpenFile | undefined;

  constructor(file: OpenFile, temp: string, options: UploadOptions) {
    this.#file = file;
    this.#temp = temp;
    this.#options = options;
    this.#recycler = new PartRecycler(options.concurrency + 1);
  }

  async send(source: AsyncIterable<Uint8Array>): Promise<Uploaded> {
    try {
      const size = await this.#sendChunks(source);
      await this.#finish();
      return { size, file: this.#file };
    } catch (error) {
      const file = this.#file;
      if (this.#closeSent !== file)
        await file.connection.calls.close(file.handle, this.#temp).catch(() => undefined);
      file.release();
      throw error;
    }
  }

  /** Every chunk of `source` sent, at most `concurrency` in flight; resolves to the bytes sent. */
  async #sendChunks(source: AsyncIterable<Uint8Array>): Promise<number> {
    const { size, chunkSize, concurrency, signal } = this.#options;
    const chunk = size === undefined ? chunkSize : Math.max(1, Math.min(chunkSize, size));
    let position = 0;
    for await (const bytes of chunkBytes(source, chunk, this.#recycler)) {
      throwIfAborted(signal, { system: "sftp", path: this.#temp });
      await this.#settle();
      this.#unacknowledged.set(position, bytes);
      this.#write(position, bytes);
      position += bytes.byteLength;
      while (this.#inFlight.size >= concurrency) {
        await Promise.race(this.#inFlight);
        await this.#settle();
      }
    }
    return position;
  }

  /**
   * The mtime and the close follow the last writes without waiting for their answers: a host gives
   * the same results as if each request had waited for the one before (draft-ietf-secsh-filexfer-02
   * §6), so they apply to the complete file. A failed write still fails the upload.
   */
  async #finish(): Promise<void> {
    for (;;) {
      const closing = this.#close(this.#file);
      await Promise.allSettled([...this.#inFlight]);
      this.#failure ??= await closing;
      if (this.#failure === undefined) return;
      await this.#settle();
    }
  }

  /** Set the mtime and close `target`; resolves to the error, if any, once both are answered. */
  async #close(target: OpenFile): Promise<unknown> {
    const calls = target.connection.calls;
    const mtime = this.#options.mtime;
    this.#closeSent = target;
    const requests = [
      ...(mtime ? [calls.futimes(target.handle, mtime, this.#temp)] : []),
      calls.close(target.handle, this.#temp),
    ];
    const outcomes = await Promise.allSettled(requests);
    return outcomes.find((outcome) => outcome.status === "rejected")?.reason;
  }

  #write(position: number, chunk: Uint8Array): void {
    const target = this.#file;
    const write = target.connection.calls.writeAt(target.handle, chunk, position, this.#temp).then(
      () => {
        this.#inFlight.delete(write);
        this.#unacknowledged.delete(position);
        // ssh2 copied the bytes into its request, and the host has them: nothing reads the chunk again.
        this.#recycler.give(chunk);
      },
      (error) => {
        this.#inFlight.delete(write);
        // Failures of writes on a connection already replaced are expected and already handled.
        if (target === this.#file) this.#failure ??= error;
      },
    );
    this.#inFlight.add(write);
  }

  /** Throw the first write failure, unless it is a lost connection that can be resumed. */
  async #settle(): Promise<void> {
    if (this.#failure === undefined) return;
    const error = this.#failure;
    const reopen = this.#options.reopen;
    if (this.#resumed || !reopen || !(this.#file.connection.gone || isLostConnection(error))) throw error;
    this.#resumed = true;
    this.#failure = undefined;
    await Promise.allSettled([...this.#inFlight]);
    this.#file.release();
    this.#file = await reopen();
    for (const [position, chunk] of this.#unacknowledged) this.#write(position, chunk);
  }
}
