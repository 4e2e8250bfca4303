/** One GCS server per test file; a fresh bucket and storage per test. */

import { createStorage, parseLocation } from "@ferry/core";
import type { Storage } from "@ferry/plugin-kit";
import type { GcsBackend } from "@ferry/test-harness";
import { type GcsOptions, gcs } from "../src/index.ts";

/** Options for a plugin against the harness server (through `apiEndpoint`, as a user would). */
export function serverOptions(server: GcsBackend, extra: GcsOptions = {}): GcsOptions {
  return { apiEndpoint: server.endpoint, projectId: server.projectId, ...extra };
}

export async function bucketStorage(
  server: GcsBackend,
  extra: GcsOptions = {},
  bucket = server.createBucket(),
): Promise<Storage> {
  return createStorage(await gcs(serverOptions(server, extra)).create(parseLocation(`gs://${bucket}`)));
}
