/**
 * Listing, and entries from what the service answers: List Blobs pages (flat when recursive, by
 * hierarchy otherwise) as entries in the service's order, blob names and prefixes merged.
 */
import type { BlobGetPropertiesResponse, ContainerClient } from "@azure/storage-blob";
import { compareKeys, type Entry, type FerryError, type ListOptions } from "@ferry/plugin-kit";
import { LIST_PAGE_MAX } from "./capabilities.ts";

export const signalOption = (signal: AbortSignal | undefined) => (signal ? { abortSignal: signal } : {});
const hex = (md5: Uint8Array | undefined) =>
  md5 && md5.byteLength === 16 ? Buffer.from(md5).toString("hex") : undefined;
export const unquote = (etag: string | undefined) => etag?.replace(/^"|"$/g, "");

interface BlobItemLike {
  name: string;
  properties: {
    contentLength?: number | undefined;
    lastModified?: Date | undefined;
    etag?: string | undefined;
    contentMD5?: Uint8Array | undefined;
    contentType?: string | undefined;
  };
}

interface ListedPage {
  segment: { blobItems: BlobItemLike[]; blobPrefixes?: Array<{ name: string }> };
}

/** The entry a Get Blob Properties answer describes. */
export function entryOfProperties(path: string, properties: BlobGetPropertiesResponse): Entry {
  return {
    path,
    kind: "file",
    size: properties.contentLength ?? 0,
    mtime: properties.lastModified,
    etag: unquote(properties.etag),
    md5: hex(properties.contentMD5),
    contentType: properties.contentType,
  };
}

/** The entries below `dir`; a failed page request is thrown as `mapError` makes it. */
export async function* listEntries(
  container: ContainerClient,
  dir: string,
  options: ListOptions,
  mapError: (error: unknown) => FerryError,
): AsyncIterable<Entry> {
  const prefix = dir === "" ? "" : `${dir}/`;
  const maxPageSize = Math.min(options.pageSize ?? LIST_PAGE_MAX, LIST_PAGE_MAX);
  const pages = options.recursive
    ? container.listBlobsFlat({ prefix, ...signalOption(options.signal) }).byPage({ maxPageSize })
    : container
        .listBlobsByHierarchy("/", { prefix, ...signalOption(options.signal) })
        .byPage({ maxPageSize });
  const iterator = pages[Symbol.asyncIterator]();
  for (;;) {
    let next: IteratorResult<ListedPage>;
    try {
      next = await iterator.next();
    } catch (error) {
      throw mapError(error);
    }
    if (next.done) return;
    yield* pageEntries(next.value);
  }
}

/** Azure lists blobs and prefixes in one order by name; the two lists of a page merged the same way. */
function pageEntries(page: ListedPage): Entry[] {
  const items: Array<{ sortKey: string; entry: Entry }> = [];
  for (const blob of page.segment.blobItems) {
    if (blob.name.endsWith("/")) continue; // directory markers
    items.push({
      sortKey: blob.name,
      entry: {
        path: blob.name,
        kind: "file",
        size: blob.properties.contentLength ?? 0,
        mtime: blob.properties.lastModified,
        etag: unquote(blob.properties.etag),
        md5: hex(blob.properties.contentMD5),
        contentType: blob.properties.contentType,
      },
    });
  }
  for (const blobPrefix of page.segment.blobPrefixes ?? []) {
    items.push({
      sortKey: blobPrefix.name,
      entry: { path: blobPrefix.name.slice(0, -1), kind: "directory", size: 0 },
    });
  }
  items.sort((a, b) => compareKeys(a.sortKey, b.sortKey));
  return items.map((item) => item.entry);
}
