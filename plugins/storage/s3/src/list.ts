/**
 * Listing, and entries from what S3 answers. ListObjectsV2 pages come as decoded keys: keys are
 * requested URL-encoded (XML cannot carry every character a key may hold: parsers turn CR into LF) and
 * decoded only when the server says it encoded them — a server that ignores `encoding-type` does not
 * echo it, and its keys are raw.
 *
 * What an S3 ETag proves: for an object stored without a KMS or customer key, a PutObject's ETag is
 * the MD5 of the bytes the server received (write.ts checks it); with SSE-KMS or SSE-C it is not an
 * MD5 (AWS documents this), and the answer's encryption headers say which case applies.
 */

import type {
  _Object,
  HeadObjectCommandOutput,
  ListObjectsV2CommandOutput,
  S3Client,
} from "@aws-sdk/client-s3";
import { compareKeys, type Entry, errors } from "@ferry/plugin-kit";
import { requestOptions, type S3Sdk } from "./client.ts";

/** The metadata key of a whole object's MD5 (base64), as rclone names it. */
export const MD5_METADATA_KEY = "md5chksum";
export const HEX_MD5 = /^[0-9a-f]{32}$/;
export const unquote = (etag: string | undefined) => etag?.replace(/^"|"$/g, "");

/** The encryption headers of an S3 answer. */
export interface EncryptionHeaders {
  ServerSideEncryption?: string | undefined;
  SSECustomerAlgorithm?: string | undefined;
}

/** SSE-KMS (any aws:kms variant) or SSE-C: the ETag is then not an MD5 of the content. */
export function isEncryptedWithKey(head: EncryptionHeaders): boolean {
  return (
    head.SSECustomerAlgorithm !== undefined ||
    (head.ServerSideEncryption !== undefined && head.ServerSideEncryption !== "AES256")
  );
}

/** The MD5 an object's headers prove: a single-part, unencrypted ETag, or the md5 ferry (or rclone) recorded. */
export function md5Of(
  etag: string | undefined,
  metadata: Record<string, string> | undefined,
  encrypted: boolean,
): string | undefined {
  const recorded = metadata?.[MD5_METADATA_KEY];
  if (recorded) {
    const hex = Buffer.from(recorded, "base64").toString("hex");
    if (HEX_MD5.test(hex)) return hex;
  }
  const plain = unquote(etag)?.toLowerCase();
  return !encrypted && plain !== undefined && HEX_MD5.test(plain) ? plain : undefined;
}

/** The entry a HeadObject answer describes. */
export function entryOfHead(path: string, head: HeadObjectCommandOutput): Entry {
  return {
    path,
    kind: "file",
    size: head.ContentLength ?? 0,
    mtime: head.LastModified,
    etag: unquote(head.ETag),
    md5: md5Of(head.ETag, head.Metadata, isEncryptedWithKey(head)),
    contentType: head.ContentType,
  };
}

export interface ListedObject {
  key: string;
  object: _Object;
}

export interface ListedPage {
  objects: ListedObject[];
  /** Common prefixes, with their trailing delimiter. */
  prefixes: string[];
}

export interface ListRequest {
  bucket: string;
  prefix: string;
  delimiter?: string | undefined;
  pageSize?: number | undefined;
  startAfter?: string | undefined;
  signal?: AbortSignal | undefined;
}

/** `encoding-type=url` keys: percent-encoded, with spaces as "+" (form encoding). */
function decodeListedKey(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, " "));
}

/** `send` runs one request (the driver passes its error-mapping wrapper). */
export async function* listPages(
  send: (
    run: (client: S3Client, sdk: S3Sdk) => Promise<ListObjectsV2CommandOutput>,
  ) => Promise<ListObjectsV2CommandOutput>,
  request: ListRequest,
): AsyncIterable<ListedPage> {
  let token: string | undefined;
  do {
    const page = await send((client, sdk) =>
      client.send(
        new sdk.ListObjectsV2Command({
          Bucket: request.bucket,
          Prefix: request.prefix,
          EncodingType: "url",
          ...(request.delimiter ? { Delimiter: request.delimiter } : {}),
          ...(request.pageSize ? { MaxKeys: request.pageSize } : {}),
          ...(token
            ? { ContinuationToken: token }
            : request.startAfter
              ? { StartAfter: request.startAfter }
              : {}),
        }),
        requestOptions(request.signal),
      ),
    );
    const decode = page.EncodingType === "url" ? decodeListedKey : (key: string) => key;
    yield {
      objects: (page.Contents ?? []).map((object) => ({ key: decode(object.Key!), object })),
      prefixes: (page.CommonPrefixes ?? []).map((common) => decode(common.Prefix!)),
    };
    const next = page.IsTruncated ? page.NextContinuationToken : undefined;
    if (next !== undefined && next === token) {
      throw errors.unexpected(
        `list s3://${request.bucket}/${request.prefix}: the server repeated its continuation token`,
        {
          system: "s3",
        },
      );
    }
    token = next;
  } while (token !== undefined);
}

/**
 * The entries of listed pages, files and directories in S3's order. S3 lists in one global order, so
 * anything not after the last key (or common prefix) yielded is a repeat — some compatible servers
 * (s3rver) repeat a common prefix on the next page.
 */
export async function* entriesOf(pages: AsyncIterable<ListedPage>): AsyncIterable<Entry> {
  let last: string | undefined;
  for await (const page of pages) {
    for (const item of pageItems(page)) {
      if (last !== undefined && compareKeys(item.sortKey, last) <= 0) continue;
      last = item.sortKey;
      yield item.entry;
    }
  }
}

/** S3 orders keys and common prefixes together by UTF-8 bytes; the two lists of a page merged the same way. */
function pageItems(page: ListedPage): Array<{ sortKey: string; entry: Entry }> {
  const items: Array<{ sortKey: string; entry: Entry }> = [];
  for (const { key, object } of page.objects) {
    if (key.endsWith("/")) continue; // directory markers (this directory's own, or any when recursive)
    const entry: Entry = {
      path: key,
      kind: "file",
      size: object.Size ?? 0,
      mtime: object.LastModified,
      etag: unquote(object.ETag),
      // Listings carry no metadata: only a plain ETag proves an MD5 here; stat may find a recorded one.
      md5: md5Of(object.ETag, undefined, false),
    };
    items.push({ sortKey: key, entry });
  }
  for (const key of page.prefixes)
    items.push({ sortKey: key, entry: { path: key.slice(0, -1), kind: "directory", size: 0 } });
  return items.sort((a, b) => compareKeys(a.sortKey, b.sortKey));
}
