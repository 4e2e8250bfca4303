/**
 * Reads: a GetObject per read, whole or ranged, its body's errors mapped as they surface. Whole objects
 * and plain ranges go through the lean GET (lean/get.ts) when the plugin made the client; what it does
 * not take is read again through `client.send()`.
 */
import { Readable } from "node:stream";
import type { GetObjectCommandOutput, S3Client } from "@aws-sdk/client-s3";
import { type FerryError, mapStreamErrors, type ReadOptions } from "@ferry/plugin-kit";
import { requestOptions, type S3Sdk } from "./client.ts";
import type { LeanGet } from "./lean/get.ts";

/** What a read needs of its driver. */
export interface ObjectReader {
  bucket: string;
  /** One request, its errors mapped to FerryError (the driver's wrapper). */
  run<T>(operation: string, path: string, body: (client: S3Client, sdk: S3Sdk) => Promise<T>): Promise<T>;
  /** The bucket's lean GET, or undefined where reads always go through `send()`. */
  leanGet(): Promise<LeanGet | undefined>;
  /** A body's error as FerryError; `callerAborted` tells a caller's abort from the SDK's own. */
  mapError(error: unknown, path: string, callerAborted: boolean): FerryError;
}

/** The bytes of `path` (all, or `options.range` of them) as a stream whose errors are FerryErrors. */
export async function readObject(
  reader: ObjectReader,
  path: string,
  options: ReadOptions,
): Promise<Readable> {
  const range = options.range;
  const header =
    range === undefined
      ? undefined
      : "suffix" in range
        ? `bytes=-${range.suffix}`
        : rangeHeader(range.offset, range.length);
  const get = (rangeValue: string | undefined) =>
    reader.run("read", path, (client, sdk) =>
      client.send(
        new sdk.GetObjectCommand({
          Bucket: reader.bucket,
          Key: path,
          ...(rangeValue ? { Range: rangeValue } : {}),
        }),
        requestOptions(options.signal),
      ),
    );
  const mapErrors = (body: Readable, lean?: LeanGet) =>
    mapStreamErrors(body, (error) =>
      reader.mapError(lean?.stall(error) ?? error, path, options.signal?.aborted ?? false),
    );
  // Whole objects and plain ranges: a signed GET without the middleware stack when the answer is the
  // expected one; anything else is read again below through send(). Suffix ranges always go there.
  const lean = range && "suffix" in range ? undefined : await reader.leanGet();
  if (lean) {
    const body = await reader.run("read", path, () => lean.get(path, header, options.signal));
    if (body) return mapErrors(body, lean);
  }
  let output: GetObjectCommandOutput;
  try {
    output = await get(header);
  } catch (error) {
    // A range starting at or past the end reads nothing (S3 answers 416 InvalidRange).
    if ((error as { cause?: { name?: string } }).cause?.name === "InvalidRange") return Readable.from([]);
    throw error;
  }
  let body = output.Body as Readable;
  if (range && "suffix" in range) {
    // Some S3-compatible servers (s3rver) read `bytes=-N` as `bytes=0-N`; the Content-Range tells.
    const served = parseContentRange(output.ContentRange);
    if (served && served.end !== served.total - 1) {
      body.destroy();
      const start = Math.max(0, served.total - range.suffix);
      body = (await get(`bytes=${start}-${served.total - 1}`)).Body as Readable;
    }
  }
  return mapErrors(body);
}

function rangeHeader(offset: number, length: number | undefined): string {
  return length === undefined ? `bytes=${offset}-` : `bytes=${offset}-${offset + length - 1}`;
}

function parseContentRange(
  value: string | undefined,
): { start: number; end: number; total: number } | undefined {
  const match = value === undefined ? null : /^bytes (\d+)-(\d+)\/(\d+)$/.exec(value);
  return match ? { start: Number(match[1]), end: Number(match[2]), total: Number(match[3]) } : undefined;
}
