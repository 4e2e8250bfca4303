/**
 * The service client: the Azure SDKs, loaded on first use (importing @ferry/storage-azure costs nothing
 * until a storage talks to Azure), and one service client per plugin instance, made on the first
 * request and shared by every container it opens. A caller's own client (`azure({ serviceClient })`)
 * is used as it is.
 */

import type { Agent } from "node:http";
import type * as StorageBlob from "@azure/storage-blob";
import type { BlobServiceClient } from "@azure/storage-blob";
import { type FerryError, idleAgents, lazyImport } from "@ferry/plugin-kit";
import { type AuthPlan, secretsOf } from "./options.ts";

export type BlobSdk = typeof StorageBlob;

/** The SDK, loaded on first use (PluginMissing naming it when it is not installed). */
export const loadSdk: () => Promise<BlobSdk> = lazyImport(
  () => import("@azure/storage-blob"),
  "@azure/storage-blob",
);

/** The service's blob endpoint, to pick the agent of its protocol. */
function endpointOf(plan: Exclude<AuthPlan, { kind: "client" }>): string {
  if (plan.kind !== "connectionString") return plan.endpoint;
  return /(?:^|;)\s*BlobEndpoint=([^;]+)/i.exec(plan.connectionString)?.[1] ?? "https:";
}

/**
 * A service client for `plan`; clients ferry creates send through an agent that ends a stalled
 * connection after `timeoutMs()` (core-rest-pipeline takes an `agent` pipeline option).
 */
export async function createServiceClient(
  plan: AuthPlan,
  timeoutMs: () => number,
): Promise<{ service: BlobServiceClient; sdk: BlobSdk; recentStall?: () => FerryError | undefined }> {
  const blob = await loadSdk();
  if (plan.kind === "client") return { service: plan.client, sdk: blob };
  const agents = idleAgents({ timeoutMs, system: "az" });
  const made = await serviceFor(plan, blob, agents);
  return { service: made, sdk: blob, recentStall: agents.recentStall };
}

async function serviceFor(
  plan: Exclude<AuthPlan, { kind: "client" }>,
  blob: BlobSdk,
  agents: ReturnType<typeof idleAgents>,
): Promise<BlobServiceClient> {
  const agent: Agent = endpointOf(plan).startsWith("http:") ? agents.http : agents.https;
  const pipeline = { agent } as StorageBlob.StoragePipelineOptions;
  switch (plan.kind) {
    case "connectionString":
      return blob.BlobServiceClient.fromConnectionString(plan.connectionString, pipeline);
    case "key":
      return new blob.BlobServiceClient(
        plan.endpoint,
        new blob.StorageSharedKeyCredential(plan.account, plan.accountKey),
        pipeline,
      );
    case "sas":
      return new blob.BlobServiceClient(`${plan.endpoint}?${plan.sasToken}`, undefined, pipeline);
    case "token": {
      const credential = plan.credential ?? new (await import("@azure/identity")).DefaultAzureCredential();
      return new blob.BlobServiceClient(plan.endpoint, credential, pipeline);
    }
  }
}

/** What a driver asks of the plugin's service client. */
export interface ServiceHandle {
  service(): Promise<{
    service: BlobServiceClient;
    sdk: BlobSdk;
    /** A stall the idle timeout just cut (the SDK reports a cut download as an AbortError). */
    recentStall?: (() => FerryError | undefined) | undefined;
  }>;
  secrets(): readonly string[];
}

/**
 * The service client of one `azure(options)`, made on first use; with no plan (nothing configured),
 * every request fails with `planError`, which says what to configure.
 */
export function serviceHandle(
  plan: AuthPlan | undefined,
  planError: unknown,
  timeoutMs: () => number,
): ServiceHandle {
  let pending: ReturnType<typeof createServiceClient> | undefined;
  return {
    service() {
      if (plan === undefined) return Promise.reject(planError);
      pending ??= createServiceClient(plan, timeoutMs);
      return pending;
    },
    secrets: () => (plan === undefined ? [] : secretsOf(plan)),
  };
}
