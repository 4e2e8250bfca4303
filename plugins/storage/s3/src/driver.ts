/** One bucket as a ferry StorageDriver. Keys arrive validated and normalised by core. */

import { Readable } from "node:stream";
import type { S3Client } from "@aws-sdk/client-s3";
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
import { compareKeys, errors } from "@ferry/plugin-kit";
import { contentTypeOf } from "@ferry/plugin-kit/content-type";
import { cleanupUploads } from "./cleanup.ts";
import { type ClientHandle, loadPresigner, requestOptions, type S3Sdk } from "./client.ts";
import { mapS3Error } from "./errors.ts";
import { LeanGet } from "./lean/get.ts";
import { entriesOf, entryOfHead, isEncryptedWithKey, listPages, md5Of, unquote } from "./list.ts";
import type { ResolvedS3Options } from "./options.ts";
import { type ObjectReader, readObject } from "./read.ts";
import { conditionalWriteHonoured, ignoredByServer, serverSideCopy, upload } from "./write.ts";

export class S3Driver implements StorageDriver {
  readonly system = "s3";
  readonly root: string;
  readonly capabilities: Capabilities;
  readonly bucket: string;
  readonly #handle: ClientHandle;
  readonly #options: ResolvedS3Options;
  #lean: Promise<LeanGet | undefined> | undefined;
  readonly #reader: ObjectReader;

