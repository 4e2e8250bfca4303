/**
 * ListObjectsV2 as pages of decoded keys. Keys are requested URL-encoded (XML cannot carry every
 * character a key may hold: parsers turn CR into LF) and decoded only when the server says it encoded
 * them — a server that ignores `encoding-type` does not echo it, and its keys are raw.
 */

import type { _Object, ListObjectsV2CommandOutput, S3Client } from "@aws-sdk/client-s3";
import { errors } from "@ferry/core";
import { requestOptions, type S3Sdk } from "./client.ts";

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
