/**
 * @ferry/storage-azure — Azure Blob Storage for ferry.
 *
 * ```ts
 * import { azure } from "@ferry/storage-azure";
 * ferry.use(azure({ account: "myaccount" })); // DefaultAzureCredential
 * ```
 */

import type { BlobServiceClient } from "@azure/storage-blob";
import {
  baseCapabilities,
  type Capabilities,
  defaultRoot,
  errors,
  idleTimeoutMs,
  type Location,
  registerSecret,
  type StoragePlugin,
} from "@ferry/core";
import { type BlobSdk, createServiceClient } from "./client.ts";
import { AzureDriver, DELETE_BATCH_MAX, type ServiceHandle } from "./driver.ts";
import {
  type AuthPlan,
  type AzureOptions,
  canPresign,
  MiB,
  planAuth,
  resolveOptions,
  secretsOf,
} from "./options.ts";

export { AzureDriver } from "./driver.ts";
export type { AzureOptions } from "./options.ts";

function declaredCapabilities(options: AzureOptions, presign: boolean): Capabilities {
  const markers = options.directoryMarkers ?? false;
  const declared: Capabilities = {
    ...baseCapabilities,
    conditionalWrite: true,
    rangeRead: true,
    copy: "native",
    move: "emulated",
    mkdir: markers ? "marker" : false,
    emptyDirectories: markers,
    directories: "virtual",
    hashes: ["md5"],
    checksum: true,
    presign,
    listOrder: "lexicographic",
    listRecursive: "native",
    // Last-Modified is the upload time, to the second; a caller's mtime is not kept.
    mtime: "none",
    mtimePrecisionMs: 1000,
    setMtime: false,
    contentType: true,
    caseInsensitive: false,
    cleanup: true,
    limits: {
      listPageMax: 5000,
      deleteBatchMax: DELETE_BATCH_MAX,
      partSizeMin: 1,
      partSizeMax: 4000 * MiB,
      partSizeDefault: resolveOptions(options).blockSize,
      maxParts: 50_000,
      maxKeyBytes: 1024,
    },
  };
  const { limits, ...overrides } = options.capabilities ?? {};
  return { ...declared, ...overrides, limits: { ...declared.limits, ...limits } };
}

/** A ferry storage plugin for `az://container/path` locations. */
export function azure(options: AzureOptions = {}): StoragePlugin {
  const resolved = resolveOptions(options);
  idleTimeoutMs(options.timeout, "azure(): timeout"); // a malformed timeout fails here, not on first use
  // The account and credential kind are decided now (from options and the environment), the SDK later.
  let plan: AuthPlan | undefined;
  let planError: unknown;
  try {
    plan = planAuth(options);
    registerSecret(...secretsOf(plan));
  } catch (error) {
    // With no configuration at all the plugin still loads; using it reports what to configure.
    planError = error;
  }
  const capabilities = declaredCapabilities(options, plan !== undefined && canPresign(plan));
  let pending: Promise<{ service: BlobServiceClient; sdk: BlobSdk }> | undefined;
  const handle: ServiceHandle = {
    service() {
      if (plan === undefined) return Promise.reject(planError);
      pending ??= createServiceClient(plan, () => idleTimeoutMs(options.timeout));
      return pending;
    },
    secrets: () => (plan === undefined ? [] : secretsOf(plan)),
  };
  return {
    name: "azure",
    schemes: ["az"],
    capabilities,
    defaultRoot: defaultRoot(options.defaultContainer, process.env.FERRY_AZURE_CONTAINER),
    create(location: Location) {
      const container = location.container ?? location.root;
      if (!container)
        throw errors.invalidInput("an az location needs a container: az://container/path", { system: "az" });
      if (plan === undefined) throw planError;
      return new AzureDriver(container, capabilities, handle, resolved);
    },
  };
}

export default azure;
