/**
 * Writes: one PutObject for bodies that fit in a part, a multipart upload for everything else.
 * Every request carries Content-MD5 so S3 rejects a corrupted body (BadDigest); the whole object's
 * MD5 is computed as bytes pass, and for multipart uploads recorded in `x-amz-meta-md5chksum`
 * (rclone's name and format) because their ETag is not an MD5. A failed multipart upload is aborted.
 *
 * When the caller declares the MD5, the whole object is not hashed again: core checks the declared
 * MD5 as bytes pass and fails the source before it ends (so a multipart upload is aborted, never
 * completed), and a single PutObject sends the declared MD5 as its Content-MD5, which S3 checks.
 *
 * Only the ETag the server sends back tells ferry what actually arrived: the Content-MD5 ferry sends
 * is checked by S3 itself, but not by every S3-compatible server. For an object stored without a KMS
 * or customer key, a PutObject's ETag is the MD5 of the bytes received, an UploadPart's is that part's
 * MD5, and a completed multipart upload's is the MD5 of the parts' binary MD5s joined, then "-" and
 * the part count (checkEtag below).
 *
 * Create-only writes (`If-None-Match: *`) are trusted only where the server honours them: S3 itself
 * does (since 2024), but S3-compatible servers may ignore the header and overwrite (s3rver does; older
 * MinIO and Ceph releases did). So before the first create-only write to a bucket the plugin asks the
 * server (conditionalWriteHonoured below):
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
import { createHash, randomBytes } from "node:crypto";
import type { CompletedPart, S3Client } from "@aws-sdk/client-s3";
import {
  chunkBytes,
  debugLog,
  errors,
  forEachConcurrent,
  type Md5Stream,
  md5Of,
  md5OfHandover,
  md5Stream,
  PartRecycler,
  parentKey,
  readUpTo,
  throwIfAborted,
} from "@ferry/plugin-kit";
import { requestOptions, type S3Sdk } from "./client.ts";
import { type EncryptionHeaders, HEX_MD5, isEncryptedWithKey, MD5_METADATA_KEY, unquote } from "./list.ts";
import { GiB } from "./options.ts";

const debug = debugLog("ferry:s3");

const MAX_PARTS = 10_000;

export interface UploadTarget {
  client: S3Client;
  sdk: S3Sdk;
  bucket: string;
  key: string;
  contentType: string | undefined;
  /** Known MD5 (hex) of the whole body, if the caller gave one. */
  md5: string | undefined;
  ifNoneMatch: "*" | undefined;
  size: number | undefined;
  partSize: number;
  concurrency: number;
  recordMultipartMd5: boolean;
  copyCutoff: number;
  signal: AbortSignal | undefined;
}

export interface UploadResult {
  etag: string | undefined;
  md5: string;
  size: number;
  multipart: boolean;
}

const base64 = (hex: string) => Buffer.from(hex, "hex").toString("base64");

/** A part size that keeps a known-size upload within 10,000 parts. */
function effectivePartSize(partSize: number, size: number | undefined): number {
  if (size === undefined) return partSize;
  return Math.max(partSize, Math.ceil(size / MAX_PARTS));
}

export async function upload(target: UploadTarget, source: AsyncIterable<Uint8Array>): Promise<UploadResult> {
  const partSize = effectivePartSize(target.partSize, target.size);
  const { head, rest } = await readUpTo(source, partSize);
  if (rest === undefined) return putObject(target, head);
  return multipartUpload(target, rest, partSize);
}

async function putObject(target: UploadTarget, body: Uint8Array): Promise<UploadResult> {
  const md5 = target.md5 ?? (await md5Of(body));
  const output = await target.client.send(
    new target.sdk.PutObjectCommand({
      Bucket: target.bucket,
      Key: target.key,
      Body: body,
      ContentLength: body.byteLength,
      ContentMD5: base64(md5),
      ...(target.contentType ? { ContentType: target.contentType } : {}),
      ...(target.ifNoneMatch ? { IfNoneMatch: target.ifNoneMatch } : {}),
    }),
    requestOptions(target.signal),
  );
  await keepOnlyIfReceived(target, () => checkEtag(output, md5, { ...objectOf(target), what: "its" }));
  return { etag: output.ETag, md5, size: body.byteLength, multipart: false };
}

