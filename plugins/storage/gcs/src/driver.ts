/**
 * The GCS StorageDriver over @google-cloud/storage: a bucket is the root, keys are object names,
 * directories are name prefixes (plus `dir/` marker objects when asked for).
 */
import type { EventEmitter } from "node:events";
import { PassThrough, type Readable } from "node:stream";
import {
  type Capabilities,
  type CopyOptions,
  type Entry,
  errors,
  forEachConcurrent,
  type HashAlgorithm,
  type ListOptions,
  type PresignOptions,
  type ReadOptions,
  type SignalOptions,
  type StorageDriver,
  type WriteOptions,
  watchReadable,
} from "@ferry/core";
import type { Bucket, File, Storage } from "@google-cloud/storage";
import mime from "mime";
import { type ErrorContext, isNotFound, mapGcsError, statusOfError } from "./errors.ts";
import { base64ToHex, directoryEntry, fileEntry, type ObjectResource } from "./list.ts";
import type { ResolvedGcsOptions } from "./options.ts";
import type { UploadConnection } from "./upload/request.ts";
import { upload } from "./write.ts";

/** Lazily created client shared by every bucket of one plugin instance. */
export interface ClientHandle {
  client(): Promise<Storage>;
  /** Where ferry's own upload requests go, over connections with the idle timeout. */
  uploads(): Promise<UploadConnection>;
  /** Values never to appear in messages. */
  secrets(): readonly string[];
  /** The idle timeout in ms (0: none). */
  idleTimeoutMs?(): number;
  /** `host:port` of the API endpoint, for the stall error. */
  host?(): string;
}

interface ListPage {
  items?: ObjectResource[];
  prefixes?: string[];
  nextPageToken?: string;
}

const MAX_PAGE = 1000;
/** Downloads that got no answer at all are asked again this many times (the client's own default). */
const UNANSWERED_READ_RETRIES = 3;
/** V4 signed URLs live at most 7 days. */
const MAX_SIGNED_SECONDS = 7 * 24 * 3600;

/** GCS refuses CR and LF in object names; say so before sending anything. */
function checkWritableName(bucket: string, path: string): void {
  if (/[\r\n]/.test(path)) {
    throw errors.invalidInput(
      `gs://${bucket}/${JSON.stringify(path).slice(1, -1)}: GCS object names cannot contain carriage returns or line feeds`,
      { system: "gs", path },
    );
  }
}

export class GcsDriver implements StorageDriver {
  readonly system = "gs";
  readonly root: string;
  readonly capabilities: Capabilities;
  readonly #bucketName: string;
  readonly #handle: ClientHandle;
  readonly #options: ResolvedGcsOptions;
  /** Present only with `atomicMove`; without it core moves by copy + delete. */
  readonly move?: (from: string, to: string, options?: CopyOptions) => Promise<Entry>;

  constructor(bucket: string, capabilities: Capabilities, handle: ClientHandle, options: ResolvedGcsOptions) {
    this.#bucketName = bucket;
    this.root = `gs://${bucket}/`;
    this.capabilities = capabilities;
    this.#handle = handle;
    this.#options = options;
    if (options.atomicMove) this.move = (from, to, moveOptions) => this.#atomicMove(from, to, moveOptions);
  }

  async #bucket(): Promise<Bucket> {
    return (await this.#handle.client()).bucket(this.#bucketName);
  }

  async #file(path: string): Promise<File> {
    return (await this.#bucket()).file(path);
  }

