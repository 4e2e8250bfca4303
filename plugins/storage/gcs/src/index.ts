/**
 * @ferry/storage-gcs — Google Cloud Storage for ferry.
 *
 * ```ts
 * import { gcs } from "@ferry/storage-gcs";
 * ferry.use(gcs({ projectId: "my-project" }));
 * ```
 */

import { completeLocation, defaultRoot, errors, type Location, type StoragePlugin } from "@ferry/plugin-kit";
import { gcsCapabilities } from "./capabilities.ts";
import { GcsClient } from "./client.ts";
import { GcsDriver } from "./driver.ts";
import { gsGrammar } from "./location.ts";
import { type GcsOptions, resolveOptions } from "./options.ts";

export { gcsCapabilities } from "./capabilities.ts";
export { GcsDriver } from "./driver.ts";
export { mapGcsError } from "./errors.ts";
export type { GcsOptions, ServiceAccountKey } from "./options.ts";

/** A ferry storage plugin for `gs://bucket/key` locations. */
export function gcs(options: GcsOptions = {}): StoragePlugin {
  const resolved = resolveOptions(options);
  const capabilities = gcsCapabilities(options);
  const client = new GcsClient(options);
  const grammar = gsGrammar();
  return {
    name: "gcs",
    schemes: ["gs"],
    capabilities,
    defaultRoot: defaultRoot(options.defaultBucket, process.env.FERRY_GS_BUCKET),
    location: grammar,
    create(written: Location) {
      const location = completeLocation(written, grammar);
      const bucket = location.bucket ?? location.root;
      if (!bucket)
        throw errors.invalidInput("a gs location needs a bucket: gs://bucket/key", { system: "gs" });
      return new GcsDriver(bucket, capabilities, client, resolved);
    },
  };
}

export default gcs;