const objectOf = (target: { bucket: string; key: string }) => ({ bucket: target.bucket, key: target.key });

/**
 * Runs `check` on a stored object's answer; when it fails, the object is removed before the error goes
 * on, so bytes the server got wrong never stay under the name (and a retry starts from nothing).
 */
async function keepOnlyIfReceived(target: UploadTarget, check: () => void): Promise<void> {
  try {
    check();
  } catch (error) {
    try {
      await target.client.send(
        new target.sdk.DeleteObjectCommand({ Bucket: target.bucket, Key: target.key }),
      );
    } catch (removal) {
      debug(
        "removing the corrupted s3://%s/%s failed: %s",
        target.bucket,
        target.key,
        (removal as Error).name,
      );
    }
    throw error;
  }
}

async function multipartUpload(
  target: UploadTarget,
  source: AsyncIterable<Uint8Array>,
  partSize: number,
): Promise<UploadResult> {
  const { client, sdk, bucket, key } = target;
  const created = await client.send(
    new sdk.CreateMultipartUploadCommand({
      Bucket: bucket,
      Key: key,
      ...(target.contentType ? { ContentType: target.contentType } : {}),
      ...(target.md5 ? { Metadata: { [MD5_METADATA_KEY]: base64(target.md5) } } : {}),
    }),
    requestOptions(target.signal),
  );
  const uploadId = created.UploadId!;
  debug("multipart upload %s started for s3://%s/%s (part size %d)", uploadId, bucket, key, partSize);
  // Hashed on a second thread where there is one (core's md5.ts), beside the uploads.
  const whole: Md5Stream | undefined = target.md5 ? undefined : md5Stream(target.size ?? Infinity);
  try {
    const uploaded = await uploadParts(target, uploadId, source, partSize, whole);
    throwIfAborted(target.signal);
    const md5 = whole ? await whole.digest("hex") : target.md5!;
    let etag = await completeUpload(target, uploadId, uploaded, md5);
    if (!target.md5 && target.recordMultipartMd5 && uploaded.size <= target.copyCutoff) {
      etag = await recordMd5(target, md5, etag).catch((error: unknown) => {
        // The object is complete and correct; without the record its MD5 is merely unknown to readers.
        debug("recording the MD5 of s3://%s/%s failed: %s", bucket, key, (error as Error).name);
        return etag;
      });
    }
    return { etag, md5, size: uploaded.size, multipart: true };
  } catch (error) {
    whole?.drop();
    await abortUpload(client, sdk, bucket, key, uploadId);
    throw error;
  }
}

interface UploadedParts {
  parts: CompletedPart[];
  /** Each part's MD5, hex. */
  partMd5s: string[];
  size: number;
}

/** The parts of `source`, sent `concurrency` at a time, each with its Content-MD5 and its ETag checked. */
async function uploadParts(
  target: UploadTarget,
  uploadId: string,
  source: AsyncIterable<Uint8Array>,
  partSize: number,
  whole: Md5Stream | undefined,
): Promise<UploadedParts> {
  const { client, sdk, bucket, key } = target;
  const uploaded: UploadedParts = { parts: [], partMd5s: [], size: 0 };
  const recycler = new PartRecycler(target.concurrency);
  const hashed = (async function* () {
    for await (const part of chunkBytes(source, partSize, recycler)) {
      whole?.update(part);
      uploaded.size += part.byteLength;
      yield part;
    }
  })();
  await forEachConcurrent(hashed, target.concurrency, async (filled, index) => {
    throwIfAborted(target.signal);
    // The part's memory goes to the hashing thread and back (no copy); `part` is the same bytes.
    const { digest, bytes: part } = await md5OfHandover(filled, "base64");
    uploaded.partMd5s[index] = Buffer.from(digest, "base64").toString("hex");
    const output = await client.send(
      new sdk.UploadPartCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        PartNumber: index + 1,
        Body: part,
        ContentLength: part.byteLength,
        ContentMD5: digest,
      }),
      requestOptions(target.signal),
    );
    checkEtag(output, uploaded.partMd5s[index]!, { ...objectOf(target), what: `part ${index + 1}'s` });
    uploaded.parts[index] = { PartNumber: index + 1, ETag: output.ETag! };
    recycler.give(part); // sent and acknowledged: its memory can hold a later part
  });
  return uploaded;
}