  #context(operation: string, path?: string): ErrorContext {
    return {
      bucket: this.#bucketName,
      path,
      operation,
      secrets: this.#handle.secrets(),
      timeoutMs: this.#handle.idleTimeoutMs?.(),
    };
  }

  async #run<T>(operation: string, path: string | undefined, action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (error) {
      throw mapGcsError(error, this.#context(operation, path));
    }
  }

  /** One page of objects.list, raw (items and prefixes as the API returns them). */
  async #listPage(query: Record<string, unknown>): Promise<ListPage> {
    const bucket = await this.#bucket();
    const [, , response] = await bucket.getFiles({ ...query, autoPaginate: false });
    return (response ?? {}) as ListPage;
  }

  async stat(path: string, _options?: SignalOptions): Promise<Entry> {
    return this.#run("stat", path, async () => {
      if (path === "") {
        await (await this.#bucket()).getMetadata();
        return directoryEntry("");
      }
      try {
        const [metadata] = await (await this.#file(path)).getMetadata();
        return fileEntry(path, metadata as ObjectResource);
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      // A virtual directory: anything at all below `path/` (a marker counts).
      const page = await this.#listPage({ prefix: `${path}/`, maxResults: 1 });
      if ((page.items?.length ?? 0) > 0 || (page.prefixes?.length ?? 0) > 0) return directoryEntry(path);
      throw errors.notFound(`stat gs://${this.#bucketName}/${path}: no such object or directory`, {
        system: "gs",
        path,
      });
    });
  }

  async *list(dir: string, options: ListOptions = {}): AsyncIterable<Entry> {
    const prefix = dir === "" ? "" : `${dir}/`;
    const recursive = options.recursive ?? false;
    const query: Record<string, unknown> = {
      prefix,
      maxResults: Math.min(options.pageSize ?? MAX_PAGE, MAX_PAGE),
      ...(recursive ? {} : { delimiter: "/" }),
      // startOffset is inclusive and startAfter exclusive: core drops the one entry equal to it.
      ...(options.startAfter !== undefined && options.startAfter > prefix
        ? { startOffset: options.startAfter }
        : {}),
    };
    let pageToken: string | undefined;
    do {
      const page = await this.#run("list", dir, () =>
        this.#listPage({ ...query, ...(pageToken ? { pageToken } : {}) }),
      );
      yield* this.#pageEntries(page, prefix, recursive);
      pageToken = page.nextPageToken;
    } while (pageToken);
  }

  /** Items and prefixes of one page merged in name order (a prefix `d/` sorts as `d/`). */
  *#pageEntries(page: ListPage, prefix: string, recursive: boolean): Iterable<Entry> {
    const files = (page.items ?? []).filter(
      (item) => item.name !== undefined && item.name !== prefix && !item.name.endsWith("/"),
    );
    // Names that cannot be keys (`a/../b`, `c//d`) go through too: core reports them (onUnaddressable).
    const dirs = recursive ? [] : (page.prefixes ?? []);
    let fileIndex = 0;
    let dirIndex = 0;
    while (fileIndex < files.length || dirIndex < dirs.length) {
      const file = files[fileIndex];
      const dirName = dirs[dirIndex];
      if (
        file &&
        (dirName === undefined || Buffer.compare(Buffer.from(file.name!), Buffer.from(dirName)) < 0)
      ) {
        yield fileEntry(file.name!, file);
        fileIndex += 1;
      } else if (dirName !== undefined) {
        yield directoryEntry(dirName.slice(0, -1));
        dirIndex += 1;
      }
    }
  }

  async read(path: string, options: ReadOptions = {}): Promise<Readable> {
    const range = options.range;
    const file = await this.#file(path);
    const empty = range !== undefined && ("suffix" in range ? range.suffix === 0 : range.length === 0);
    if (empty) {
      await this.stat(path, options);
      return emptyStream();
    }
    const span =
      range === undefined
        ? {}
        : "suffix" in range
          ? { end: -range.suffix }
          : {
              start: range.offset,
              ...(range.length === undefined ? {} : { end: range.offset + range.length - 1 }),
            };
    noClientRetry(file);
    for (let attempt = 0; ; attempt += 1) {
      const source = file.createReadStream({
        ...span,
        ...(range === undefined ? { validation: "crc32c" as const } : {}),
      });
      try {
        await responded(source);
        return this.#forward(source, path, options.signal);
      } catch (error) {
        source.destroy();
        // 416: the offset is at or past the end, which reads nothing.
        if (statusOfError(error) === 416) return emptyStream();
        const mapped = mapGcsError(error, this.#context("read", path));
        // No answer at all (a kept-alive socket the server had closed, a reset before the headers):
        // nothing was read yet, so ask again here, as the client would have.
        const unanswered = statusOfError(error) === undefined && mapped.code === "Transient";
        if (!unanswered || attempt >= UNANSWERED_READ_RETRIES || options.signal?.aborted) throw mapped;
      }
    }
  }

  /**
   * The download as the caller sees it: back-pressure through `pipe`, client errors (a CRC32C
   * mismatch among them) mapped to ferry codes, and the download released when the caller destroys
   * the stream or aborts. (`pipeline` would destroy the output with the raw client error first.)
   */
  #forward(source: Readable, path: string, signal: AbortSignal | undefined): Readable {
    const out = new PassThrough();
    source.once("error", (error) =>
      out.destroy(mapGcsError(error, { ...this.#context("read", path), answered: true })),
    );
    out.once("close", () => {
      if (!source.destroyed) source.destroy();
    });
    if (signal) {
      const onAbort = () =>
        out.destroy(errors.aborted(`read gs://${this.#bucketName}/${path}: aborted`, { system: "gs", path }));
      signal.addEventListener("abort", onAbort, { once: true });
      out.once("close", () => signal.removeEventListener("abort", onAbort));
    }
    // The client's own timeout does not reach its download streams: watch the bytes arriving.
    const timeoutMs = this.#handle.idleTimeoutMs;
    if (timeoutMs) {
      watchReadable(source, {
        host: this.#handle.host?.() ?? "the GCS endpoint",
        timeoutMs,
        busy: () => true,
        system: "gs",
      });
    }
    source.pipe(out);
    return out;
  }

  async write(path: string, source: AsyncIterable<Uint8Array>, options: WriteOptions = {}): Promise<Entry> {
    checkWritableName(this.#bucketName, path);
    const contentType =
      options.contentType ??
      (this.#options.contentTypeDetection ? (mime.getType(path) ?? undefined) : undefined);
    return this.#run("write", path, async () => {
      const file = await this.#file(path);
      const resource = await upload(await this.#handle.uploads(), file, source, options, {
        chunkSize: this.#options.chunkSize,
        resumableThreshold: this.#options.resumableThreshold,
        contentType,
      });
      return fileEntry(path, resource);
    });
  }

  async delete(paths: readonly string[], _options?: SignalOptions): Promise<void> {
    const bucket = await this.#bucket();
    // The JSON API deletes one object per request; a batch is sent concurrently.
    await forEachConcurrent(paths, this.#options.deleteConcurrency, (path) =>
      this.#run("delete", path, async () => {
        await bucket.file(path).delete({ ignoreNotFound: true });
      }),
    );
  }

  /** Every object below `path/`, markers included (core's fallback lists files only and would leave markers). */
  async deleteDirectory(path: string, options: SignalOptions = {}): Promise<void> {
    const prefix = path === "" ? "" : `${path}/`;
    let pageToken: string | undefined;
    do {
      const page = await this.#run("deleteDirectory", path, () =>
        this.#listPage({ prefix, maxResults: MAX_PAGE, ...(pageToken ? { pageToken } : {}) }),
      );
      options.signal?.throwIfAborted();
      await this.delete((page.items ?? []).map((item) => item.name!).filter(Boolean));
      pageToken = page.nextPageToken;
    } while (pageToken);
  }

  /** Server-side rewrite, following the rewrite token until done: no object bytes pass through ferry. */
  async copy(from: string, to: string, options: CopyOptions = {}): Promise<Entry> {
    checkWritableName(this.#bucketName, to);
    return this.#run("copy", from, async () => {
      const bucket = await this.#bucket();
      const [, response] = await bucket
        .file(from)
        .copy(
          bucket.file(to),
          options.ifNoneMatch === "*" ? { preconditionOpts: { ifGenerationMatch: 0 } } : {},
        );
      const resource = (response as { resource?: ObjectResource } | undefined)?.resource;
      if (resource) return fileEntry(to, resource);
      const [metadata] = await bucket.file(to).getMetadata();
      return fileEntry(to, metadata as ObjectResource);
    });
  }

  /** objects.move within the bucket: atomic, nothing copied. Only with `atomicMove`. */
  async #atomicMove(from: string, to: string, options: CopyOptions = {}): Promise<Entry> {
    checkWritableName(this.#bucketName, to);
    return this.#run("move", from, async () => {
      const bucket = await this.#bucket();
      const precondition = options.ifNoneMatch === "*" ? { preconditionOpts: { ifGenerationMatch: 0 } } : {};
      await bucket.file(from).moveFileAtomic(to, precondition);
      const [metadata] = await bucket.file(to).getMetadata();
      return fileEntry(to, metadata as ObjectResource);
    });
  }

  /** The bucket, created when it does not exist (in the client's project, the service's default location). */
  async createRoot(_options?: SignalOptions): Promise<boolean> {
    return this.#run("create bucket", undefined, async () => {
      const bucket = await this.#bucket();
      const [exists] = await bucket.exists();
      if (exists) return false;
      try {
        await bucket.create();
        return true;
      } catch (error) {
        // Created by someone else in between: it exists, which is what was asked.
        if (statusOfError(error) === 409 && (await bucket.exists())[0]) return false;
        throw error;
      }
    });
  }

  async mkdir(path: string, _options?: SignalOptions): Promise<void> {
    if (path === "" || !this.#options.directoryMarkers) return;
    checkWritableName(this.#bucketName, path);
    await this.#run("mkdir", path, async () => {
      try {
        // Create-only: a marker that exists already is left as it is.
        await (await this.#file(`${path}/`)).save("", {
          resumable: false,
          preconditionOpts: { ifGenerationMatch: 0 },
        });
      } catch (error) {
        if (statusOfError(error) !== 412) throw error;
      }
    });
  }

  async checksum(path: string, algorithm: HashAlgorithm, _options?: SignalOptions): Promise<string> {
    return this.#run("checksum", path, async () => {
      const [metadata] = await (await this.#file(path)).getMetadata();
      const resource = metadata as ObjectResource;
      const value =
        algorithm === "md5" ? resource.md5Hash : algorithm === "crc32c" ? resource.crc32c : undefined;
      if (value === undefined) {
        // Composite objects (compose) have a CRC32C but no MD5.
        throw errors.unsupported(
          `gs://${this.#bucketName}/${path} has no ${algorithm} (composite objects keep only crc32c)`,
          {
            system: "gs",
            path,
          },
        );
      }
      return base64ToHex(value)!;
    });
  }

  async presign(path: string, options: PresignOptions = {}): Promise<string> {
    const method = options.method ?? "GET";
    const action = ({ GET: "read", PUT: "write", DELETE: "delete" } as const)[
      method as "GET" | "PUT" | "DELETE"
    ];
    if (!action)
      throw errors.unsupported(`gs presign supports GET, PUT and DELETE, not ${method}`, {
        system: "gs",
        path,
      });
    const seconds = options.expiresIn ?? 3600;
    if (!Number.isInteger(seconds) || seconds <= 0 || seconds > MAX_SIGNED_SECONDS)
      throw errors.invalidInput(
        `presign expiresIn must be 1..${MAX_SIGNED_SECONDS} seconds, got ${seconds}`,
        { system: "gs", path },
      );
    return this.#run("presign", path, async () => {
      const [url] = await (await this.#file(path)).getSignedUrl({
        version: "v4",
        action,
        expires: Date.now() + seconds * 1000,
      });
      return url;
    });
  }
}

