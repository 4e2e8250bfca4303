/**
 * Writes: one PutObject for bodies that fit in a part, a multipart upload for everything else.
 * Every request carries Content-MD5 so S3 rejects a corrupted body (BadDigest); the whole object's
 * MD5 is computed as bytes pass, and for multipart uploads recorded in `x-amz-meta-md5chksum`
 * (rclone's name and format) because their ETag is not an MD5. A failed multipart upload is aborted.
 *
 * When the caller declares the MD5, the whole object is not hashed again: core checks the declared
 * MD5 as bytes pass and fails the source before it ends (so a multipart upload is aborted, never
 * completed), and a single PutObject sends the declared MD5 as its Content-MD5, which S3 checks.
 */
import type { CompletedPart, S3Client } from "@aws-sdk/client-s3";
import {
  chunkBytes,
  debugLog,
  forEachConcurrent,
  type Md5Stream,
  md5Of,
  md5OfHandover,
  md5Stream,
  PartRecycler,
  readUpTo,
  throwIfAborted,
} from "@ferry/core";
import { requestOptions, type S3Sdk } from "./client.ts";
import { checkEtag, multipartEtag } from "./etag.ts";
import { GiB } from "./options.ts";

const debug = debugLog("ferry:s3");

export const MD5_METADATA_KEY = "md5chksum";
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
  const parts: CompletedPart[] = [];
  const partMd5s: string[] = [];
  let size = 0;
  const recycler = new PartRecycler(target.concurrency);
  try {
    const hashed = (async function* () {
      for await (const part of chunkBytes(source, partSize, recycler)) {
        whole?.update(part);
        size += part.byteLength;
        yield part;
      }
    })();
    await forEachConcurrent(hashed, target.concurrency, async (filled, index) => {
      throwIfAborted(target.signal);
      // The part's memory goes to the hashing thread and back (no copy); `part` is the same bytes.
      const { digest, bytes: part } = await md5OfHandover(filled, "base64");
      partMd5s[index] = Buffer.from(digest, "base64").toString("hex");
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
      checkEtag(output, partMd5s[index]!, { ...objectOf(target), what: `part ${index + 1}'s` });
      parts[index] = { PartNumber: index + 1, ETag: output.ETag! };
      recycler.give(part); // sent and acknowledged: its memory can hold a later part
    });
    throwIfAborted(target.signal);
    const completed = await client.send(
      new sdk.CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
        ...(target.ifNoneMatch ? { IfNoneMatch: target.ifNoneMatch } : {}),
      }),
      // Completing is not aborted midway: either the object appears whole or not at all.
    );
    const md5 = whole ? await whole.digest("hex") : target.md5!;
    // Each part's ETag was checked as it was acknowledged; this checks that the parts were assembled.
    // S3 answers MD5-of-part-MD5s "-N"; a server that answers a plain MD5 (s3rver) states the whole's.
    const expected = /-\d+"?$/.test(completed.ETag ?? "") ? multipartEtag(partMd5s) : md5;
    await keepOnlyIfReceived(target, () =>
      checkEtag(completed, expected, { ...objectOf(target), what: "the completed upload's" }),
    );
    let etag = completed.ETag;
    if (!target.md5 && target.recordMultipartMd5 && size <= target.copyCutoff) {
      etag = await recordMd5(target, md5, etag).catch((error: unknown) => {
        // The object is complete and correct; without the record its MD5 is merely unknown to readers.
        debug("recording the MD5 of s3://%s/%s failed: %s", bucket, key, (error as Error).name);
        return etag;
      });
    }
    return { etag, md5, size, multipart: true };
  } catch (error) {
    whole?.drop();
    await abortUpload(client, sdk, bucket, key, uploadId);
    throw error;
  }
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
