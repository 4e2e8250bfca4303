import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Capabilities, Duration } from "@ferry/plugin-kit";
import type { Storage, StorageOptions } from "@google-cloud/storage";

export const KiB = 1024;
export const MiB = 1024 * KiB;
/** GCS requires every resumable chunk but the last to be a multiple of 256 KiB. */
export const CHUNK_QUANTUM = 256 * KiB;

/** A service-account key as found in its JSON file (only the fields ferry looks at are named). */
export interface ServiceAccountKey {
  client_email?: string;
  private_key?: string;
  [field: string]: unknown;
}

/**
 * Options for `gcs()`. Everything is optional: with none, the client uses Application Default
 * Credentials and `STORAGE_EMULATOR_HOST` when it is set.
 */
export interface GcsOptions {
  /** Project for bucket-level calls. Default: `GOOGLE_CLOUD_PROJECT` / `GCLOUD_PROJECT`, then ADC. Object calls never need it. */
  projectId?: string;
  /** Path of a service-account key file. Default: Application Default Credentials. */
  keyFilename?: string;
  /** A service-account key (parsed JSON). Never logged, saved or put into an error message. */
  credentials?: ServiceAccountKey;
  /**
   * JSON API endpoint, e.g. `http://127.0.0.1:4443` for an emulator. Default: `STORAGE_EMULATOR_HOST`
   * (a bare `host:port` there means plain HTTP, as the other Google clients read it), then Google.
   */
  apiEndpoint?: string;
  /** Your own configured `Storage` client; `projectId`, `keyFilename`, `credentials` and `apiEndpoint` are then ignored. */
  storage?: Storage;
  /**
   * Chunk size of resumable uploads (bytes): each chunk is one request that can be retried on its own,
   * and the client holds one chunk in memory. Rounded up to a multiple of 256 KiB. Default 8 MiB.
   * A write's `partSize` overrides it.
   */
  chunkSize?: number;
  /**
   * Uploads of a known size up to this many bytes go in one request with their MD5 (so GCS rejects
   * corruption before anything is stored); larger or unknown-size uploads are resumable. Default 8 MiB.
   */
  resumableThreshold?: number;
  /**
   * `mkdir` writes an empty `dir/` marker object so that empty directories exist and list (rclone's
   * `directory_markers`). Default false: directories are name prefixes only.
   */
  directoryMarkers?: boolean;
  /** Set the content type from the file name when the caller gives none. Default true. */
  contentTypeDetection?: boolean;
  /**
   * Declare and allow `presign` (V4 signed URLs). Signing needs a private key, so the default is true
   * only when `credentials` with a `private_key` or a `keyFilename` is given. Set it to true when ADC
   * can sign another way (IAM signBlob on Google Cloud).
   */
  signedUrls?: boolean;
  /**
   * `move` within a bucket with objects.move (atomic, no copy) instead of rewrite + delete. GCS offers
   * it on buckets where atomic move is enabled (hierarchical namespace buckets first); off by default.
   */
  atomicMove?: boolean;
  /** Deletes sent at once (the JSON API deletes one object per request). Default 16. */
  deleteConcurrency?: number;
  /**
   * The bucket used when a location names only the system, as in `folder.to("gs")` (which lands at
   * `<bucket>/ferry-folder/<32 hex>`). Default: `FERRY_GS_BUCKET`; none means such a location asks for one.
   */
  defaultBucket?: string;
  /** Narrow the declared capabilities (e.g. for an emulator that lacks a feature). Only narrow. */
  capabilities?: Partial<Omit<Capabilities, "version" | "limits">> & { limits?: Capabilities["limits"] };
  /**
   * Idle timeout: a request that passes no byte for this long (a stalled connection) is ended and
   * fails as Transient ("no data from HOST for 60 s while reading gs://bucket/key"), which transfers
   * retry. Milliseconds, or a duration such as "30s" or "2m"; 0 turns it off. Default:
   * `setIdleTimeout()` / the CLI's `--timeout`, else `FERRY_TIMEOUT`, else 60 s. Given to the client
   * as its `timeout` (which @google-cloud/storage applies as an idle timeout on JSON API requests and
   * downloads), and on uploads (which ferry sends itself) and download streams to the bytes passing.
   * Your own `storage` keeps its own `timeout`; uploads and download streams are watched all the same.
   */
  timeout?: Duration;
}

export interface ResolvedGcsOptions {
  chunkSize: number;
  resumableThreshold: number;
  directoryMarkers: boolean;
  contentTypeDetection: boolean;
  signedUrls: boolean;
  atomicMove: boolean;
  deleteConcurrency: number;
}

