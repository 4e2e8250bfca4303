/**
 * Whether the server behind a bucket honours `If-None-Match: *` on PutObject. S3 itself does (since
 * 2024), but S3-compatible servers may ignore the header and overwrite (s3rver does; older MinIO and
 * Ceph releases did): a create-only write there would report success for a write that replaced
 * someone else's. So before the first create-only write to a bucket the plugin asks the server:
 *
 *   PutObject <probe key>                      (an empty object)
 *   PutObject <probe key>, If-None-Match: *    412 → honoured; 2xx → ignored
 *   DeleteObject <probe key>
 *
 * The probe key is `.ferry-conditional-write-probe-<random>` in the folder of the key about to be
 * written (where the caller may write). The verdict is kept per client (one endpoint) and bucket for
 * the life of the process; a probe that cannot be made (no permission, a network error) is not kept
 * and makes the write fail with that error. `probeConditionalWrites: false` trusts the declaration,
 * `capabilities: { conditionalWrite: false }` declares the server without the feature (no probe).
 */
import { randomBytes } from "node:crypto";
import type { S3Client } from "@aws-sdk/client-s3";
import { errors, parentKey } from "@ferry/core";
import { requestOptions, type S3Sdk } from "./client.ts";

const verdicts = new WeakMap<S3Client, Map<string, Promise<boolean>>>();

function status(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

async function probe(
  client: S3Client,
  sdk: S3Sdk,
  bucket: string,
  near: string,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  const folder = parentKey(near);
  const key = `${folder === "" ? "" : `${folder}/`}.ferry-conditional-write-probe-${randomBytes(8).toString("hex")}`;
  const send = requestOptions(signal);
  const empty = { Bucket: bucket, Key: key, Body: new Uint8Array(0), ContentLength: 0 };
  await client.send(new sdk.PutObjectCommand(empty), send);
  try {
    await client.send(new sdk.PutObjectCommand({ ...empty, IfNoneMatch: "*" }), send);
    return false;
  } catch (error) {
    if (status(error) === 412) return true;
    // A server that says it does not implement the header does not honour it either.
    if (status(error) === 501) return false;
    throw error;
  } finally {
    await client.send(new sdk.DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => undefined);
  }
}

/** The verdict for `bucket` on `client`'s endpoint, probing next to `near` the first time it is asked. */
export function conditionalWriteHonoured(
  client: S3Client,
  sdk: S3Sdk,
  bucket: string,
  near: string,
  signal?: AbortSignal,
): Promise<boolean> {
  let buckets = verdicts.get(client);
  if (!buckets) {
    buckets = new Map();
    verdicts.set(client, buckets);
  }
  let verdict = buckets.get(bucket);
  if (!verdict) {
    verdict = probe(client, sdk, bucket, near, signal);
    buckets.set(bucket, verdict);
    // Only an answer is remembered; a probe that failed is made again next time.
    verdict.catch(() => buckets.delete(bucket));
  }
  return verdict;
}

/** The error for a create-only write to a server that would silently overwrite. */
export function ignoredByServer(bucket: string, path: string) {
  return errors.unsupported(
    `create-only write of s3://${bucket}/${path}: this S3-compatible server ignores If-None-Match (a probe write was overwritten), so the write could replace another; nothing was written`,
    { system: "s3", path },
  );
}