  constructor(bucket: string, capabilities: Capabilities, handle: ClientHandle, options: ResolvedS3Options) {
    this.bucket = bucket;
    this.root = `s3://${bucket}`;
    this.capabilities = capabilities;
    this.#handle = handle;
    this.#options = options;
    this.#reader = {
      bucket,
      run: (operation, path, body) => this.#run(operation, path, body),
      leanGet: () => this.#leanGet(),
      mapError: (error, path, callerAborted) =>
        mapS3Error(error, { operation: "read", path, bucket, secrets: handle.secrets(), callerAborted }),
    };
  }

  async #run<T>(
    operation: string,
    path: string | undefined,
    body: (client: S3Client, sdk: S3Sdk) => Promise<T>,
  ): Promise<T> {
    const { client, sdk } = await this.#handle.client();
    try {
      return await body(client, sdk);
    } catch (error) {
      throw mapS3Error(error, { operation, path, bucket: this.bucket, secrets: this.#handle.secrets() });
    }
  }

  /** Unfinished multipart uploads below `prefix` (cleanup.ts). */
  cleanup(prefix: string, options: CleanupOptions): Promise<CleanupResult> {
    return this.#run("cleanup", prefix, (client, sdk) =>
      cleanupUploads(client, sdk, this.bucket, prefix, options),
    );
  }

  /** This bucket's GetObject template, built once; undefined where reads always go through `send()`. */
  #leanGet(): Promise<LeanGet | undefined> {
    this.#lean ??= (async () => {
      const dispatcher = await this.#handle.leanDispatcher();
      if (!dispatcher) return undefined;
      const { client, sdk } = await this.#handle.client();
      return LeanGet.forBucket(
        client,
        sdk,
        this.bucket,
        dispatcher,
        () => this.#handle.idleTimeoutMs?.() ?? 0,
      );
    })().catch(() => undefined);
    return this.#lean;
  }

  async stat(path: string, options: SignalOptions = {}): Promise<Entry> {
    if (path === "") {
      await this.#run("stat", undefined, (client, sdk) =>
        client.send(new sdk.HeadBucketCommand({ Bucket: this.bucket }), requestOptions(options.signal)),
      ).catch((error) => {
        if (error.code === "NotFound")
          throw errors.notFound(`bucket "${this.bucket}" does not exist`, {
            system: "s3",
            cause: error.cause,
          });
        throw error;
      });
      return { path: "", kind: "directory", size: 0 };
    }
    try {
      const head = await this.#run("stat", path, (client, sdk) =>
        client.send(
          new sdk.HeadObjectCommand({ Bucket: this.bucket, Key: path }),
          requestOptions(options.signal),
        ),
      );
      return entryOfHead(path, head);
    } catch (error) {
      if ((error as { code?: string }).code !== "NotFound") throw error;
    }
    // No object: a directory if any key (or marker) lives below it.
    const page = await this.#run("stat", path, (client, sdk) =>
      client.send(
        new sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: `${path}/`, MaxKeys: 1 }),
        requestOptions(options.signal),
      ),
    );
    if ((page.KeyCount ?? page.Contents?.length ?? 0) > 0 || (page.CommonPrefixes?.length ?? 0) > 0) {
      return { path, kind: "directory", size: 0 };
    }
    throw errors.notFound(`stat s3://${this.bucket}/${path}: no such object or directory`, {
      system: "s3",
      path,
    });
  }

  async *list(dir: string, options: ListOptions = {}): AsyncIterable<Entry> {
    const prefix = dir === "" ? "" : `${dir}/`;
    const pages = listPages((run) => this.#run("list", dir, run), {
      bucket: this.bucket,
      prefix,
      delimiter: options.recursive ? undefined : "/",
      pageSize: options.pageSize,
      startAfter:
        options.startAfter && compareKeys(options.startAfter, prefix) > 0 ? options.startAfter : undefined,
      signal: options.signal,
    });
    yield* entriesOf(pages);
  }

  async read(path: string, options: ReadOptions = {}): Promise<Readable> {
    const range = options.range;
    if (range && ("suffix" in range ? range.suffix === 0 : range.length === 0)) {
      await this.stat(path, options);
      return Readable.from([]);
    }
    return readObject(this.#reader, path, options);
  }

  /** Whether create-only writes to this bucket are really refused by the server (probed once; write.ts). */
  conditionalWriteHonoured(path: string, options: SignalOptions = {}): Promise<boolean> {
    if (!this.capabilities.conditionalWrite) return Promise.resolve(false);
    if (this.#options.probeConditionalWrites === false) return Promise.resolve(true);
    return this.#run("check create-only writes", path, (client, sdk) =>
      conditionalWriteHonoured(client, sdk, this.bucket, path, options.signal),
    );
  }

  async #createOnlyHolds(
    path: string,
    options: SignalOptions & { ifNoneMatch?: "*" | undefined },
  ): Promise<void> {
    if (options.ifNoneMatch !== undefined && !(await this.conditionalWriteHonoured(path, options)))
      throw ignoredByServer(this.bucket, path);
  }

  async write(path: string, source: AsyncIterable<Uint8Array>, options: WriteOptions = {}): Promise<Entry> {
    await this.#createOnlyHolds(path, options);
    const contentType =
      options.contentType ?? (this.#options.contentTypeDetection ? contentTypeOf(path) : undefined);
    const result = await this.#run("write", path, (client, sdk) =>
      upload(
        {
          client,
          sdk,
          bucket: this.bucket,
          key: path,
          contentType,
          md5: options.md5?.toLowerCase(),
          ifNoneMatch: options.ifNoneMatch,
          size: options.size,
          partSize: options.partSize ?? this.#options.partSize,
          concurrency: options.concurrency ?? this.#options.concurrency,
          recordMultipartMd5: this.#options.recordMultipartMd5,
          copyCutoff: this.#options.copyCutoff,
          signal: options.signal,
        },
        source,
      ),
    );
    return {
      path,
      kind: "file",
      size: result.size,
      // S3 answers a write without the object's time; LastModified is kept to the second.
      mtime: new Date(Math.floor(Date.now() / 1000) * 1000),
      etag: unquote(result.etag),
      md5: result.md5,
      contentType: contentType ?? "binary/octet-stream",
    };
  }

  async delete(paths: readonly string[], options: SignalOptions = {}): Promise<void> {
    await this.#deleteKeys(paths, paths[0], options);
  }

  async #deleteKeys(
    keys: readonly string[],
    path: string | undefined,
    options: SignalOptions,
  ): Promise<void> {
    if (keys.length === 0) return;
    const output = await this.#run("delete", path, (client, sdk) =>
      client.send(
        new sdk.DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
        }),
        requestOptions(options.signal),
      ),
    );
    const failed = (output.Errors ?? []).filter((error) => error.Code !== "NoSuchKey");
    if (failed.length > 0) {
      const first = failed[0]!;
      throw mapS3Error(
        {
          name: first.Code ?? "Error",
          message: `${failed.length} of ${keys.length} keys were not deleted, first: ${first.Key} (${first.Message ?? first.Code})`,
        },
        { operation: "delete", path: first.Key, bucket: this.bucket, secrets: this.#handle.secrets() },
      );
    }
  }

  /** Every key below the prefix, directory markers included (core's fallback lists files only). */
  async deleteDirectory(path: string, options: SignalOptions = {}): Promise<void> {
    const prefix = path === "" ? "" : `${path}/`;
    const pages = listPages((run) => this.#run("deleteDirectory", path, run), {
      bucket: this.bucket,
      prefix,
      signal: options.signal,
    });
    for await (const page of pages) {
      await this.#deleteKeys(
        page.objects.map(({ key }) => key),
        path,
        options,
      );
    }
  }

  async copy(from: string, to: string, options: CopyOptions = {}): Promise<Entry> {
    const source = await this.stat(from, options);
    if (source.kind === "directory") {
      throw errors.invalidInput(`copy s3://${this.bucket}/${from}: it is a directory; copy its files`, {
        system: "s3",
        path: from,
      });
    }
    await this.#createOnlyHolds(to, options);
    const copied = await this.#run("copy", to, (client, sdk) =>
      serverSideCopy({
        client,
        sdk,
        bucket: this.bucket,
        from,
        to,
        size: source.size,
        ifNoneMatch: options.ifNoneMatch,
        copyCutoff: this.#options.copyCutoff,
        copyPartSize: this.#options.copyPartSize,
        concurrency: this.#options.concurrency,
        signal: options.signal,
      }),
    );
    // One CopyObject answers with the new object's ETag and time; with the metadata copied along,
    // that is everything a HEAD would say, so no second request. Multipart copies are looked up.
    if (!copied.lastModified || !copied.encryption) return this.stat(to, options);
    const stated = md5Of(copied.etag, undefined, isEncryptedWithKey(copied.encryption));
    // A CopyObject's plain ETag is the MD5 of what the copy holds: it must be the MD5 the source
    // claims (its ETag, or a recorded md5chksum, which the copy carries along with the metadata).
    if (stated && source.md5 && stated !== source.md5) {
      await this.delete([to], options).catch(() => {});
      throw errors.integrity(
        `copy s3://${this.bucket}/${from}: the copy's MD5 ${stated} is not the source's stated MD5 ${source.md5} (a wrong recorded md5chksum?); the copy was removed`,
        { system: "s3", path: from },
      );
    }
    const md5 = stated ?? source.md5;
    return {
      path: to,
      kind: "file",
      size: source.size,
      mtime: copied.lastModified,
      etag: unquote(copied.etag),
      md5,
      contentType: source.contentType,
    };
  }

  /** The bucket, created when it does not exist (in the client's region, as `aws s3 mb` does). */
  async createRoot(options: SignalOptions = {}): Promise<boolean> {
    return this.#run("create bucket", undefined, async (client, sdk) => {
      try {
        await client.send(new sdk.HeadBucketCommand({ Bucket: this.bucket }), requestOptions(options.signal));
        return false;
      } catch (error) {
        if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 404)
          throw error;
      }
      const region = await client.config.region();
      try {
        await client.send(
          new sdk.CreateBucketCommand({
            Bucket: this.bucket,
            ...(region && region !== "us-east-1"
              ? { CreateBucketConfiguration: { LocationConstraint: region as never } }
              : {}),
          }),
          requestOptions(options.signal),
        );
        return true;
      } catch (error) {
        // Made by someone else between the two calls, by this same account: it exists, which is what was asked.
        if ((error as { name?: string }).name === "BucketAlreadyOwnedByYou") return false;
        throw error;
      }
    });
  }

  /** Like `mkdir -p`: a marker for the directory and each parent, so removing a child leaves its parents. */
  async mkdir(path: string, options: SignalOptions = {}): Promise<void> {
    // Core only calls this when mkdir is declared (directoryMarkers, or a capability override).
    if (path === "") return;
    const segments = path.split("/");
    const markers = segments.map((_, index) => `${segments.slice(0, index + 1).join("/")}/`);
    await this.#run("mkdir", path, (client, sdk) =>
      Promise.all(
        markers.map((Key) =>
          client.send(
            new sdk.PutObjectCommand({ Bucket: this.bucket, Key, Body: new Uint8Array(0), ContentLength: 0 }),
            requestOptions(options.signal),
          ),
        ),
      ),
    );
  }

  async checksum(path: string, algorithm: HashAlgorithm, options: SignalOptions = {}): Promise<string> {
    const entry = await this.stat(path, options);
    if (algorithm !== "md5" || entry.kind !== "file") {
      throw errors.unsupported(`checksum ${algorithm} of s3://${this.bucket}/${path}`, {
        system: "s3",
        path,
      });
    }
    if (entry.md5 === undefined) {
      throw errors.unsupported(
        `s3://${this.bucket}/${path} has no known MD5: it was uploaded in parts by a client that recorded none, or is encrypted with a customer key`,
        { system: "s3", path },
      );
    }
    return entry.md5;
  }

  async presign(path: string, options: PresignOptions = {}): Promise<string> {
    const { getSignedUrl } = await loadPresigner();
    return this.#run("presign", path, async (client, sdk) => {
      const input = { Bucket: this.bucket, Key: path };
      const method = options.method ?? "GET";
      const command =
        method === "PUT"
          ? new sdk.PutObjectCommand(input)
          : method === "HEAD"
            ? new sdk.HeadObjectCommand(input)
            : method === "DELETE"
              ? new sdk.DeleteObjectCommand(input)
              : new sdk.GetObjectCommand(input);
      return getSignedUrl(client, command, { expiresIn: options.expiresIn ?? 900 });
    });
  }
}
