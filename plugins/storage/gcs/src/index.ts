/**
 * @ferry/storage-gcs — Google Cloud Storage for ferry.
 *
 * ```ts
 * import { gcs } from "@ferry/storage-gcs";
 * ferry.use(gcs({ projectId: "my-project" }));
 * ```
 */
import {
  baseCapabilities,
  type Capabilities,
  completeLocation,
  defaultRoot,
  errors,
  idleTimeoutMs,
  type Location,
  registerSecret,
  type StoragePlugin,
} from "@ferry/core";
import type { Storage } from "@google-cloud/storage";
import { type ClientHandle, GcsDriver } from "./driver.ts";
import { gsGrammar } from "./location.ts";
import {
  CHUNK_QUANTUM,
  checkCredentials,
  clientSetup,
  type GcsOptions,
  MiB,
  resolveOptions,
} from "./options.ts";
import { loadSdk } from "./sdk.ts";

export { GcsDriver } from "./driver.ts";
export { mapGcsError } from "./errors.ts";
export type { GcsOptions, ServiceAccountKey } from "./options.ts";

const TiB = 1024 * 1024 * MiB;

/** What GCS itself supports; `options.capabilities` may narrow it. */
export function gcsCapabilities(options: GcsOptions = {}): Capabilities {
  const resolved = resolveOptions(options);
  const markers = resolved.directoryMarkers;
  const declared: Capabilities = {
    ...baseCapabilities,
    conditionalWrite: true,
    rangeRead: true,
    copy: "native",
    move: resolved.atomicMove ? "native" : "emulated",
    mkdir: markers ? "marker" : false,
    emptyDirectories: markers,
    directories: "virtual",
    hashes: ["md5", "crc32c"],
    checksum: true,
    presign: resolved.signedUrls,
    listOrder: "lexicographic",
    listRecursive: "native",
    mtime: "metadata",
    mtimePrecisionMs: 1,
    setMtime: true,
    contentType: true,
    caseInsensitive: false,
    limits: {
      listPageMax: 1000,
      deleteBatchMax: 100,
      partSizeMin: CHUNK_QUANTUM,
      partSizeDefault: resolved.chunkSize,
      maxObjectSize: 5 * TiB,
      maxKeyBytes: 1024,
    },
  };
  const { limits, ...overrides } = options.capabilities ?? {};
  return { ...declared, ...overrides, limits: { ...declared.limits, ...limits } };
}

/** A ferry storage plugin for `gs://bucket/key` locations. */
export function gcs(options: GcsOptions = {}): StoragePlugin {
  const resolved = resolveOptions(options);
  const capabilities = gcsCapabilities(options);
  const privateKey = options.credentials?.private_key;
  if (typeof privateKey === "string") registerSecret(privateKey);
  idleTimeoutMs(options.timeout, "gcs(): timeout"); // a malformed timeout fails here, not on first use
  const timeoutMs = () => idleTimeoutMs(options.timeout);
  let pending: Promise<Storage> | undefined;
  const handle: ClientHandle = {
    client() {
      pending ??= (async () => {
        if (options.storage) return options.storage;
        checkCredentials(options);
        const sdk = await loadSdk();
        const setup = clientSetup(options);
        const storage = new sdk.Storage({
          ...setup.options,
          // Retry every call the client can retry, including resumable chunks and deletes without
          // a generation: ferry's uploads resume by offset, deletes ignore 404 and rewrites are
          // repeatable, so the default "only with preconditions" strategy guards against nothing here.
          retryOptions: { idempotencyStrategy: sdk.IdempotencyStrategy.RetryAlways },
          // The client's own timeout is an idle timeout: the socket's, then the gap between body chunks.
          timeout: timeoutMs(),
        });
        if (setup.baseUrl) storage.baseUrl = setup.baseUrl;
        return storage;
      })();
      pending.catch(() => {
        pending = undefined;
      });
      return pending;
    },
    idleTimeoutMs: timeoutMs,
    host: () => new URL(clientSetup(options).options.apiEndpoint ?? "https://storage.googleapis.com").host,
    secrets() {
      const key = options.credentials?.private_key;
      return typeof key === "string" ? [key] : [];
    },
  };
  const grammar = gsGrammar();
  return {
    name: "gcs",
    schemes: ["gs"],
    capabilities,
    defaultRoot: defaultRoot(options.defaultBucket, process.env.FERRY_GS_BUCKET),
    location: grammar,
    create(written: Location) {
      const location = completeLocation(written, grammar);
      const bucket = location.bucket ?? location.root;
      if (!bucket)
        throw errors.invalidInput("a gs location needs a bucket: gs://bucket/key", { system: "gs" });
      return new GcsDriver(bucket, capabilities, handle, resolved);
    },
  };
}

export default gcs;
