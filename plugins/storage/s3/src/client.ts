/**
 * The AWS SDK, loaded on first use: importing @ferry/storage-s3 costs nothing until a storage
 * actually talks to S3.
 */
import type * as ClientS3 from "@aws-sdk/client-s3";
import type { S3Client, S3ClientConfig } from "@aws-sdk/client-s3";
import type * as Presigner from "@aws-sdk/s3-request-presigner";

export type S3Sdk = typeof ClientS3;
export type PresignerSdk = typeof Presigner;

let sdk: Promise<S3Sdk> | undefined;
let presigner: Promise<PresignerSdk> | undefined;

export function loadSdk(): Promise<S3Sdk> {
  sdk ??= import("@aws-sdk/client-s3");
  return sdk;
}

export function loadPresigner(): Promise<PresignerSdk> {
  presigner ??= import("@aws-sdk/s3-request-presigner");
  return presigner;
}

/** Per-request options: the caller's AbortSignal, when there is one. */
export function requestOptions(signal: AbortSignal | undefined): { abortSignal?: AbortSignal } {
  return signal ? { abortSignal: signal } : {};
}

/**
 * A client from `config`. When neither the options nor the SDK's chain (environment, profile, instance
 * metadata) name a region, a custom endpoint still works: S3-compatible servers ignore the region, so
 * `us-east-1` signs the requests. Without an endpoint the SDK's "Region is missing" error stands.
 */
export async function createClient(sdk: S3Sdk, config: S3ClientConfig): Promise<S3Client> {
  const client = withUnsignedUploads(new sdk.S3Client(config));
  if (config.region !== undefined || config.endpoint === undefined) return client;
  try {
    await client.config.region();
    return client;
  } catch {
    client.destroy();
    return withUnsignedUploads(new sdk.S3Client({ ...config, region: "us-east-1" }));
  }
}

/** Uploads whose every request carries Content-MD5. */
const MD5_CHECKED_UPLOADS = new Set(["PutObjectCommand", "UploadPartCommand"]);

/**
 * Upload bodies are not hashed into the signature (`x-amz-content-sha256: UNSIGNED-PAYLOAD`, which
 * the SDK already uses over HTTPS): ferry sends a signed Content-MD5 with every part and PutObject,
 * and S3 rejects a body that does not match it, so on a plain-HTTP endpoint a SHA-256 of every byte
 * would add a pass over the data and no protection. Only clients ferry creates are changed.
 */
function withUnsignedUploads(client: S3Client): S3Client {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const headers = (args.request as { headers?: Record<string, string> }).headers;
      if (headers && MD5_CHECKED_UPLOADS.has(context.commandName ?? "") && headers["content-md5"])
        headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD";
      return next(args);
    },
    { step: "build", name: "ferryUnsignedUploads" },
  );
  return client;
}
