/**
 * Reads: one Get Blob per read, whole or ranged, its body's errors mapped as they surface. The Blob
 * API has no suffix ranges, so a suffix is read from an offset the blob's size decides.
 */
import { Readable } from "node:stream";
import type { ContainerClient } from "@azure/storage-blob";
import {
  type Entry,
  FerryError,
  mapStreamErrors,
  type ReadOptions,
  type SignalOptions,
} from "@ferry/plugin-kit";
import type { ServiceHandle } from "./client.ts";
import { signalOption } from "./list.ts";

/** What a read needs of its driver. */
export interface BlobReader {
  handle: ServiceHandle;
  /** One request, its errors mapped to FerryError (the driver's wrapper). */
  run<T>(operation: string, path: string, body: (container: ContainerClient) => Promise<T>): Promise<T>;
  stat(path: string, options: SignalOptions): Promise<Entry>;
  /** A body's error as FerryError; `callerAborted` tells a caller's abort from the SDK's own. */
  mapError(error: unknown, path: string, callerAborted: boolean): FerryError;
}

/** The bytes of `path` (all, or `options.range` of them) as a stream whose errors are FerryErrors. */
export async function readBlob(reader: BlobReader, path: string, options: ReadOptions): Promise<Readable> {
  const range = options.range;
  let offset = 0;
  let count: number | undefined;
  if (range && "suffix" in range) {
    const { size } = await reader.stat(path, options);
    offset = Math.max(0, size - range.suffix);
    if (range.suffix === 0 || size === 0) return Readable.from([]);
  } else if (range) {
    offset = range.offset;
    count = range.length;
    if (count === 0) {
      await reader.stat(path, options);
      return Readable.from([]);
    }
  }
  try {
    const response = await reader.run("read", path, (container) =>
      container.getBlockBlobClient(path).download(offset, count, signalOption(options.signal)),
    );
    const { recentStall } = await reader.handle.service();
    const callerAborted = () => options.signal?.aborted ?? false;
    return mapStreamErrors(response.readableStreamBody as Readable, (error) =>
      reader.mapError(
        sdkAbort(error) && !callerAborted() ? (recentStall?.() ?? error) : error,
        path,
        callerAborted(),
      ),
    );
  } catch (error) {
    // A range starting at or past the end reads nothing (the service answers 416 InvalidRange).
    if (FerryError.isInstance(error, "InvalidInput") && /InvalidRange|416/.test(error.message))
      return Readable.from([]);
    throw error;
  }
}

/** The SDK's own AbortError (its download stream's word for a response cut short). */
function sdkAbort(error: unknown): boolean {
  return (error as { name?: unknown } | undefined)?.name === "AbortError";
}
