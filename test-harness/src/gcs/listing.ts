/**
 * objects.list semantics: byte-ordered names, prefix, startOffset (inclusive) / endOffset
 * (exclusive), delimiter folding into `prefixes`, includeTrailingDelimiter, maxResults counting
 * items and prefixes together, and an opaque page token naming the last entry returned.
 */
import { gcsErrors } from "./errors.ts";
import { compareNames, type StoredObject } from "./store.ts";

export interface ListQuery {
  prefix?: string | undefined;
  delimiter?: string | undefined;
  startOffset?: string | undefined;
  endOffset?: string | undefined;
  includeTrailingDelimiter?: boolean | undefined;
  maxResults?: number | undefined;
  pageToken?: string | undefined;
}

export interface ListPage {
  items: StoredObject[];
  prefixes: string[];
  nextPageToken?: string | undefined;
}

/** The service's own cap and default. */
export const MAX_LIST_RESULTS = 1000;

export function encodePageToken(lastKey: string): string {
  return Buffer.from(lastKey, "utf8").toString("base64url");
}

export function decodePageToken(token: string): string {
  const decoded = Buffer.from(token, "base64url").toString("utf8");
  if (encodePageToken(decoded) !== token) throw gcsErrors.invalid("Invalid page token.");
  return decoded;
}

export function listObjects(
  sortedNames: readonly string[],
  lookup: (name: string) => StoredObject,
  query: ListQuery,
): ListPage {
  const prefix = query.prefix ?? "";
  const delimiter = query.delimiter;
  const max = Math.min(Math.max(query.maxResults ?? MAX_LIST_RESULTS, 1), MAX_LIST_RESULTS);
  const after = query.pageToken === undefined ? undefined : decodePageToken(query.pageToken);
  const page: ListPage = { items: [], prefixes: [] };
  let emitted = 0;
  let lastKey: string | undefined;
  for (
    let index = firstIndex(sortedNames, [prefix, query.startOffset, after]);
    index < sortedNames.length;
    index++
  ) {
    const name = sortedNames[index]!;
    if (!name.startsWith(prefix)) {
      if (compareNames(name, prefix) > 0) break;
      continue;
    }
    if (query.startOffset !== undefined && compareNames(name, query.startOffset) < 0) continue;
    if (query.endOffset !== undefined && compareNames(name, query.endOffset) >= 0) break;
    const folded = delimiter ? foldedPrefix(name, prefix, delimiter) : undefined;
    const key = folded ?? name;
    if (after !== undefined && compareNames(key, after) <= 0) continue;
    if (key === lastKey) continue;
    if (emitted >= max) {
      page.nextPageToken = encodePageToken(lastKey!);
      break;
    }
    if (folded !== undefined) {
      page.prefixes.push(folded);
      if (query.includeTrailingDelimiter && name === folded) page.items.push(lookup(name));
    } else {
      page.items.push(lookup(name));
    }
    lastKey = key;
    emitted += 1;
  }
  return page;
}

/** The `prefixes[]` entry a name folds into, or undefined when it is listed as an item. */
function foldedPrefix(name: string, prefix: string, delimiter: string): string | undefined {
  const at = name.indexOf(delimiter, prefix.length);
  return at < 0 ? undefined : name.slice(0, at + delimiter.length);
}

/** Binary search for the first name that can match, so deep pages do not rescan the bucket. */
function firstIndex(names: readonly string[], bounds: readonly (string | undefined)[]): number {
  const floor = bounds.reduce<string>(
    (max, bound) => (bound !== undefined && compareNames(bound, max) > 0 ? bound : max),
    "",
  );
  let low = 0;
  let high = names.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compareNames(names[mid]!, floor) < 0) low = mid + 1;
    else high = mid;
  }
  return low;
}
