/**
 * Blob: a single file of bytes on any system. ferry assumes nothing about what the bytes mean —
 * serialize before `write`, deserialize after `fetch` (as Runhouse's docs put it: "we do not make
 * any assumptions about deserializing the underlying blob data").
 */
import type { Readable } from "node:stream";
import { Readable as NodeReadable } from "node:stream";
import type { WriteSource } from "@ferry/plugin-kit";
import { errors, FerryError } from "@ferry/plugin-kit";
import { ferry } from "./default.ts";
import { type Location, type LocationLike, withPath } from "./location.ts";
import type { RegistryEntry } from "./registry/entry.ts";
import { entryLocation, loadNamed, type SaveNamedOptions } from "./registry/named.ts";
import type { LoadOptions, ResourceRegistryOptions } from "./registry/registry.ts";
import type { ResourceFactoryContext } from "./registry/resources.ts";
import { LocatedResource } from "./resource.ts";
import {
  type Chained,
  chained,
  checkOptions,
  isPlainObject,
  isResourceSpec,
  type PlaceLike,
  type ResourceSpec,
  specKeys,
  specPlace,
} from "./resource-spec.ts";
import { type ResourceOptions, type ResourceTransferOptions, transferResource } from "./resource-target.ts";

export interface BlobOptions extends ResourceOptions {
  /** Content to keep until `write()` is called. */
  data?: WriteSource;
}

const BLOB_OPTION_KEYS = ["registry", "metadata", "name", "data"] as const;

/** Bytes, text or a stream; anything else (an array, an object) is InvalidInput asking to serialize it. */
function checkBlobData(data: unknown): WriteSource | undefined {
  if (
    data === undefined ||
    typeof data === "string" ||
    data instanceof Uint8Array ||
    data instanceof NodeReadable ||
    (typeof data === "object" && data !== null && Symbol.asyncIterator in data)
  )
    return data as WriteSource | undefined;
  const what = Array.isArray(data) ? "an array" : data === null ? "null" : `a ${typeof data}`;
  throw errors.invalidInput(
    `blob data must be bytes (Uint8Array or Buffer), text or a stream, got ${what}: serialize it first, e.g. JSON.stringify(data)`,
  );
}

/** What `write()`'s promise chains to: `blob.write().save()`. */
type BlobChain = "save" | "to" | "fetch" | "text" | "exists";
const BLOB_CHAIN: readonly BlobChain[] = ["save", "to", "fetch", "text", "exists"];

export class Blob extends LocatedResource<"blob"> {
  /** The blob a registry entry describes (how the resource registry loads a saved one). */
  static fromEntry(entry: RegistryEntry, { plugins }: ResourceFactoryContext): Blob {
    return new Blob(entryLocation(entry), { registry: plugins, metadata: entry.metadata, name: entry.name });
  }

  #data: WriteSource | undefined;
  /** Data given at creation and not written yet: `save()` writes it first. */
  #unwritten: boolean;
  /** `location` defaults to `ferry-blob/<32 hex>` in the working directory. */
  constructor(location?: PlaceLike, options: BlobOptions = {}) {
    checkOptions(options, BLOB_OPTION_KEYS, "a blob");
    const data = checkBlobData(options.data);
    super("blob", location, options);
    this.#data = data;
    this.#unwritten = data !== undefined;
  }

  protected override checkPlace(location: Location): void {
    if (location.path === "") {
      throw errors.invalidInput(`a blob is one file; ${location.url} names no file`, {
        system: location.system,
      });
    }
  }

  /** The Blob saved under `name` (`~/x` local, `@/x` shared); `version` loads an earlier save. */
  static fromName(name: string, options: LoadOptions & ResourceRegistryOptions = {}): Promise<Blob> {
    return loadNamed<Blob>(name, "blob", options);
  }

