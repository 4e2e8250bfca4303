/**
 * @ferry/storage-azure — Azure Blob Storage for ferry.
 *
 * ```ts
 * import { azure } from "@ferry/storage-azure";
 * ferry.use(azure({ account: "myaccount" })); // DefaultAzureCredential
 * ```
 */

import {
  completeLocation,
  defaultRoot,
  errors,
  idleTimeoutMs,
  type Location,
  registerSecret,
  type StoragePlugin,
} from "@ferry/plugin-kit";
import { declaredCapabilities } from "./capabilities.ts";
import { serviceHandle } from "./client.ts";
import { AzureDriver } from "./driver.ts";
import { azureGrammar } from "./location.ts";
import {
  type AuthPlan,
  type AzureOptions,
  canPresign,
  planAuth,
  resolveOptions,
  secretsOf,
} from "./options.ts";

export { AzureDriver } from "./driver.ts";
export type { AzureOptions } from "./options.ts";

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
  const handle = serviceHandle(plan, planError, () => idleTimeoutMs(options.timeout));
  const grammar = azureGrammar();
  return {
    name: "azure",
    schemes: ["az"],
    capabilities,
    defaultRoot: defaultRoot(options.defaultContainer, process.env.FERRY_AZURE_CONTAINER),
    location: grammar,
    create(written: Location) {
      const location = completeLocation(written, grammar);
      const container = location.container ?? location.root;
      if (!container)
        throw errors.invalidInput("an az location needs a container: az://container/path", { system: "az" });
      if (plan === undefined) throw planError;
      return new AzureDriver(container, capabilities, handle, resolved);
    },
  };
}

export default azure;
