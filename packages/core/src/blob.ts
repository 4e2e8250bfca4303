/**
 * Blob: a single file of bytes on any system. ferry assumes nothing about what the bytes mean —
 * serialize before `write`, deserialize after `fetch` (as Runhouse's docs put it: "we do not make
 * any assumptions about deserializing the underlying blob data").
 */
import type { Readable } from "node:stream";
import { errors, FerryError } from "./errors.ts";
import { type LocationLike, withPath } from "./location.ts";
import {
  entryLocation,
  isNamedSpec,
  isNameOnly,
  loadNamed,
  type NamedSpec,
  type SaveNamedOptions,
  specLocation,
} from "./registry/named.ts";
import type { LoadOptions, ResourceRegistryOptions } from "./registry/registry.ts";
import { registerResourceType } from "./registry/resources.ts";
import { LocatedResource } from "./resource.ts";
import { type ResourceOptions, type ResourceTransferOptions, resolveTarget } from "./resource-target.ts";
import type { WriteSource } from "./storage.ts";
import { copy } from "./transfer/engine.ts";
import { throwOnFailures } from "./transfer/failures.ts";

export interface BlobOptions extends ResourceOptions {
  /** Content to keep until `write()` is called. */
  data?: WriteSource;
}

export class Blob extends LocatedResource<"blob"> {
  #data: WriteSource | undefined;
  /** Data given at creation and not written yet: `save()` writes it first. */
  #unwritten: boolean;
  /** `location` defaults to `ferry-blob/<32 hex>` in the working directory. */
  constructor(location?: LocationLike, options: BlobOptions = {}) {
    super("blob", location, options);
    if (this.location.path === "") {
      throw errors.invalidInput(`a blob is one file; ${this.location.url} names no file`, {
        system: this.location.system,
      });
    }
    this.#data = options.data;
    this.#unwritten = options.data !== undefined;
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

  /** Write `data` (or the data the blob was created with). Atomic: readers see the old content or the new, never half. */
  async write(data?: WriteSource, options: { signal?: AbortSignal } = {}): Promise<this> {
    const content = data ?? this.#data;
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
    const destination = await resolveTarget(target, path, "blob", this.registry);
    const summary = throwOnFailures(
      await copy(this.location, destination, { ...options, registry: this.registry }),
    );
    const landed = summary.plan[0]?.destinationKey ?? destination.path;
    return new Blob(withPath(destination, landed), { registry: this.registry, metadata: this.metadata });
  }
}

/** A Blob holding `data` (written by `write()`) at `location` (default: `ferry-blob/<32 hex>` in the working directory). */
export function blob(spec: { name: string }): Promise<Blob>;
export function blob(spec: NamedSpec & { name: string; data?: WriteSource }, options?: ResourceOptions): Blob;
export function blob(data?: WriteSource, location?: LocationLike, options?: ResourceOptions): Blob;
export function blob(
  data?: WriteSource | (NamedSpec & { data?: WriteSource }),
  location?: LocationLike | ResourceOptions,
  options: ResourceOptions = {},
): Blob | Promise<Blob> {
  // Runhouse's spelling: { data, name, path, system } makes a named blob there; a name alone loads the saved one.
  if (isNamedSpec(data)) {
    if (isNameOnly(data)) return Blob.fromName(data.name);
    const spec = data as NamedSpec & { name: string; data?: WriteSource };
    return new Blob(specLocation(spec), {
      ...(location as ResourceOptions | undefined),
      name: spec.name,
      ...(spec.metadata ? { metadata: spec.metadata } : {}),
      ...(spec.data === undefined ? {} : { data: spec.data }),
    });
  }
  const content = data as WriteSource | undefined;
  return new Blob(location as LocationLike | undefined, {
    ...options,
    ...(content === undefined ? {} : { data: content }),
  });
}

registerResourceType(
  "blob",
  (entry, { plugins }) =>
    new Blob(entryLocation(entry), { registry: plugins, metadata: entry.metadata, name: entry.name }),
);