/** Completes the upload and checks that the parts were assembled; the completed object's ETag. */
async function completeUpload(
  target: UploadTarget,
  uploadId: string,
  uploaded: UploadedParts,
  md5: string,
): Promise<string | undefined> {
  const completed = await target.client.send(
    new target.sdk.CompleteMultipartUploadCommand({
      Bucket: target.bucket,
      Key: target.key,
      UploadId: uploadId,
      MultipartUpload: { Parts: uploaded.parts },
      ...(target.ifNoneMatch ? { IfNoneMatch: target.ifNoneMatch } : {}),
    }),
    // Completing is not aborted midway: either the object appears whole or not at all.
  );
  // Each part's ETag was checked as it was acknowledged; this checks that the parts were assembled.
  // S3 answers MD5-of-part-MD5s "-N"; a server that answers a plain MD5 (s3rver) states the whole's.
  const expected = /-\d+"?$/.test(completed.ETag ?? "") ? multipartEtag(uploaded.partMd5s) : md5;
  await keepOnlyIfReceived(target, () =>
    checkEtag(completed, expected, { ...objectOf(target), what: "the completed upload's" }),
  );
  return completed.ETag;
}

/**
 * Store the MD5 in metadata with a server-side self-copy. `CopySourceIfMatch` pins the copy to the
 * object just completed, so a concurrent writer's object is never tagged with this MD5.
 */
async function recordMd5(
  target: UploadTarget,
  md5: string,
  etag: string | undefined,
): Promise<string | undefined> {
  const copied = await target.client.send(
    new target.sdk.CopyObjectCommand({
      Bucket: target.bucket,
      Key: target.key,
      CopySource: copySource(target.bucket, target.key),
      MetadataDirective: "REPLACE",
      Metadata: { [MD5_METADATA_KEY]: base64(md5) },
      ...(target.contentType ? { ContentType: target.contentType } : {}),
      ...(etag ? { CopySourceIfMatch: etag } : {}),
    }),
  );
  return copied.CopyObjectResult?.ETag ?? etag;
}

async function abortUpload(
  client: S3Client,
  sdk: S3Sdk,
  bucket: string,
  key: string,
  uploadId: string,
): Promise<void> {
  try {
    await client.send(new sdk.AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
    debug("multipart upload %s aborted", uploadId);
  } catch (error) {
    // The original failure matters more; S3 lifecycle rules clean up parts a server refused to abort.
    debug("aborting multipart upload %s failed: %s", uploadId, (error as Error).name);
  }
}

/** `x-amz-copy-source`: bucket and key, each segment URI-encoded. */
export function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
}

export interface CopyTarget {
  client: S3Client;
  sdk: S3Sdk;
  bucket: string;
  from: string;
  to: string;
  size: number;
  ifNoneMatch: "*" | undefined;
  copyCutoff: number;
  copyPartSize: number;
  concurrency: number;
  signal: AbortSignal | undefined;
}

/** Server-side copy: CopyObject up to the cutoff, UploadPartCopy ranges above it (S3's 5 GiB CopyObject limit). */
/** What the server said about the new object: a single CopyObject answers with its ETag and time. */
export interface CopiedObject {
  etag: string | undefined;
  lastModified?: Date | undefined;
  /** Server-side encryption of the copy, which decides whether its ETag is an MD5. */
  encryption?: { ServerSideEncryption?: string | undefined; SSECustomerAlgorithm?: string | undefined };
}

