/** JSON resources as the GCS JSON API returns them: int64 fields as strings, RFC 3339 times. */
import { createHash } from "node:crypto";
import type { StoredBucket, StoredObject } from "./store.ts";

export function objectEtag(object: StoredObject): string {
  return createHash("md5")
    .update(`${object.generation}/${object.metageneration}`)
    .digest("base64")
    .slice(0, 16);
}

export function objectResource(object: StoredObject, baseUrl: string): Record<string, unknown> {
  const encoded = encodeURIComponent(object.name);
  return {
    kind: "storage#object",
    id: `${object.bucket}/${object.name}/${object.generation}`,
    selfLink: `${baseUrl}/storage/v1/b/${object.bucket}/o/${encoded}`,
    mediaLink: `${baseUrl}/download/storage/v1/b/${object.bucket}/o/${encoded}?generation=${object.generation}&alt=media`,
    name: object.name,
    bucket: object.bucket,
    generation: String(object.generation),
    metageneration: String(object.metageneration),
    contentType: object.contentType,
    storageClass: object.storageClass,
    size: String(object.size),
    ...(object.md5Hash === undefined ? {} : { md5Hash: object.md5Hash }),
    crc32c: object.crc32c,
    ...(object.componentCount === undefined ? {} : { componentCount: object.componentCount }),
    etag: objectEtag(object),
    timeCreated: object.timeCreated.toISOString(),
    updated: object.updated.toISOString(),
    timeStorageClassUpdated: object.timeCreated.toISOString(),
    ...(object.contentEncoding === undefined ? {} : { contentEncoding: object.contentEncoding }),
    ...(object.contentDisposition === undefined ? {} : { contentDisposition: object.contentDisposition }),
    ...(object.contentLanguage === undefined ? {} : { contentLanguage: object.contentLanguage }),
    ...(object.cacheControl === undefined ? {} : { cacheControl: object.cacheControl }),
    ...(object.customTime === undefined ? {} : { customTime: object.customTime }),
    ...(object.metadata === undefined ? {} : { metadata: object.metadata }),
  };
}

export function bucketResource(bucket: StoredBucket, projectNumber: string): Record<string, unknown> {
  return {
    kind: "storage#bucket",
    id: bucket.name,
    name: bucket.name,
    projectNumber,
    metageneration: String(bucket.metageneration),
    location: bucket.location,
    locationType: "multi-region",
    storageClass: bucket.storageClass,
    etag: Buffer.from(`bucket-${bucket.metageneration}`).toString("base64"),
    timeCreated: bucket.timeCreated.toISOString(),
    updated: bucket.updated.toISOString(),
    ...(Object.keys(bucket.labels).length > 0 ? { labels: bucket.labels } : {}),
  };
}
