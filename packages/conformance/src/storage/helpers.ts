/** Small tools the cases share: deterministic data, hashing, collecting listings, typed-error checks. */
import { createHash } from "node:crypto";
import {
  type Capabilities,
  type Entry,
  type ErrorCode,
  FerryError,
  type ListOptions,
  type Storage,
  type StorageDriver,
} from "@ferry/plugin-kit";
import { expect } from "vitest";

/** `size` pseudo-random bytes, the same for the same seed (xorshift32). */
export function bytes(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let state = (seed * 2654435761) >>> 0 || 1;
  for (let index = 0; index < size; index++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    out[index] = state & 0xff;
  }
  return out;
}

export function text(value: string): Uint8Array {
  return new TextEncoder().encode(value);
}

export function hashHex(algorithm: string, data: Uint8Array): string {
  return createHash(algorithm).update(data).digest("hex");
}

export const md5Hex = (data: Uint8Array): string => hashHex("md5", data);

export async function readText(storage: Storage, path: string): Promise<string> {
  return new TextDecoder().decode(await storage.readBytes(path));
}

export async function listEntries(
  storage: Storage,
  dir: string,
  options: ListOptions = {},
): Promise<Entry[]> {
  const entries: Entry[] = [];
  for await (const entry of storage.list(dir, options)) entries.push(entry);
  return entries;
}

export async function listPaths(storage: Storage, dir: string, options: ListOptions = {}): Promise<string[]> {
  return (await listEntries(storage, dir, options)).map((entry) => entry.path);
}

/** `path/` for directories, `path` for files: one string that shows both name and kind. */
export async function listShape(storage: Storage, dir: string, options: ListOptions = {}): Promise<string[]> {
  return (await listEntries(storage, dir, options)).map((entry) =>
    entry.kind === "directory" ? `${entry.path}/` : entry.path,
  );
}

/** Asserts that `action` rejects with a FerryError whose code is one of `codes`; returns it. */
export async function expectFerryError(
  action: Promise<unknown> | (() => Promise<unknown>),
  ...codes: ErrorCode[]
): Promise<FerryError> {
  let caught: unknown;
  try {
    await (typeof action === "function" ? action() : action);
  } catch (error) {
    caught = error;
  }
  if (caught === undefined)
    expect.fail(`expected a FerryError (${codes.join(" or ")}), but the operation succeeded`);
  if (!FerryError.isInstance(caught)) {
    expect.fail(
      `expected a FerryError (${codes.join(" or ")}), got ${String((caught as Error)?.stack ?? caught)}`,
    );
  }
  expect(codes, `error code of: ${caught.message}`).toContain(caught.code);
  return caught;
}

/** Yields `chunks`, then throws `error`: a source that dies mid-upload. */
export async function* failingSource(chunks: readonly Uint8Array[], error: Error): AsyncIterable<Uint8Array> {
  for (const chunk of chunks) yield chunk;
  throw error;
}

/** Yields `chunks`, then waits until `signal` aborts (and never yields again). */
export async function* stallingSource(
  chunks: readonly Uint8Array[],
  signal: AbortSignal,
  started: () => void,
): AsyncIterable<Uint8Array> {
  for (const chunk of chunks) yield chunk;
  started();
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/**
 * Splits `data` into chunks of `size` (the last may be shorter), yielded asynchronously, with no size
 * known up front. With `failAfter`, the source throws once that many bytes have been yielded: a source
 * that dies mid-upload.
 */
export async function* streamed(
  data: Uint8Array,
  size: number,
  failAfter?: number,
): AsyncIterable<Uint8Array> {
  for (let offset = 0; offset < data.byteLength; offset += size) {
    if (failAfter !== undefined && offset >= failAfter) throw new Error("source broke mid-stream");
    await Promise.resolve();
    yield data.slice(offset, offset + size);
  }
}

export function equalBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.byteLength, "length").toBe(expected.byteLength);
  expect(md5Hex(actual), "content").toBe(md5Hex(expected));
}

/** Write each `path → content` (text), in parallel. */
export async function seed(storage: Storage, files: Record<string, string | Uint8Array>): Promise<void> {
  await Promise.all(Object.entries(files).map(([path, content]) => storage.write(path, content)));
}

export type DriverOverrides = Partial<Omit<StorageDriver, "capabilities">> & {
  capabilities?: Partial<Omit<Capabilities, "limits">> & { limits?: Partial<Capabilities["limits"]> };
};

/**
 * `driver` with some members replaced: capabilities (merged, limits too) and any operations. Every
 * other operation forwards to the original, bound to it (drivers may use private fields).
 */
export function overrideDriver(driver: StorageDriver, overrides: DriverOverrides): StorageDriver {
  const { capabilities, ...operations } = overrides;
  const forwarded: Record<string, unknown> = {
    system: driver.system,
    root: driver.root,
    capabilities: {
      ...driver.capabilities,
      ...capabilities,
      limits: { ...driver.capabilities.limits, ...capabilities?.limits },
    },
  };
  const methods = [
    "stat",
    "list",
    "read",
    "write",
    "delete",
    "copy",
    "move",
    "mkdir",
    "deleteDirectory",
    "checksum",
    "exec",
    "presign",
    "cleanup",
    "close",
  ] as const;
  for (const name of methods) {
    const method = driver[name] as ((...args: unknown[]) => unknown) | undefined;
    if (method) forwarded[name] = method.bind(driver);
  }
  return { ...(forwarded as unknown as StorageDriver), ...operations };
}
