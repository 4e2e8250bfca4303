/**
 * @google-cloud/storage, loaded on first use: importing @ferry/storage-gcs costs nothing until a
 * storage actually talks to GCS.
 */
import type * as GcsSdk from "@google-cloud/storage";

export type Sdk = typeof GcsSdk;

let sdk: Promise<Sdk> | undefined;

export function loadSdk(): Promise<Sdk> {
  sdk ??= import("@google-cloud/storage");
  return sdk;
}
