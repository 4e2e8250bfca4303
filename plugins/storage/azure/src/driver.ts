/** One container as a ferry StorageDriver. Keys arrive validated and normalised by core. */
import type { Readable } from "node:stream";
import type { ContainerClient } from "@azure/storage-blob";
import type {
  Capabilities,
  CleanupOptions,
  CleanupResult,
  CopyOptions,
  Entry,
  HashAlgorithm,
  ListOptions,
  PresignOptions,
  ReadOptions,
  SignalOptions,
  StorageDriver,
  WriteOptions,
} from "@ferry/plugin-kit";
import { errors, FerryError } from "@ferry/plugin-kit";
import { contentTypeOf } from "@ferry/plugin-kit/content-type";
import { DELETE_BATCH_MAX } from "./capabilities.ts";
import { cleanupContainer } from "./cleanup.ts";
import type { BlobSdk, ServiceHandle } from "./client.ts";
import { mapAzureError } from "./errors.ts";
import { entryOfProperties, listEntries, signalOption, unquote } from "./list.ts";
import type { ResolvedAzureOptions } from "./options.ts";
import { type BlobReader, readBlob } from "./read.ts";
import { uploadBlob } from "./write.ts";

/**
 * The service reads `\\` in a blob name as `/` (`back\\slash.txt` is stored as `back/slash.txt`), so such a
 * name cannot round-trip: writes are refused, and reads, stats and deletes never touch the `/` blob.
 */
function holdsBackslash(path: string): boolean {
  return path.includes("\\");
}

function refuseBackslash(container: string, path: string): void {
  if (holdsBackslash(path)) {
    throw errors.invalidInput(
      `az://${container}/${path}: Azure Blob Storage turns a backslash into "/", so this name cannot be stored as it is; rename the file`,
      { system: "az", path },
    );
  }
}

function noSuchBlob(container: string, path: string): FerryError {
  return errors.notFound(`az://${container}/${path}: no such blob (Azure names cannot hold a backslash)`, {
    system: "az",
    path,
  });
}

export class AzureDriver implements StorageDriver {
  readonly system = "az";
  readonly root: string;
  readonly capabilities: Capabilities;
  readonly container: string;
  readonly #handle: ServiceHandle;
  readonly #options: ResolvedAzureOptions;
  readonly #reader: BlobReader;

