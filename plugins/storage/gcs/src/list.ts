/**
 * Listing: objects.list pages (one level with `delimiter=/`, or recursive without), merged into
 * entries in name order, and the entries object resources make (also for stat, write and copy).
 */
import type { Entry, ListOptions } from "@ferry/plugin-kit";
import type { Bucket } from "@google-cloud/storage";

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

/** The caller's mtime as write.ts records it (`mtime`, else `goog-reserved-file-mtime`), else `updated`. */
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

export interface ListPage {
  items?: ObjectResource[];
  prefixes?: string[];
  nextPageToken?: string;
}

export const MAX_PAGE = 1000;

/** One page of objects.list, raw (items and prefixes as the API returns them). */
export async function listPage(bucket: Bucket, query: Record<string, unknown>): Promise<ListPage> {
  const [, , response] = await bucket.getFiles({ ...query, autoPaginate: false });
  return (response ?? {}) as ListPage;
}

/**
 * The entries below `dir`, page by page; `fetchPage` gets one page of a query (the driver's, which
 * maps its errors).
 */
export async function* listEntries(
  fetchPage: (query: Record<string, unknown>) => Promise<ListPage>,
  dir: string,
  options: ListOptions,
): AsyncIterable<Entry> {
  const prefix = dir === "" ? "" : `${dir}/`;
  const recursive = options.recursive ?? false;
  const query: Record<string, unknown> = {
    prefix,
    maxResults: Math.min(options.pageSize ?? MAX_PAGE, MAX_PAGE),
    ...(recursive ? {} : { delimiter: "/" }),
    // startOffset is inclusive and startAfter exclusive: core drops the one entry equal to it.
    ...(options.startAfter !== undefined && options.startAfter > prefix
      ? { startOffset: options.startAfter }
      : {}),
  };
  let pageToken: string | undefined;
  do {
    const page = await fetchPage({ ...query, ...(pageToken ? { pageToken } : {}) });
    yield* pageEntries(page, prefix, recursive);
    pageToken = page.nextPageToken;
  } while (pageToken);
}

/** Items and prefixes of one page merged in name order (a prefix `d/` sorts as `d/`). */
function* pageEntries(page: ListPage, prefix: string, recursive: boolean): Iterable<Entry> {
  const files = (page.items ?? []).filter(
    (item) => item.name !== undefined && item.name !== prefix && !item.name.endsWith("/"),
  );
  // Names that cannot be keys (`a/../b`, `c//d`) go through too: core reports them (onUnaddressable).
  const dirs = recursive ? [] : (page.prefixes ?? []);
  let fileIndex = 0;
  let dirIndex = 0;
  while (fileIndex < files.length || dirIndex < dirs.length) {
    const file = files[fileIndex];
    const dirName = dirs[dirIndex];
    if (
      file &&
      (dirName === undefined || Buffer.compare(Buffer.from(file.name!), Buffer.from(dirName)) < 0)
    ) {
      yield fileEntry(file.name!, file);
      fileIndex += 1;
    } else if (dirName !== undefined) {
      yield directoryEntry(dirName.slice(0, -1));
      dirIndex += 1;
    }
  }
}