export async function serverSideCopy(target: CopyTarget): Promise<CopiedObject> {
  const { client, sdk, bucket } = target;
  if (target.size <= target.copyCutoff) {
    const output = await client.send(
      new sdk.CopyObjectCommand({
        Bucket: bucket,
        Key: target.to,
        CopySource: copySource(bucket, target.from),
        MetadataDirective: "COPY",
        ...(target.ifNoneMatch ? { IfNoneMatch: target.ifNoneMatch } : {}),
      }),
      requestOptions(target.signal),
    );
    return {
      etag: output.CopyObjectResult?.ETag,
      lastModified: output.CopyObjectResult?.LastModified,
      encryption: {
        ServerSideEncryption: output.ServerSideEncryption,
        SSECustomerAlgorithm: output.SSECustomerAlgorithm,
      },
    };
  }
  const head = await client.send(
    new sdk.HeadObjectCommand({ Bucket: bucket, Key: target.from }),
    requestOptions(target.signal),
  );
  const partSize = Math.min(5 * GiB, Math.max(target.copyPartSize, Math.ceil(target.size / MAX_PARTS)));
  const created = await client.send(
    new sdk.CreateMultipartUploadCommand({
      Bucket: bucket,
      Key: target.to,
      ...(head.ContentType ? { ContentType: head.ContentType } : {}),
      ...(head.Metadata ? { Metadata: head.Metadata } : {}),
    }),
    requestOptions(target.signal),
  );
  const uploadId = created.UploadId!;
  const ranges: Array<{ start: number; end: number }> = [];
  for (let start = 0; start < target.size; start += partSize)
    ranges.push({ start, end: Math.min(start + partSize, target.size) - 1 });
  const parts: CompletedPart[] = [];
  try {
    await forEachConcurrent(ranges, target.concurrency, async ({ start, end }, index) => {
      const output = await client.send(
        new sdk.UploadPartCopyCommand({
          Bucket: bucket,
          Key: target.to,
          UploadId: uploadId,
          PartNumber: index + 1,
          CopySource: copySource(bucket, target.from),
          CopySourceRange: `bytes=${start}-${end}`,
          ...(head.ETag ? { CopySourceIfMatch: head.ETag } : {}),
        }),
        requestOptions(target.signal),
      );
      parts[index] = { PartNumber: index + 1, ETag: output.CopyPartResult!.ETag! };
    });
    const completed = await client.send(
      new sdk.CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: target.to,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
        ...(target.ifNoneMatch ? { IfNoneMatch: target.ifNoneMatch } : {}),
      }),
    );
    return { etag: completed.ETag };
  } catch (error) {
    await abortUpload(client, sdk, bucket, target.to, uploadId);
    throw error;
  }
}

/** The ETag S3 gives a multipart upload of parts with these MD5s (hex). */
export function multipartEtag(partMd5s: readonly string[]): string {
  const joined = createHash("md5");
  for (const part of partMd5s) joined.update(Buffer.from(part, "hex"));
  return `${joined.digest("hex")}-${partMd5s.length}`;
}

/**
 * Throws Integrity when the server's ETag shows it stored other bytes than were sent. Silent when the
 * ETag cannot tell (encrypted with a key, or a server whose ETags are not MD5-based): then the
 * Content-MD5 sent with every body is the only check, and it is the server's.
 */
export function checkEtag(
  answer: EncryptionHeaders & { ETag?: string | undefined },
  expected: string,
  object: { bucket: string; key: string; what: string },
): void {
  if (isEncryptedWithKey(answer)) return;
  const etag = unquote(answer.ETag)?.toLowerCase();
  if (etag === undefined || !(HEX_MD5.test(etag) || /^[0-9a-f]{32}-\d+$/.test(etag))) return;
  if (etag === expected) return;
  throw errors.integrity(
    `write s3://${object.bucket}/${object.key}: the server stored other bytes than were sent (${object.what} ETag ${etag}, sent ${expected}): corrupted on the way`,
    { system: "s3", path: object.key, retryable: true },
  );
}

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