  constructor(
    container: string,
    capabilities: Capabilities,
    handle: ServiceHandle,
    options: ResolvedAzureOptions,
  ) {
    this.container = container;
    this.root = `az://${container}`;
    this.capabilities = capabilities;
    this.#handle = handle;
    this.#options = options;
    this.#reader = {
      handle,
      run: (operation, path, body) => this.#run(operation, path, body),
      stat: (path, options) => this.stat(path, options),
      mapError: (error, path, callerAborted) =>
        mapAzureError(error, {
          operation: "read",
          path,
          container,
          secrets: handle.secrets(),
          callerAborted,
        }),
    };
  }

  async #run<T>(
    operation: string,
    path: string | undefined,
    body: (container: ContainerClient, sdk: BlobSdk) => Promise<T>,
  ): Promise<T> {
    const { service, sdk } = await this.#handle.service();
    try {
      return await body(service.getContainerClient(this.container), sdk);
    } catch (error) {
      throw mapAzureError(error, {
        operation,
        path,
        container: this.container,
        secrets: this.#handle.secrets(),
      });
    }
  }

  async stat(path: string, options: SignalOptions = {}): Promise<Entry> {
    if (holdsBackslash(path)) throw noSuchBlob(this.container, path);
    if (path === "") {
      const exists = await this.#run("stat", undefined, (container) =>
        container.exists(signalOption(options.signal)),
      );
      if (!exists) throw errors.notFound(`container "${this.container}" does not exist`, { system: "az" });
      return { path: "", kind: "directory", size: 0 };
    }
    try {
      const properties = await this.#run("stat", path, (container) =>
        container.getBlockBlobClient(path).getProperties(signalOption(options.signal)),
      );
      return entryOfProperties(path, properties);
    } catch (error) {
      // Not a blob: maybe a directory. (A missing container is reported by the listing below.)
      if (!FerryError.isInstance(error, "NotFound")) throw error;
    }
    const page = await this.#run("stat", path, async (container) => {
      const pages = container.listBlobsFlat({ prefix: `${path}/` }).byPage({ maxPageSize: 1 });
      return (await pages.next()).value;
    });
    if ((page?.segment.blobItems.length ?? 0) > 0) return { path, kind: "directory", size: 0 };
    throw errors.notFound(`stat az://${this.container}/${path}: no such blob or directory`, {
      system: "az",
      path,
    });
  }

  async *list(dir: string, options: ListOptions = {}): AsyncIterable<Entry> {
    if (holdsBackslash(dir)) return;
    const { service } = await this.#handle.service();
    yield* listEntries(service.getContainerClient(this.container), dir, options, (error) =>
      mapAzureError(error, {
        operation: "list",
        path: dir,
        container: this.container,
        secrets: this.#handle.secrets(),
      }),
    );
  }

  async read(path: string, options: ReadOptions = {}): Promise<Readable> {
    if (holdsBackslash(path)) throw noSuchBlob(this.container, path);
    return readBlob(this.#reader, path, options);
  }

  async write(path: string, source: AsyncIterable<Uint8Array>, options: WriteOptions = {}): Promise<Entry> {
    refuseBackslash(this.container, path);
    const contentType =
      options.contentType ?? (this.#options.contentTypeDetection ? contentTypeOf(path) : undefined);
    const result = await this.#run("write", path, (container) =>
      uploadBlob(
        {
          blob: container.getBlockBlobClient(path),
          name: `az://${this.container}/${path}`,
          path,
          contentType,
          ifNoneMatch: options.ifNoneMatch,
          size: options.size,
          blockSize: options.partSize ?? this.#options.blockSize,
          concurrency: options.concurrency ?? this.#options.concurrency,
          md5: options.md5?.toLowerCase(),
          signal: options.signal,
        },
        source,
      ),
    );
    return {
      path,
      kind: "file",
      size: result.size,
      mtime: result.lastModified,
      etag: unquote(result.etag),
      md5: result.md5,
      contentType: contentType ?? "application/octet-stream",
    };
  }

  /**
   * One Blob Batch request per call (core splits at 256). A missing blob is not an error. Where the
   * server has no batch endpoint, the blobs are deleted one by one, in parallel.
   */
  async delete(requested: readonly string[], options: SignalOptions = {}): Promise<void> {
    // A backslash name is never stored; deleting it must not delete the blob with "/" in its place.
    const paths = requested.filter((path) => !holdsBackslash(path));
    if (paths.length === 0) return;
    await this.#run("delete", paths[0], async (container) => {
      const clients = paths.map((path) => container.getBlobClient(path));
      try {
        const response = await container
          .getBlobBatchClient()
          .deleteBlobs(clients, signalOption(options.signal));
        const failed = response.subResponses.filter((sub) => sub.status !== 202 && sub.status !== 404);
        if (failed.length > 0) {
          const first = failed[0]!;
          throw Object.assign(
            new Error(
              `${failed.length} of ${paths.length} blobs were not deleted, first: ${first.errorCode ?? first.status}`,
            ),
            {
              statusCode: first.status,
              details: { errorCode: first.errorCode },
            },
          );
        }
      } catch (error) {
        if (!isBatchUnsupported(error)) throw error;
        await Promise.all(clients.map((client) => client.deleteIfExists(signalOption(options.signal))));
      }
    });
  }

  /** Blobs below `prefix` holding only uncommitted blocks of an abandoned upload (cleanup.ts). */
  cleanup(prefix: string, options: CleanupOptions): Promise<CleanupResult> {
    return this.#run("cleanup", prefix, (container) => cleanupContainer(container, prefix, options));
  }

  /** Every blob below the prefix, directory markers included (core's fallback lists files only). */
  async deleteDirectory(path: string, options: SignalOptions = {}): Promise<void> {
    if (holdsBackslash(path)) return;
    const prefix = path === "" ? "" : `${path}/`;
    const names: string[] = [];
    await this.#run("deleteDirectory", path, async (container) => {
      for await (const blob of container.listBlobsFlat({ prefix, ...signalOption(options.signal) }))
        names.push(blob.name);
    });
    for (let index = 0; index < names.length; index += DELETE_BATCH_MAX) {
      await this.delete(names.slice(index, index + DELETE_BATCH_MAX), options);
    }
  }

  /** Copy Blob within the account: the service copies, no bytes pass through the client. */
  async copy(from: string, to: string, options: CopyOptions = {}): Promise<Entry> {
    refuseBackslash(this.container, to);
    const source = await this.stat(from, options);
    if (source.kind === "directory") {
      throw errors.invalidInput(`copy az://${this.container}/${from}: it is a directory; copy its files`, {
        system: "az",
        path: from,
      });
    }
    await this.#run("copy", to, async (container) => {
      const poller = await container
        .getBlockBlobClient(to)
        .beginCopyFromURL(container.getBlobClient(from).url, {
          ...(options.ifNoneMatch ? { conditions: { ifNoneMatch: options.ifNoneMatch } } : {}),
          ...(source.etag ? { sourceConditions: { ifMatch: `"${source.etag}"` } } : {}),
          ...signalOption(options.signal),
        });
      const result = await poller.pollUntilDone();
      if (result.copyStatus !== "success") {
        throw Object.assign(new Error(`copy ended with status ${result.copyStatus}`), {
          details: { errorCode: "CopyFailed" },
        });
      }
    });
    return this.stat(to, options);
  }

  /** The container, created when it does not exist. */
  async createRoot(options: SignalOptions = {}): Promise<boolean> {
    return this.#run("create container", undefined, async (container) => {
      const response = await container.createIfNotExists(signalOption(options.signal));
      return response.succeeded;
    });
  }

  /** Like `mkdir -p`: a marker for the directory and each parent, with `hdi_isfolder=true`. */
  async mkdir(path: string, options: SignalOptions = {}): Promise<void> {
    refuseBackslash(this.container, path);
    // Core only calls this when mkdir is declared (directoryMarkers, or a capability override).
    if (path === "") return;
    const segments = path.split("/");
    await this.#run("mkdir", path, (container) =>
      Promise.all(
        segments.map((_, index) =>
          container
            .getBlockBlobClient(`${segments.slice(0, index + 1).join("/")}/`)
            .upload(new Uint8Array(0), 0, {
              metadata: { hdi_isfolder: "true" },
              ...signalOption(options.signal),
            }),
        ),
      ),
    );
  }

  async checksum(path: string, algorithm: HashAlgorithm, options: SignalOptions = {}): Promise<string> {
    const entry = await this.stat(path, options);
    if (algorithm !== "md5" || entry.kind !== "file") {
      throw errors.unsupported(`checksum ${algorithm} of az://${this.container}/${path}`, {
        system: "az",
        path,
      });
    }
    if (entry.md5 === undefined) {
      throw errors.unsupported(
        `az://${this.container}/${path} has no Content-MD5: it was uploaded in blocks by a client that set none`,
        {
          system: "az",
          path,
        },
      );
    }
    return entry.md5;
  }

  /** A short-lived blob SAS signed with the account key (only declared when a key is configured). */
  async presign(path: string, options: PresignOptions = {}): Promise<string> {
    return this.#run("presign", path, async (container, sdk) => {
      const method = options.method ?? "GET";
      const permissions = method === "PUT" ? "cw" : method === "DELETE" ? "d" : "r";
      return container.getBlobClient(path).generateSasUrl({
        permissions: sdk.BlobSASPermissions.parse(permissions),
        expiresOn: new Date(Date.now() + (options.expiresIn ?? 900) * 1000),
      });
    });
  }
}

function isBatchUnsupported(error: unknown): boolean {
  const status = (error as { statusCode?: number }).statusCode;
  const code = (error as { details?: { errorCode?: string }; code?: string }).details?.errorCode;
  return status === 501 || status === 405 || code === "NotImplemented" || code === "UnsupportedHttpVerb";
}