type RequestInterceptor = NonNullable<File["interceptors"][number]["request"]>;

/**
 * Downloads are not retried inside the client: its retry of a streamed GET that got an answer (a
 * 503, a 429) destroys the request stream while teeny-request still pipes the answer into it, which
 * throws ERR_STREAM_UNABLE_TO_PIPE where nothing can catch it and ends the process. The answer
 * surfaces as a typed error instead (Transient for a 503: ferry's transfer engine retries the file);
 * `read` asks again itself when there was no answer at all.
 */
function noClientRetry(file: File): void {
  // The client reads `maxRetries` off the request options; its typings do not list it.
  const request = (reqOpts: object) => ({ ...reqOpts, maxRetries: 0 });
  file.interceptors.push({ request: request as unknown as RequestInterceptor });
}

function emptyStream(): Readable {
  const stream = new PassThrough();
  stream.end();
  return stream;
}

const RESPONSE_LISTENERS = 32;

/** Start a download and wait for its status: errors (404…) surface here, not later in the stream. */
function responded(stream: Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: unknown) => reject(error);
    stream.once("error", onError);
    stream.once("response", (response: { statusCode?: number; status?: number } & Partial<EventEmitter>) => {
      // The response is the HTTP body stream itself, which the client's layers pipe on three times
      // over: 11 listeners, a fixed number and no leak, but over Node's default of 10 it prints a
      // MaxListenersExceededWarning on every download of 64 KiB or more.
      response.setMaxListeners?.(RESPONSE_LISTENERS);
      const status = response.statusCode ?? response.status ?? 200;
      if (status >= 200 && status < 300) {
        stream.off("error", onError);
        resolve();
      }
      // Otherwise the client reads the error body and destroys the stream: onError rejects.
    });
    stream.read(0);
  });
}
