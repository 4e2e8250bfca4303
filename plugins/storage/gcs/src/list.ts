/** Object resources → ferry entries, and the metadata ferry writes alongside an object. */
import type { Entry } from "@ferry/core";

/** Fields of a GCS object resource that ferry reads. */
export interface ObjectResource {
  name?: string;
  size?: string | number;
  generation?: string | number;
  md5Hash?: string;
  crc32c?: string;
  contentType?: string;
  updated?: string;
  metadata?: Record<string, string | number | boolean | null> | null;
}

/**
 * The caller's mtime, as rclone records it (`mtime`, RFC 3339 with sub-second precision) and as
 * gsutil does (`goog-reserved-file-mtime`, whole seconds), so either tool shows it too.
 */
export function mtimeMetadata(mtime: Date): Record<string, string> {
  return {
    mtime: mtime.toISOString(),
    "goog-reserved-file-mtime": String(Math.floor(mtime.getTime() / 1000)),
  };
}

function recordedMtime(resource: ObjectResource): Date | undefined {
  const metadata = resource.metadata ?? {};
  const precise = metadata.mtime;
  if (typeof precise === "string") {
    const parsed = new Date(precise);
    if (!Number.isNaN(parsed.getTime())) return parsed;
  }
  const seconds = Number(metadata["goog-reserved-file-mtime"]);
  if (Number.isFinite(seconds) && seconds > 0) return new Date(seconds * 1000);
  return resource.updated ? new Date(resource.updated) : undefined;
}

export function base64ToHex(value: string | undefined): string | undefined {
  return value === undefined ? undefined : Buffer.from(value, "base64").toString("hex");
}

export function fileEntry(path: string, resource: ObjectResource): Entry {
  return {
    path,
    kind: "file",
    size: Number(resource.size ?? 0),
    mtime: recordedMtime(resource),
    // The generation changes with every write of the data (not with metadata edits), which is what
    // a version tag for change detection needs.
    etag: resource.generation === undefined ? undefined : String(resource.generation),
    md5: base64ToHex(resource.md5Hash),
    contentType: resource.contentType,
  };
}

export function directoryEntry(path: string): Entry {
  return { path, kind: "directory", size: 0 };
}