function positive(name: string, value: number | undefined, fallback: number, minimum = 1): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < minimum)
    throw new RangeError(`gcs(): ${name} must be an integer of at least ${minimum}, got ${value}`);
  return value;
}

export function roundChunk(size: number): number {
  return Math.max(CHUNK_QUANTUM, Math.ceil(size / CHUNK_QUANTUM) * CHUNK_QUANTUM);
}

export function resolveOptions(options: GcsOptions): ResolvedGcsOptions {
  const hasKey = Boolean(options.credentials?.private_key) || options.keyFilename !== undefined;
  return {
    chunkSize: roundChunk(positive("chunkSize", options.chunkSize, 8 * MiB)),
    resumableThreshold: positive("resumableThreshold", options.resumableThreshold, 8 * MiB, 0),
    directoryMarkers: options.directoryMarkers ?? false,
    contentTypeDetection: options.contentTypeDetection ?? true,
    signedUrls: options.signedUrls ?? hasKey,
    atomicMove: options.atomicMove ?? false,
    deleteConcurrency: positive("deleteConcurrency", options.deleteConcurrency, 16),
  };
}

/** An endpoint URL from an option or STORAGE_EMULATOR_HOST; a bare `host:port` means plain HTTP. */
export function normaliseEndpoint(value: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  return withScheme.replace(/\/+$/, "");
}

export interface ClientSetup {
  options: StorageOptions;
  /**
   * The JSON API base URL to put on the client after construction, or undefined to keep the client's.
   * The client takes STORAGE_EMULATOR_HOST verbatim as its base URL, which breaks for a bare
   * `host:port` and overrides an explicit `apiEndpoint`; ferry repairs both cases.
   */
  baseUrl: string | undefined;
}

export function clientSetup(options: GcsOptions, env: NodeJS.ProcessEnv = process.env): ClientSetup {
  const emulator = env.STORAGE_EMULATOR_HOST;
  const endpoint = options.apiEndpoint ?? (emulator ? emulator : undefined);
  const config: StorageOptions = {};
  if (options.projectId !== undefined) config.projectId = options.projectId;
  if (options.keyFilename !== undefined) config.keyFilename = options.keyFilename;
  if (options.credentials !== undefined)
    config.credentials = options.credentials as NonNullable<StorageOptions["credentials"]>;
  if (endpoint !== undefined) config.apiEndpoint = normaliseEndpoint(endpoint);
  const repair =
    emulator !== undefined &&
    config.apiEndpoint !== undefined &&
    (options.apiEndpoint !== undefined || emulator !== config.apiEndpoint);
  return { options: config, baseUrl: repair ? `${config.apiEndpoint}/storage/v1` : undefined };
}

/** The name of the error `checkCredentials` throws; errors.ts maps it to one PermissionDenied line. */
export const NO_CREDENTIALS = "NoGoogleCredentials";

/**
 * Throws when no credential source exists at all: no key in the options or GOOGLE_APPLICATION_CREDENTIALS,
 * no `gcloud auth application-default login` file, no emulator or custom endpoint, and not on Google
 * Cloud. Without this check the client probes the metadata server, prints warnings and waits ~16 s
 * before failing with an unrelated network error.
 */
export function checkCredentials(options: GcsOptions, env: NodeJS.ProcessEnv = process.env): void {
  if (options.storage || options.credentials || options.keyFilename || options.apiEndpoint) return;
  if (env.STORAGE_EMULATOR_HOST || env.GOOGLE_APPLICATION_CREDENTIALS) return;
  if (env.GCE_METADATA_HOST || env.GCE_METADATA_IP || env.K_SERVICE || env.FUNCTION_TARGET) return;
  const gcloud = env.CLOUDSDK_CONFIG || join(homedir(), ".config", "gcloud");
  if (existsSync(join(gcloud, "application_default_credentials.json"))) return;
  if (onGoogleCloud()) return;
  const error = new Error(
    "no Google Cloud credentials found; set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, run `gcloud auth application-default login`, or pass gcs({ credentials }) or gcs({ keyFilename })",
  );
  error.name = NO_CREDENTIALS;
  throw error;
}

/** Google Compute Engine (and GKE, Cloud Run) machines say so in their DMI data, as google-auth-library checks. */
function onGoogleCloud(): boolean {
  for (const file of ["/sys/class/dmi/id/bios_vendor", "/sys/class/dmi/id/product_name"]) {
    try {
      if (/Google/.test(readFileSync(file, "utf8"))) return true;
    } catch {
      // Not Linux, or not readable: not known to be Google Cloud.
    }
  }
  return false;
}
