/**
 * The AWS SDK, loaded on first use: importing @ferry/storage-s3 costs nothing until a storage
 * actually talks to S3.
 */
import type * as ClientS3 from "@aws-sdk/client-s3";
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
