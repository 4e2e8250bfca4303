/** One s3rver per test file; a fresh bucket and storage per test. */

import { createStorage, parseLocation } from "@ferry/core";
import type { Storage } from "@ferry/plugin-kit";
import { type S3Backend, startS3rver } from "@ferry/test-harness";
import { type S3Options, s3 } from "../src/index.ts";

/**
 * s3rver 3.7.1's gaps, declared as capability overrides (never worked around in shared cases):
 * it ignores If-None-Match on PutObject, CompleteMultipartUpload and CopyObject, so a "create only"
 * write silently overwrites. (Its other gaps — no AbortMultipartUpload, no UploadPartCopy, no
 * Content-MD5 check — are covered by the plugin tests that show them.)
 */
export const S3RVER_GAPS = { conditionalWrite: false } as const;

/** Options for a plugin against s3rver; the plugin declares what S3 itself does unless a test narrows it. */
export function s3rverOptions(server: S3Backend, extra: S3Options = {}): S3Options {
  return {
    endpoint: server.endpoint,
    region: server.region,
    credentials: { ...server.credentials },
    ...extra,
  };
}

export async function bucketStorage(
  server: S3Backend,
  extra: S3Options = {},
  bucket?: string,
): Promise<Storage> {
  const name = bucket ?? (await server.createBucket());
  const plugin = s3(s3rverOptions(server, { capabilities: S3RVER_GAPS, ...extra }));
  return createStorage(await plugin.create(parseLocation(`s3://${name}`)));
}

export { startS3rver };
