/**
 * `cleanup`: multipart uploads below a prefix that were started and never completed or aborted — a
 * writer killed mid-upload leaves its parts stored (and billed) until a lifecycle rule or this
 * removes them. An upload carries nothing ferry can name its writer by (ListMultipartUploads returns
 * no metadata), so core's age rule alone applies (leftovers.ts in @ferry/plugin-kit): an upload is stale
 * when its newest part (or, with none, its start) is older than `olderThanMs`. Removed with
 * AbortMultipartUpload. A server that cannot list or abort uploads is reported, never passed over.
 */
import type { ListMultipartUploadsCommandOutput, S3Client } from "@aws-sdk/client-s3";
import { type CleanupOptions, type CleanupResult, type Leftover, staleByAge } from "@ferry/plugin-kit";
import type { S3Sdk } from "./client.ts";
import { requestOptions } from "./client.ts";

const errorLine = (error: unknown) => {
  const { name, message } = error as { name?: string; message?: string };
  return `${name ?? "Error"}: ${(message ?? String(error)).split("\n")[0]}`;
};

export async function cleanupUploads(
  client: S3Client,
  sdk: S3Sdk,
  bucket: string,
  prefix: string,
  options: CleanupOptions,
): Promise<CleanupResult> {
  const request = requestOptions(options.signal);
  const below = (key: string) => prefix === "" || key === prefix || key.startsWith(`${prefix}/`);
  const leftovers: Leftover[] = [];
  const now = Date.now();
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  do {
    let page: ListMultipartUploadsCommandOutput;
    try {
      page = await client.send(
        new sdk.ListMultipartUploadsCommand({
          Bucket: bucket,
          Prefix: prefix,
          ...(keyMarker ? { KeyMarker: keyMarker } : {}),
          ...(uploadIdMarker ? { UploadIdMarker: uploadIdMarker } : {}),
        }),
        request,
      );
    } catch (error) {
      if (options.signal?.aborted) throw error;
      const where = `s3://${bucket}/${prefix}`;
      return {
        leftovers,
        unchecked: [
          `unfinished multipart uploads below ${where}: the server did not list them (${errorLine(error)})`,
        ],
      };
    }
    for (const upload of page.Uploads ?? []) {
      const { Key: key, UploadId: uploadId } = upload;
      if (!key || !uploadId || !below(key)) continue;
      const { size, newest } = await partsOf(client, sdk, bucket, key, uploadId, request);
      const modified = newest ?? upload.Initiated;
      const reason = staleByAge(modified, options.olderThanMs, now);
      if (reason === undefined) continue;
      const leftover: Leftover = {
        path: key,
        kind: "multipart-upload",
        size,
        modified,
        reason,
        status: options.dryRun ? "would-remove" : "removed",
      };
      if (!options.dryRun) {
        try {
          await client.send(
            new sdk.AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }),
            request,
          );
        } catch (error) {
          if (options.signal?.aborted) throw error;
          leftover.status = "failed";
          leftover.error = `the server did not abort upload ${uploadId} (${errorLine(error)})`;
        }
      }
      leftovers.push(leftover);
    }
    keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
  } while (keyMarker);
  return { leftovers, unchecked: [] };
}

/** Bytes stored so far and the newest part's time (undefined when the server lists no parts). */
async function partsOf(
  client: S3Client,
  sdk: S3Sdk,
  bucket: string,
  key: string,
  uploadId: string,
  request: ReturnType<typeof requestOptions>,
): Promise<{ size: number; newest: Date | undefined }> {
  let size = 0;
  let newest: Date | undefined;
  let marker: string | undefined;
  try {
    do {
      const page = await client.send(
        new sdk.ListPartsCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          ...(marker ? { PartNumberMarker: marker } : {}),
        }),
        request,
      );
      for (const part of page.Parts ?? []) {
        size += part.Size ?? 0;
        if (part.LastModified && (!newest || part.LastModified > newest)) newest = part.LastModified;
      }
      marker = page.IsTruncated ? page.NextPartNumberMarker : undefined;
    } while (marker);
  } catch {
    // Parts unknown: the upload's start decides its age.
  }
  return { size, newest };
}
