/**
 * `createStorage(driver)`: the one place where behaviour that differs between systems is normalised,
 * so that every plugin behaves the same to callers and the conformance suite tests one contract.
 */
import { Readable } from "node:stream";
import type {
  BatchCopyFile,
  BatchCopyOptions,
  ByteRange,
  CleanupOptions,
  CleanupResult,
  CopyOptions,
  Entry,
  ExecOptions,
  ExecResult,
  HashAlgorithm,
  ListOptions,
  PresignOptions,
  RangedWriteOptions,
  RangeFetcher,
  ReadOptions,
  SignalOptions,
  Storage,
  StorageDriver,
  WriteOptions,
  WriteSource,
} from "@ferry/plugin-kit";
import {
  collectBytes,
  compareKeys,
  errors,
  FerryError,
  isAddressableKey,
  md5Stream,
  normalizeKey,
  throwIfAborted,
  toByteIterable,
  toFerryError,
} from "@ferry/plugin-kit";

const MANAGED = Symbol.for("ferry.managedStorage");

export function isManagedStorage(value: unknown): value is Storage {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[MANAGED] === true;
}

/** Wrap a driver into a Storage. Passing an already managed Storage returns it unchanged. */
export function createStorage(driver: StorageDriver | Storage): Storage {
  if (isManagedStorage(driver)) return driver;
  return new ManagedStorage(driver as StorageDriver);
}

class ManagedStorage implements Storage {
  readonly [MANAGED] = true;
  readonly driver: StorageDriver;
  readonly system: string;
  readonly root: string;
  readonly capabilities: StorageDriver["capabilities"];
  #closed = false;

  constructor(driver: StorageDriver) {
    this.driver = driver;
    this.system = driver.system;
    this.root = driver.root;
    this.capabilities = Object.freeze({
      ...driver.capabilities,
      limits: Object.freeze({ ...driver.capabilities.limits }),
    });
  }

