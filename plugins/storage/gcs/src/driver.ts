/**
 * The GCS StorageDriver over @google-cloud/storage: a bucket is the root, keys are object names,
 * directories are name prefixes (plus `dir/` marker objects when asked for). Reads, writes and
 * listings are in read.ts, write.ts and list.ts.
 */
import type { Readable } from "node:stream";
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
} from "@ferry/plugin-kit";
import type { Bucket, File } from "@google-cloud/storage";
import type { GcsClient } from "./client.ts";
import { type ErrorContext, isNotFound, mapGcsError, statusOfError } from "./errors.ts";
import {
  base64ToHex,
  directoryEntry,
  fileEntry,
  type ListPage,
  listEntries,
  listPage,
  MAX_PAGE,
  type ObjectResource,
} from "./list.ts";
import type { ResolvedGcsOptions } from "./options.ts";
import { readObject } from "./read.ts";
import { contentTypeFor, upload } from "./write.ts";

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
  readonly #client: GcsClient;
  /** Tells the client this driver is done with it (idempotent). */
  readonly #release: () => Promise<void>;
  readonly #options: ResolvedGcsOptions;
  /** Present only with `atomicMove`; without it core moves by copy + delete. */
  readonly move?: (from: string, to: string, options?: CopyOptions) => Promise<Entry>;

  constructor(bucket: string, capabilities: Capabilities, client: GcsClient, options: ResolvedGcsOptions) {
    this.#bucketName = bucket;
    this.root = `gs://${bucket}/`;
    this.capabilities = capabilities;
    this.#client = client;
    this.#release = client.open();
    this.#options = options;
    if (options.atomicMove) this.move = (from, to, moveOptions) => this.#atomicMove(from, to, moveOptions);
  }

  async #bucket(): Promise<Bucket> {
    return (await this.#client.client()).bucket(this.#bucketName);
  }

  async #file(path: string): Promise<File> {
    return (await this.#bucket()).file(path);
  }

  #context(operation: string, path?: string): ErrorContext {
    return {
      bucket: this.#bucketName,
      path,
      operation,
      secrets: this.#client.secrets(),
      timeoutMs: this.#client.idleTimeoutMs(),
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
    return listPage(await this.#bucket(), query);
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

  list(dir: string, options: ListOptions = {}): AsyncIterable<Entry> {
    return listEntries((query) => this.#run("list", dir, () => this.#listPage(query)), dir, options);
  }

  async read(path: string, options: ReadOptions = {}): Promise<Readable> {
    return readObject(await this.#file(path), options, {
      context: this.#context("read", path),
      timeoutMs: () => this.#client.idleTimeoutMs(),
      host: this.#client.host(),
      stat: () => this.stat(path, options),
    });
  }

  async write(path: string, source: AsyncIterable<Uint8Array>, options: WriteOptions = {}): Promise<Entry> {
    checkWritableName(this.#bucketName, path);
    const contentType = contentTypeFor(path, options, this.#options.contentTypeDetection);
    return this.#run("write", path, async () => {
      const file = await this.#file(path);
      const resource = await upload(await this.#client.uploads(), file, source, options, {
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

  /** Releases this driver's share of the plugin's client (the last one ends the upload connection). */
  async close(): Promise<void> {
    await this.#release();
  }
}