  /** Save in the resource registry; data the blob was created with and has not written yet is written first. */
  override async save(options: SaveNamedOptions = {}): Promise<this> {
    if (this.#unwritten) await this.write();
    return super.save(options);
  }

  /**
   * Write `data` (or the data the blob was created with). Atomic: readers see the old content or the
   * new, never half. Chains: `await blob.write().save()`.
   */
  write(data?: WriteSource, options: { signal?: AbortSignal } = {}): Chained<this, BlobChain> {
    return chained(this.#write(data, options), BLOB_CHAIN);
  }

  async #write(data: WriteSource | undefined, options: { signal?: AbortSignal }): Promise<this> {
    checkOptions(options, ["signal"], "blob.write()");
    const content = checkBlobData(data) ?? this.#data;
    if (content === undefined) {
      throw errors.invalidInput(
        `nothing to write to ${this.url}: pass the data to write() or to blob(data, location)`,
        {
          system: this.system,
          path: this.path,
        },
      );
    }
    await (await this.storage()).write(this.path, content, options);
    // A stream can only be consumed once; bytes and text stay available for another write.
    this.#data = typeof content === "string" || content instanceof Uint8Array ? content : undefined;
    this.#unwritten = false;
    return this;
  }

  /** The whole content as bytes. */
  async fetch(options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    return (await this.storage()).readBytes(this.path, options);
  }

  /** The whole content as UTF-8 text. */
  async text(options: { signal?: AbortSignal } = {}): Promise<string> {
    return new TextDecoder().decode(await this.fetch(options));
  }

  /** The content as a stream, for data too big to hold in memory. */
  async stream(options: { signal?: AbortSignal } = {}): Promise<Readable> {
    return (await this.storage()).read(this.path, options);
  }

  async exists(): Promise<boolean> {
    try {
      return (await (await this.storage()).stat(this.path)).kind === "file";
    } catch (error) {
      if (FerryError.isInstance(error, "NotFound")) return false;
      throw error;
    }
  }

  /** Remove the file; a missing one is fine. */
  async rm(options: { signal?: AbortSignal } = {}): Promise<void> {
    await (await this.storage()).delete(this.path, options);
  }

  /**
   * Copy the blob to another system or place and return a Blob there (this one is unchanged).
   * With no key at the destination it goes to `ferry-blob/<32 hex>`; a destination that is a
   * directory receives the file under its own name.
   */
  async to(target: LocationLike, path?: string, options: ResourceTransferOptions = {}): Promise<Blob> {
    await this.ready();
    const { destination, summary } = await transferResource(
      "blob",
      this.location,
      target,
      path,
      this.registry,
      options,
    );
    const landed = summary.plan[0]?.destinationKey ?? destination.path;
    const copied = new Blob(withPath(destination, landed), {
      registry: this.registry,
      metadata: this.metadata,
    });
    copied.notes = summary.notes;
    return copied;
  }
}

/**
 * A Blob holding `data` (written by `write()`) at `location` (default: `ferry-blob/<32 hex>` in the
 * working directory), or Runhouse's spelling `blob({ data, name, path, system })`. Always returns the
 * Blob at once; a name alone (`blob({ name })`) is the saved blob, looked up by its first awaited
 * method (or `ready()`).
 */
export function blob(spec: ResourceSpec & { data?: WriteSource }, options?: ResourceOptions): Blob;
export function blob(data?: WriteSource, location?: LocationLike, options?: ResourceOptions): Blob;
export function blob(
  data?: WriteSource | (ResourceSpec & { data?: WriteSource }),
  location?: LocationLike | ResourceOptions,
  options: ResourceOptions = {},
): Blob {
  if (isResourceSpec(data, ["data"])) {
    const spec = data as ResourceSpec & { data?: WriteSource };
    checkOptions(spec, specKeys(["data"]), "blob({ ... })");
    const given = (location ?? {}) as ResourceOptions;
    const registry = given.registry ?? ferry;
    const content = checkBlobData(spec.data);
    return new Blob(specPlace("blob", spec, registry, { hasData: content !== undefined }), {
      ...given,
      ...(spec.name === undefined ? {} : { name: spec.name }),
      ...(spec.metadata ? { metadata: spec.metadata } : {}),
      ...(content === undefined ? {} : { data: content }),
    });
  }
  if (isPlainObject(data)) checkBlobData(data);
  const content = data as WriteSource | undefined;
  return new Blob(location as LocationLike | undefined, {
    ...options,
    ...(content === undefined ? {} : { data: content }),
  });
}