  #key(path: string, allowRoot = false): string {
    return normalizeKey(path, { allowRoot, system: this.system });
  }

  async #call<T>(path: string, signal: AbortSignal | undefined, run: () => Promise<T>): Promise<T> {
    throwIfAborted(signal, { system: this.system, path });
    try {
      return await run();
    } catch (error) {
      if (signal?.aborted && !FerryError.isInstance(error, "Aborted")) {
        throw errors.aborted(`operation aborted: ${path}`, { system: this.system, path, cause: error });
      }
      throw toFerryError(error, { system: this.system, path });
    }
  }

  #unsupported(operation: string, path?: string): never {
    throw errors.unsupported(`${this.system} storage does not support ${operation}`, {
      system: this.system,
      path,
    });
  }

  #requireWrite(operation: string, path: string): void {
    if (!this.capabilities.write) this.#unsupported(`${operation} (it is read-only)`, path);
  }

  async stat(path: string, options: SignalOptions = {}): Promise<Entry> {
    const key = this.#key(path, true);
    return this.#call(key, options.signal, () => this.driver.stat(key, options));
  }

  async exists(path: string, options: SignalOptions = {}): Promise<boolean> {
    try {
      await this.stat(path, options);
      return true;
    } catch (error) {
      if (FerryError.isInstance(error, "NotFound")) return false;
      throw error;
    }
  }

  async *list(dir: string, options: ListOptions = {}): AsyncIterable<Entry> {
    const key = this.#key(dir, true);
    const { signal, startAfter, limit } = options;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
      throw errors.invalidInput(`list limit must be a non-negative integer, got ${limit}`, {
        system: this.system,
      });
    }
    throwIfAborted(signal, { system: this.system, path: key });
    if (limit === 0) return;
    const pageMax = this.capabilities.limits.listPageMax;
    const pageSize =
      options.pageSize === undefined
        ? undefined
        : Math.max(1, Math.min(options.pageSize, pageMax ?? Infinity));
    const after = startAfter === undefined ? undefined : this.#key(startAfter, true);
    const source =
      options.recursive && this.capabilities.listRecursive === "walk"
        ? this.#walk(key, { signal, pageSize, startAfter: after })
        : this.#level(key, { recursive: options.recursive, signal, pageSize, startAfter: after });
    let count = 0;
    try {
      for await (const entry of source) {
        throwIfAborted(signal, { system: this.system, path: key });
        if (after !== undefined && compareKeys(entry.path, after) <= 0) continue;
        if (!isAddressableKey(entry.path)) {
          options.onUnaddressable?.(entry.path);
          continue;
        }
        yield entry;
        count += 1;
        if (limit !== undefined && count >= limit) return;
      }
    } catch (error) {
      throw toFerryError(error, { system: this.system, path: key });
    }
  }

  async *#level(dir: string, options: ListOptions): AsyncIterable<Entry> {
    const entries = this.driver.list(dir, options);
    if (this.capabilities.listOrder === "lexicographic") {
      yield* entries;
      return;
    }
    const all: Entry[] = [];
    for await (const entry of entries) all.push(entry);
    all.sort((a, b) => compareKeys(listingKey(a), listingKey(b)));
    yield* all;
  }

  /** Depth-first walk in UTF-8 key order: a directory `d` sorts as `d/` so `d.txt` comes before `d/x`. */
  async *#walk(dir: string, options: ListOptions): AsyncIterable<Entry> {
    const children: Entry[] = [];
    for await (const entry of this.driver.list(dir, { signal: options.signal, pageSize: options.pageSize }))
      children.push(entry);
    children.sort((a, b) => compareKeys(listingKey(a), listingKey(b)));
    const after = options.startAfter;
    for (const child of children) {
      throwIfAborted(options.signal);
      if (child.kind === "directory") {
        // Skip whole subtrees that sort entirely before startAfter.
        if (after !== undefined && compareKeys(`${child.path}/\u{10FFFF}`, after) <= 0) continue;
        yield* this.#walk(child.path, options);
      } else {
        yield child;
      }
    }
  }

  async read(path: string, options: ReadOptions = {}): Promise<Readable> {
    const key = this.#key(path);
    const range = options.range;
    if (range) {
      const values = "suffix" in range ? [range.suffix] : [range.offset, range.length ?? 0];
      if (values.some((value) => !Number.isSafeInteger(value) || value < 0)) {
        throw errors.invalidInput(
          `invalid byte range ${JSON.stringify(range)}: offsets and lengths are non-negative integers`,
          {
            system: this.system,
            path: key,
          },
        );
      }
    }
    if (range && !this.capabilities.rangeRead)
      return this.#call(key, options.signal, () => this.#emulatedRange(key, range, options));
    return this.#call(key, options.signal, () => this.driver.read(key, options));
  }

  /** For drivers that cannot fetch a range: stream the object and pass on only the requested bytes. */
  async #emulatedRange(key: string, range: ByteRange, options: ReadOptions): Promise<Readable> {
    let start: number;
    let end: number;
    if ("suffix" in range) {
      const size = (await this.driver.stat(key, options)).size;
      start = Math.max(0, size - range.suffix);
      end = size;
    } else {
      start = range.offset;
      end = range.length === undefined ? Number.POSITIVE_INFINITY : range.offset + range.length;
    }
    const { range: _range, ...rest } = options;
    const source = await this.driver.read(key, rest);
    return Readable.from(sliceStream(source, start, end), { objectMode: false });
  }

  async readBytes(path: string, options: ReadOptions = {}): Promise<Uint8Array> {
    const stream = await this.read(path, options);
    const key = this.#key(path);
    return this.#call(key, options.signal, () => collectBytes(stream));
  }

  async write(path: string, source: WriteSource, options: WriteOptions = {}): Promise<Entry> {
    const key = this.#key(path);
    this.#requireWrite("write", key);
    if (options.ifNoneMatch !== undefined && !this.capabilities.conditionalWrite) {
      this.#unsupported("conditional writes (ifNoneMatch)", key);
    }
    if (options.size !== undefined && (!Number.isSafeInteger(options.size) || options.size < 0)) {
      throw errors.invalidInput(`write size must be a non-negative integer, got ${options.size}`, {
        system: this.system,
        path: key,
      });
    }
    if (options.md5 !== undefined && !/^[0-9a-f]{32}$/i.test(options.md5)) {
      throw errors.invalidInput(`md5 must be 32 hex digits, got ${JSON.stringify(options.md5)}`, {
        system: this.system,
        path: key,
      });
    }
    const checked = this.#checkedSource(key, toByteIterable(source), options);
    return this.#call(key, options.signal, () => this.driver.write(key, checked, options));
  }

  async writeRanges(path: string, fetch: RangeFetcher, options: RangedWriteOptions): Promise<Entry> {
    const key = this.#key(path);
    this.#requireWrite("write", key);
    if (options.ifNoneMatch !== undefined && !this.capabilities.conditionalWrite) {
      this.#unsupported("conditional writes (ifNoneMatch)", key);
    }
    const invalid = (message: string) => errors.invalidInput(message, { system: this.system, path: key });
    if (!Number.isSafeInteger(options.size) || options.size < 0)
      throw invalid(`write size must be a non-negative integer, got ${options.size}`);
    if (options.md5 !== undefined && !/^[0-9a-f]{32}$/i.test(options.md5))
      throw invalid(`md5 must be 32 hex digits, got ${JSON.stringify(options.md5)}`);
    const streams = options.streams ?? DEFAULT_RANGE_STREAMS;
    const chunkSize = options.chunkSize ?? DEFAULT_RANGE_BYTES;
    if (!Number.isSafeInteger(streams) || streams < 1)
      throw invalid(`streams must be a positive integer, got ${streams}`);
    if (!Number.isSafeInteger(chunkSize) || chunkSize < 1)
      throw invalid(`chunkSize must be a positive integer, got ${chunkSize}`);
    const { onProgress, ...rest } = options;
    let total = 0;
    const checked: RangeFetcher = async (range, rangeOptions) => {
      if (
        !Number.isSafeInteger(range.offset) ||
        !Number.isSafeInteger(range.length) ||
        range.offset < 0 ||
        range.length < 1 ||
        range.offset + range.length > options.size
      ) {
        throw new Error(
          `driver asked for bytes ${range.offset}+${range.length} of a ${options.size}-byte write`,
        );
      }
      const source = await fetch(range, rangeOptions);
      return checkedRange(
        source,
        range,
        (bytes) => {
          throwIfAborted(options.signal, { system: this.system, path: key });
          total += bytes;
          onProgress?.(total);
        },
        invalid,
      );
    };
    const driverWrite = this.driver.writeRanges?.bind(this.driver);
    if (driverWrite) {
      return this.#call(key, options.signal, () =>
        driverWrite(key, checked, { ...rest, streams, chunkSize }),
      );
    }
    // No in-place writes: the ranges one after another, as one ordinary write.
    const size = options.size;
    const signal = options.signal;
    async function* inOrder(): AsyncGenerator<Uint8Array> {
      for (let offset = 0; offset < size; offset += chunkSize)
        yield* await checked({ offset, length: Math.min(chunkSize, size - offset) }, { signal });
    }
    const { streams: _streams, chunkSize: _chunkSize, onProgress: _progress, ...writeOptions } = options;
    return this.write(path, inOrder(), writeOptions);
  }

  /**
   * The source as the driver sees it: aborts, size and MD5 are checked as bytes pass, and a
   * mismatch is thrown from the iterator before it ends, so the driver aborts its write and
   * nothing appears under the final name.
   */
  async *#checkedSource(
    key: string,
    source: AsyncIterable<Uint8Array>,
    options: WriteOptions,
  ): AsyncIterable<Uint8Array> {
    // Large declared sizes are hashed on a second thread (md5.ts), beside the driver's own work.
    const hash =
      options.md5 === undefined || options.verifyMd5 === false || this.driver.checksWriteMd5?.(options)
        ? undefined
        : md5Stream(options.size);
    let total = 0;
    let digested = false;
    try {
      for await (const chunk of source) {
        throwIfAborted(options.signal, { system: this.system, path: key });
        const bytes = typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk;
        total += bytes.byteLength;
        if (options.size !== undefined && total > options.size) {
          throw errors.invalidInput(`source is longer than the declared size ${options.size}`, {
            system: this.system,
            path: key,
          });
        }
        hash?.update(bytes);
        options.onProgress?.(total);
        yield bytes;
      }
      throwIfAborted(options.signal, { system: this.system, path: key });
      if (options.size !== undefined && total !== options.size) {
        throw errors.invalidInput(`source ended after ${total} bytes, declared size was ${options.size}`, {
          system: this.system,
          path: key,
        });
      }
      if (hash && options.md5 !== undefined) {
        digested = true;
        const actual = await hash.digest("hex");
        if (actual !== options.md5.toLowerCase()) {
          // Bytes that do not hash to the MD5 the source declared were changed on the way (or the source
          // changed since it was listed): another attempt reads them again, so a transfer may retry.
          throw errors.integrity(`MD5 mismatch: expected ${options.md5.toLowerCase()}, got ${actual}`, {
            system: this.system,
            path: key,
            retryable: true,
          });
        }
      }
    } finally {
      if (!digested) hash?.drop();
    }
  }

  async delete(paths: string | readonly string[], options: SignalOptions = {}): Promise<void> {
    const keys = (typeof paths === "string" ? [paths] : paths).map((path) => this.#key(path));
    if (keys.length === 0) return;
    this.#requireWrite("delete", keys[0]!);
    const batch = this.capabilities.limits.deleteBatchMax ?? 1000;
    for (let index = 0; index < keys.length; index += batch) {
      const slice = keys.slice(index, index + batch);
      await this.#call(slice[0]!, options.signal, () => this.driver.delete(slice, options));
    }
  }

  async deleteDirectory(path: string, options: SignalOptions = {}): Promise<void> {
    const key = this.#key(path, true);
    this.#requireWrite("deleteDirectory", key);
    if (this.driver.deleteDirectory) {
      await this.#call(key, options.signal, () => this.driver.deleteDirectory!(key, options));
      return;
    }
    const batch = this.capabilities.limits.deleteBatchMax ?? 1000;
    let pending: string[] = [];
    for await (const entry of this.list(key, { recursive: true, signal: options.signal })) {
      pending.push(entry.path);
      if (pending.length >= batch) {
        await this.delete(pending, options);
        pending = [];
      }
    }
    if (pending.length > 0) await this.delete(pending, options);
  }

  async copy(from: string, to: string, options: CopyOptions = {}): Promise<Entry> {
    const source = this.#key(from);
    const target = this.#key(to);
    const mode = this.capabilities.copy;
    if (mode === false) this.#unsupported("copy", source);
    this.#requireWrite("copy", target);
    if (options.ifNoneMatch !== undefined && !this.capabilities.conditionalWrite)
      this.#unsupported("conditional copy", target);
    if (this.driver.copy)
      return this.#call(source, options.signal, () => this.driver.copy!(source, target, options));
    // Declared emulated without a driver method: stream through the client.
    const stat = await this.stat(source, options);
    const stream = await this.read(source, options);
    return this.write(target, stream, {
      size: stat.size,
      ...options,
      ...(stat.contentType ? { contentType: stat.contentType } : {}),
    });
  }

  async move(from: string, to: string, options: CopyOptions = {}): Promise<Entry> {
    const source = this.#key(from);
    const target = this.#key(to);
    const mode = this.capabilities.move;
    if (mode === false) this.#unsupported("move", source);
    this.#requireWrite("move", target);
    if (this.driver.move)
      return this.#call(source, options.signal, () => this.driver.move!(source, target, options));
    if (source === target) return this.stat(source, options);
    const entry = await this.copy(source, target, options);
    await this.delete([source], options);
    return entry;
  }

  async mkdir(path: string, options: SignalOptions = {}): Promise<void> {
    const key = this.#key(path, true);
    if (this.capabilities.mkdir === false || !this.driver.mkdir) this.#unsupported("mkdir", key);
    this.#requireWrite("mkdir", key);
    return this.#call(key, options.signal, () => this.driver.mkdir!(key, options));
  }

  async createRoot(options: SignalOptions = {}): Promise<boolean> {
    if (!this.driver.createRoot) return false;
    this.#requireWrite("mkdir", "");
    return this.#call("", options.signal, () => this.driver.createRoot!(options));
  }

  async checksum(path: string, algorithm: HashAlgorithm, options: SignalOptions = {}): Promise<string> {
    const key = this.#key(path);
    if (
      !this.capabilities.checksum ||
      !this.driver.checksum ||
      !this.capabilities.hashes.includes(algorithm)
    ) {
      this.#unsupported(`checksum ${algorithm}`, key);
    }
    return this.#call(key, options.signal, () => this.driver.checksum!(key, algorithm, options));
  }

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    if (!this.capabilities.exec || !this.driver.exec) this.#unsupported("exec");
    return this.#call(this.root, options.signal, () => this.driver.exec!(command, options));
  }

  async copyBatch(
    toDir: string,
    files: readonly BatchCopyFile[],
    options: BatchCopyOptions = {},
  ): Promise<boolean[]> {
    const key = this.#key(toDir, true);
    if (!this.capabilities.batchCopy || !this.driver.copyBatch) this.#unsupported("copyBatch", key);
    this.#requireWrite("copyBatch", key);
    const sources = files.map((file) => ({ ...file, from: this.#key(file.from) }));
    return this.#call(key, options.signal, () => this.driver.copyBatch!(key, sources, options));
  }

  localPath(path: string): string {
    const key = this.#key(path, true);
    if (!this.capabilities.localPaths || !this.driver.localPath) this.#unsupported("localPath", key);
    return this.driver.localPath(key);
  }

  async presign(path: string, options: PresignOptions = {}): Promise<string> {
    const key = this.#key(path);
    if (!this.capabilities.presign || !this.driver.presign) this.#unsupported("presign", key);
    return this.#call(key, undefined, () => this.driver.presign!(key, options));
  }

  async cleanup(prefix: string, options: CleanupOptions = {}): Promise<CleanupResult> {
    const key = this.#key(prefix, true);
    if (!this.capabilities.cleanup || !this.driver.cleanup) this.#unsupported("cleanup", key);
    if (!options.dryRun) this.#requireWrite("cleanup", key);
    const olderThanMs = options.olderThanMs;
    if (olderThanMs !== undefined && !(Number.isFinite(olderThanMs) && olderThanMs >= 0)) {
      throw errors.invalidInput(
        `olderThanMs must be a non-negative number of milliseconds, not ${olderThanMs}`,
        {
          system: this.system,
          path: key,
        },
      );
    }
    return this.#call(key, options.signal, () => this.driver.cleanup!(key, options));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.driver.close?.();
  }
}

/** `writeRanges` defaults: ranges fetched at once, and bytes per range. */
const DEFAULT_RANGE_STREAMS = 4;
const DEFAULT_RANGE_BYTES = 16 * 1024 * 1024;

/** One fetched range as a write sees it: exactly `range.length` bytes, or InvalidInput. */
async function* checkedRange(
  source: AsyncIterable<Uint8Array>,
  range: { offset: number; length: number },
  onBytes: (bytes: number) => void,
  invalid: (message: string) => Error,
): AsyncGenerator<Uint8Array> {
  let got = 0;
  for await (const chunk of source) {
    got += chunk.byteLength;
    if (got > range.length)
      throw invalid(`the range at offset ${range.offset} yielded more than its ${range.length} bytes`);
    onBytes(chunk.byteLength);
    yield chunk;
  }
  if (got !== range.length)
    throw invalid(`the range at offset ${range.offset} ended after ${got} of its ${range.length} bytes`);
}

/** Where an entry sorts: a directory `d` as `d/`, so `d.txt` comes before it, as object stores list. */
function listingKey(entry: Entry): string {
  return entry.kind === "directory" ? `${entry.path}/` : entry.path;
}

/** Bytes [start, end) of a stream; stops reading (and destroys the source) once `end` is reached. */
async function* sliceStream(source: Readable, start: number, end: number): AsyncGenerator<Uint8Array> {
  let position = 0;
  try {
    for await (const chunk of source) {
      const bytes = chunk as Uint8Array;
      const chunkEnd = position + bytes.byteLength;
      if (chunkEnd > start && position < end) {
        yield bytes.subarray(Math.max(0, start - position), Math.min(bytes.byteLength, end - position));
      }
      position = chunkEnd;
      if (position >= end) break;
    }
  } finally {
    source.destroy();
  }
}
