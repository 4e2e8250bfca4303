import { isIP } from "node:net";
import type { S3Client, S3ClientConfig } from "@aws-sdk/client-s3";
import { type Capabilities, type Duration, errors } from "@ferry/plugin-kit";

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/** Options for `s3()`. Everything is optional: with none, configuration comes from the AWS environment and profile chain. */
export interface S3Options {
  /**
   * AWS region. Default: `AWS_REGION`, `AWS_DEFAULT_REGION`, then the SDK's chain (profile, instance metadata);
   * `us-east-1` when a custom endpoint is set and nothing else names a region.
   */
  region?: string;
  /**
   * Endpoint of an S3-compatible server, e.g. `http://127.0.0.1:9000`.
   * Default: `AWS_ENDPOINT_URL_S3`, then `AWS_ENDPOINT_URL`, then AWS itself.
   */
  endpoint?: string;
  /**
   * Address buckets as `endpoint/bucket/key` instead of `bucket.endpoint/key`.
   * Default: true when the endpoint's host is an IP address or `localhost` (no DNS names exist for buckets there), else false.
   */
  forcePathStyle?: boolean;
  /**
   * Static credentials. Default: the SDK's chain (environment, shared config and credentials files, SSO,
   * web identity, container and instance metadata). Never logged, saved or put into an error message.
   */
  credentials?: S3ClientConfig["credentials"];
  /** AWS profile name from the shared config files. Default: `AWS_PROFILE`. */
  profile?: string;
  /**
   * Your own configured `S3Client`. When given, `region`, `endpoint`, `forcePathStyle`, `credentials` and
   * `profile` are ignored. It is not destroyed by `close()`.
   */
  client?: S3Client;
  /**
   * Part size for multipart uploads and the largest body sent as one PutObject (bytes). Default 8 MiB.
   * S3 requires at least 5 MiB for every part but the last; grown automatically for known sizes so that
   * no upload needs more than 10,000 parts.
   */
  partSize?: number;
  /** Parts uploaded (or copied) in parallel. Memory for an upload is bounded by (concurrency + 1) × partSize. Default 4. */
  concurrency?: number;
  /** Alias of `concurrency`, the name `@aws-sdk/lib-storage` uses. */
  queueSize?: number;
  /**
   * Objects larger than this are copied server-side with UploadPartCopy instead of one CopyObject.
   * Default 5 GiB, CopyObject's own limit.
   */
  copyCutoff?: number;
  /** Range size for each UploadPartCopy request. Default 512 MiB. */
  copyPartSize?: number;
  /**
   * `mkdir` writes an empty `dir/` marker object, so empty directories exist and list (as rclone's
   * `directory_markers`). Default false: directories are key prefixes only, as in the S3 console's model.
   */
  directoryMarkers?: boolean;
  /** Set Content-Type from the file name (by extension) when the caller gives none. Default true. */
  contentTypeDetection?: boolean;
  /**
   * After a multipart upload whose MD5 was not known up front, record the MD5 in the object's metadata
   * (`x-amz-meta-md5chksum`, base64, as rclone does) with a server-side copy of the object onto itself.
   * Costs one CopyObject (no bytes through the client). Skipped above `copyCutoff`. Default true.
   */
  recordMultipartMd5?: boolean;
  /**
   * Send GetObject for whole objects and plain ranges as one request signed by the client's own SigV4
   * signer, over undici, without the SDK's per-command middleware stack (about half a millisecond of
   * CPU per request, and a third of a large download's); any answer but the expected 200/206 is read
   * again through `client.send()`. Only for the client the plugin creates: your own `client` always
   * goes through `send()`. Default true.
   */
  leanReads?: boolean;
  /**
   * The bucket used when a location names only the system, as in `folder.to("s3")` (which lands at
   * `<bucket>/ferry-folder/<32 hex>`). Default: `FERRY_S3_BUCKET`; none means such a location asks for one.
   */
  defaultBucket?: string;

  /**
   * Idle timeout: a request that passes no byte either way for this long (a stalled connection) is
   * ended and fails as Transient ("no data from HOST for 60 s while reading s3://bucket/key"), which
   * transfers retry. Milliseconds, or a duration such as "30s" or "2m"; 0 turns it off. Default:
   * `setIdleTimeout()` / the CLI's `--timeout`, else `FERRY_TIMEOUT`, else 60 s. Only for the client
   * the plugin creates: your own `client` keeps its own handler.
   */
  timeout?: Duration;
  /**
   * Narrow the declared capabilities for S3-compatible servers that lack a feature, e.g.
   * `{ conditionalWrite: false }` for a server that ignores If-None-Match. Only narrow: a capability
   * the plugin does not implement cannot be switched on.
   */
  capabilities?: Partial<Omit<Capabilities, "version" | "limits">> & { limits?: Capabilities["limits"] };
  /**
   * Before the first create-only write (`ifNoneMatch: "*"`) to a bucket, check once that the server
   * really refuses to overwrite (see write.ts): a server that ignores If-None-Match gets
   * Unsupported instead of a silent overwrite, and `conditionalWritesHold()` says false, so the
   * catalog and registry use their own claims. `false` trusts the declaration. Default true.
   */
  probeConditionalWrites?: boolean;
}

export interface ResolvedS3Options {
  partSize: number;
  concurrency: number;
  copyCutoff: number;
  copyPartSize: number;
  contentTypeDetection: boolean;
  recordMultipartMd5: boolean;
  /** Absent: true. */
  probeConditionalWrites?: boolean | undefined;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0)
    throw errors.invalidInput(`s3(): ${name} must be a positive integer, got ${value}`, { system: "s3" });
  return value;
}

export function resolveOptions(options: S3Options): ResolvedS3Options {
  return {
    partSize: positive("partSize", options.partSize, 8 * MiB),
    concurrency: positive("concurrency", options.concurrency ?? options.queueSize, 4),
    copyCutoff: positive("copyCutoff", options.copyCutoff, 5 * GiB),
    copyPartSize: positive("copyPartSize", options.copyPartSize, 512 * MiB),
    contentTypeDetection: options.contentTypeDetection ?? true,
    recordMultipartMd5: options.recordMultipartMd5 ?? true,
    probeConditionalWrites: options.probeConditionalWrites ?? true,
  };
}

/** True for hosts that cannot carry a bucket as a DNS label: IP literals and localhost. */
export function needsPathStyle(endpoint: string): boolean {
  let host: string;
  try {
    host = new URL(endpoint).hostname.replace(/^\[|\]$/g, "");
  } catch {
    return false;
  }
  return isIP(host) !== 0 || host === "localhost" || host.endsWith(".localhost");
}

/** The SDK client configuration from options and the environment (credentials stay with the SDK's chain unless given). */
export function clientConfig(options: S3Options, env: NodeJS.ProcessEnv = process.env): S3ClientConfig {
  const endpoint = options.endpoint ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  const region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const config: S3ClientConfig = {
    // ferry sends Content-MD5 itself, which every S3-compatible server understands; the SDK's newer
    // default CRC checksums (aws-chunked bodies) are not, so they are only sent where the API demands one.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  };
  if (region !== undefined) config.region = region;
  if (endpoint !== undefined) config.endpoint = endpoint;
  const pathStyle = options.forcePathStyle ?? (endpoint !== undefined && needsPathStyle(endpoint));
  if (pathStyle) config.forcePathStyle = true;
  if (options.credentials !== undefined) config.credentials = options.credentials;
  if (options.profile !== undefined) config.profile = options.profile;
  return config;
}
