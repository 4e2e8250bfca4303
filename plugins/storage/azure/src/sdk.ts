/** The Azure SDKs, loaded on first use: importing @ferry/storage-azure costs nothing until a storage talks to Azure. */
import type * as StorageBlob from "@azure/storage-blob";
import type { BlobServiceClient } from "@azure/storage-blob";
import type { AuthPlan } from "./options.ts";

export type BlobSdk = typeof StorageBlob;

let sdk: Promise<BlobSdk> | undefined;

export function loadSdk(): Promise<BlobSdk> {
  sdk ??= import("@azure/storage-blob");
  return sdk;
}

export async function createServiceClient(
  plan: AuthPlan,
): Promise<{ service: BlobServiceClient; sdk: BlobSdk }> {
  const blob = await loadSdk();
  switch (plan.kind) {
    case "client":
      return { service: plan.client, sdk: blob };
    case "connectionString":
      return { service: blob.BlobServiceClient.fromConnectionString(plan.connectionString), sdk: blob };
    case "key":
      return {
        service: new blob.BlobServiceClient(
          plan.endpoint,
          new blob.StorageSharedKeyCredential(plan.account, plan.accountKey),
        ),
        sdk: blob,
      };
    case "sas":
      return { service: new blob.BlobServiceClient(`${plan.endpoint}?${plan.sasToken}`), sdk: blob };
    case "token": {
      const credential = plan.credential ?? new (await import("@azure/identity")).DefaultAzureCredential();
      return { service: new blob.BlobServiceClient(plan.endpoint, credential), sdk: blob };
    }
  }
}
