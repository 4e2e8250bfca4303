/**
 * @ferry/storage-s3 — Amazon S3 and S3-compatible servers for ferry.
 *
 * ```ts
 * import { s3 } from "@ferry/storage-s3";
 * ferry.use(s3({ region: "eu-west-1" }));
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
import { s3Capabilities } from "./capabilities.ts";
import { sharedClient } from "./client.ts";
import { S3Driver } from "./driver.ts";
import { s3Grammar } from "./location.ts";
import { resolveOptions, type S3Options } from "./options.ts";

export { s3Capabilities } from "./capabilities.ts";
export { S3Driver } from "./driver.ts";
export type { S3Options } from "./options.ts";
export { needsPathStyle } from "./options.ts";

/** A ferry storage plugin for `s3://bucket/key` locations. */
export function s3(options: S3Options = {}): StoragePlugin {
  const resolved = resolveOptions(options);
  const capabilities = s3Capabilities(options);
  if (options.credentials !== undefined && typeof options.credentials !== "function") {
    const { accessKeyId, secretAccessKey, sessionToken } = options.credentials;
    registerSecret(accessKeyId, secretAccessKey, sessionToken);
  }
  idleTimeoutMs(options.timeout, "s3(): timeout"); // a malformed timeout fails here, not on first use
  const shared = sharedClient(options);
  const grammar = s3Grammar();
  return {
    name: "s3",
    schemes: ["s3"],
    capabilities,
    defaultRoot: defaultRoot(options.defaultBucket, process.env.FERRY_S3_BUCKET),
    location: grammar,
    create(written: Location) {
      const location = completeLocation(written, grammar);
      const bucket = location.bucket ?? location.root;
      if (!bucket)
        throw errors.invalidInput("an s3 location needs a bucket: s3://bucket/key", { system: "s3" });
      shared.open();
      const driver = new S3Driver(bucket, capabilities, shared, resolved);
      let closed = false;
      return Object.assign(driver, {
        async close() {
          if (closed) return;
          closed = true;
          // The client is shared by every bucket of this plugin instance; released with the last one.
          await shared.release();
        },
      });
    },
  };
}

export default s3;
