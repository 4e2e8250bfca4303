/** One azurite per test file; a fresh container and storage per test. */

import { createStorage, parseLocation } from "@ferry/core";
import type { Storage } from "@ferry/plugin-kit";
import { type AzuriteBackend, startAzurite } from "@ferry/test-harness";
import { type AzureOptions, azure } from "../src/index.ts";

export function azuriteOptions(server: AzuriteBackend, extra: AzureOptions = {}): AzureOptions {
  return { connectionString: server.connectionString, ...extra };
}

export async function containerStorage(
  server: AzuriteBackend,
  extra: AzureOptions = {},
  container?: string,
): Promise<Storage> {
  const name = container ?? (await server.createContainer());
  return createStorage(await azure(azuriteOptions(server, extra)).create(parseLocation(`az://${name}`)));
}

export { startAzurite };
