/**
 * Folder: a directory of files on any system (Runhouse's `rh.folder`). Reads and writes go through
 * the storage serving its location; `to()` and `mv()` go through the transfer engine, so a folder
 * moves between systems server-side, from the host it lives on, or streamed — never via local disk.
 */
import type { Readable } from "node:stream";
import {
  baseName,
  compareKeys,
  conditionalWritesHold,
  errors,
  FerryError,
  joinKey,
  normalizeKey,
  relativeKey,
  type WriteSource,
} from "@ferry/plugin-kit";
import pLimit from "p-limit";
import { ferry } from "./default.ts";
import { type LocationLike, withPath } from "./location.ts";
import type { RegistryEntry } from "./registry/entry.ts";
import { entryLocation, loadNamed } from "./registry/named.ts";
import type { LoadOptions, ResourceRegistryOptions } from "./registry/registry.ts";
import type { ResourceFactoryContext } from "./registry/resources.ts";
import { LocatedResource } from "./resource.ts";
import {
  checkOptions,
  guardRm,
  isResourceSpec,
  type PlaceLike,
  type ResourceSpec,
  type RmOptions,
  specKeys,
  specPlace,
} from "./resource-spec.ts";
import {
  type ResourceOptions,
  type ResourceTransferOptions,
  resolveTarget,
  transferResource,
} from "./resource-target.ts";
import { overlaps, sameStorage } from "./transfer/endpoints.ts";
import { copy } from "./transfer/engine.ts";
import { throwOnFailures } from "./transfer/failures.ts";

/** Options `folder()` and `new Folder()` take. */
export const RESOURCE_OPTION_KEYS = ["registry", "metadata", "name"] as const;

export interface LsOptions {
  /** Full URLs (absolute paths for local folders) instead of names relative to the folder. */
  fullPaths?: boolean;
  /** Every file below, as paths relative to the folder, instead of one level of files and directories. */
  recursive?: boolean;
}

export interface PutOptions {
  /** Replace files that already exist (default false: AlreadyExists naming them, nothing written). */
  overwrite?: boolean;
  signal?: AbortSignal;
}

/** Files to put: name (relative to the folder) → content. */
export type FolderContents = Record<string, WriteSource> | Map<string, WriteSource>;

export class Folder extends LocatedResource<"folder"> {
  /** The folder a registry entry describes (how the resource registry loads a saved one). */
  static fromEntry(entry: RegistryEntry, { plugins }: ResourceFactoryContext): Folder {
    return new Folder(entryLocation(entry), {
      registry: plugins,
      metadata: entry.metadata,
      name: entry.name,
    });
  }

  /** `location` defaults to `ferry-folder/<32 hex>` in the working directory. */
  constructor(location?: PlaceLike, options: ResourceOptions = {}) {
    checkOptions(options, RESOURCE_OPTION_KEYS, "a folder");
    super("folder", location, options);
  }

  /** The Folder saved under `name` (`~/x` local, `@/x` shared); `version` loads an earlier save. */
  static fromName(name: string, options: LoadOptions & ResourceRegistryOptions = {}): Promise<Folder> {
    return loadNamed<Folder>(name, "folder", options);
  }

  #key(name: string): string {
    return joinKey(this.location.path, normalizeKey(name, { system: this.system }));
  }

  /** Names in the folder, sorted; a missing folder lists as empty (object stores cannot tell the two apart). */
  async ls(options: LsOptions = {}): Promise<string[]> {
    const storage = await this.storage();
    const names: { key: string; name: string }[] = [];
    for await (const entry of storage.list(this.path, { recursive: options.recursive === true })) {
      const relative = relativeKey(this.path, entry.path);
      if (relative === undefined || relative === "") continue;
      names.push({ key: entry.path, name: options.recursive ? relative : baseName(entry.path) });
    }
    names.sort((a, b) => compareKeys(a.name, b.name));
    if (!options.fullPaths) return names.map(({ name }) => name);
    return names.map(({ key }) => (this.system === "file" ? `/${key}` : withPath(this.location, key).url));
  }

  /** True when the folder exists as a directory (for object stores: when any key is below it). */
  async exists(): Promise<boolean> {
    if (this.path === "") return true;
    try {
      return (await (await this.storage()).stat(this.path)).kind === "directory";
    } catch (error) {
      if (FerryError.isInstance(error, "NotFound")) return false;
      throw error;
    }
  }

  /**
   * Create the folder (and its parents), and its bucket or container when that does not exist yet.
   * Where directories only exist through files, there is nothing more to do.
   */
  async mkdir(): Promise<this> {
    const storage = await this.storage();
    await storage.createRoot();
    if (storage.capabilities.mkdir !== false) await storage.mkdir(this.path);
    return this;
  }

  /**
   * Remove the whole folder, or only the named entries in it (files or sub-folders). Missing ones are
   * fine. Removing a whole working directory, home directory, file-system root, bucket or container
   * root (or a folder holding one) is InvalidInput unless `{ force: true }`.
   */
  async rm(options?: RmOptions): Promise<void>;
  async rm(names: readonly string[], options?: RmOptions): Promise<void>;
  async rm(namesOrOptions?: readonly string[] | RmOptions, maybeOptions: RmOptions = {}): Promise<void> {
    const names = Array.isArray(namesOrOptions) ? (namesOrOptions as readonly string[]) : undefined;
    const options = (names ? maybeOptions : (namesOrOptions as RmOptions | undefined)) ?? {};
    checkOptions(options, ["force", "signal"], "folder.rm()");
    const storage = await this.storage();
    if (names === undefined) {
      await guardRm(this.location, this.registry, storage, options.force, "rm({ force: true })");
      await storage.deleteDirectory(this.path, options.signal ? { signal: options.signal } : {});
      return;
    }
    for (const name of names) {
      const key = this.#key(name);
      const entry = await storage.stat(key).catch((error: unknown) => {
        if (FerryError.isInstance(error, "NotFound")) return undefined;
        throw error;
      });
      if (entry?.kind === "directory") await storage.deleteDirectory(key);
      else if (entry) await storage.delete([key]);
    }
  }

  /** A stream of one file's content. */
  async open(name: string, options: { signal?: AbortSignal } = {}): Promise<Readable> {
    return (await this.storage()).read(this.#key(name), options);
  }

  /** One file's content as bytes. */
  async get(name: string, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    return (await this.storage()).readBytes(this.#key(name), options);
  }

  /** One file's content as UTF-8 text. */
  async text(name: string, options: { signal?: AbortSignal } = {}): Promise<string> {
    return new TextDecoder().decode(await this.get(name, options));
  }

  /**
   * Write several files (name → bytes, text or stream), or copy another folder's files in.
   * Without `overwrite`, nothing is written if any of the names exists (AlreadyExists lists them).
   */
  async put(contents: FolderContents | Folder, options: PutOptions = {}): Promise<this> {
    if (contents instanceof Folder) {
      await this.#putFolder(contents, options);
      return this;
    }
    const storage = await this.storage();
    const files = [...(contents instanceof Map ? contents : Object.entries(contents))].map(
      ([name, data]) => [this.#key(name), data] as const,
    );
    const limit = pLimit(4);
    if (!options.overwrite) {
      const taken = await Promise.all(
        files.map(([key]) => limit(async () => ((await storage.exists(key)) ? key : undefined))),
      );
      const existing = taken.filter((key): key is string => key !== undefined);
      if (existing.length > 0) throw this.#alreadyExists(existing);
    }
    const createOnly =
      !options.overwrite && files.length > 0 && (await conditionalWritesHold(storage, files[0]![0]));
    await Promise.all(
      files.map(([key, data]) =>
        limit(() =>
          storage.write(key, data, {
            signal: options.signal,
            ...(createOnly ? { ifNoneMatch: "*" as const } : {}),
          }),
        ),
      ),
    );
    return this;
  }

  async #putFolder(source: Folder, options: PutOptions): Promise<void> {
    const target = { storage: await this.storage(), path: this.path };
    const from = { storage: await source.storage(), path: source.path };
    if (!options.overwrite) {
      const plan = await copy(from, target, { dryRun: true, registry: this.registry });
      const existing = plan.plan
        .filter((action) => action.destination !== undefined)
        .map((action) => action.destinationKey);
      if (existing.length > 0) throw this.#alreadyExists(existing);
    }
    throwOnFailures(
      await copy(from, target, {
        registry: this.registry,
        ...(options.signal ? { signal: options.signal } : {}),
      }),
    );
  }

  #alreadyExists(keys: readonly string[]): FerryError {
    const names = keys.map((key) => relativeKey(this.path, key) ?? key);
    const shown = names.slice(0, 5).join(", ") + (names.length > 5 ? ` and ${names.length - 5} more` : "");
    return errors.alreadyExists(
      `${shown} already exist(s) in ${this.url}; pass { overwrite: true } to replace them`,
      {
        system: this.system,
        path: this.path,
      },
    );
  }

  /**
   * Copy the folder to another system or place and return a Folder there (this one is unchanged).
   * `to("s3")` uses the S3 plugin's default bucket; `to("s3://bucket")` puts it at `ferry-folder/<32 hex>`.
   */
  async to(target: LocationLike, path?: string, options: ResourceTransferOptions = {}): Promise<Folder> {
    await this.ready();
    const { destination, summary } = await transferResource(
      "folder",
      this.location,
      target,
      path,
      this.registry,
      options,
    );
    const copied = new Folder(destination, { registry: this.registry, metadata: this.metadata });
    copied.notes = summary.notes;
    return copied;
  }

  /**
   * Move the folder: renamed file by file where the storage can, otherwise copied and then removed
   * (only once every file arrived). Returns the Folder at the new place. Moving away a working
   * directory, home directory or root (which removes it) is InvalidInput unless `{ force: true }`.
   */
  async mv(
    target: LocationLike,
    path?: string,
    options: ResourceTransferOptions & Pick<RmOptions, "force"> = {},
  ): Promise<Folder> {
    await this.ready();
    // A move removes the source at the end: the same places as rm() are refused up front.
    const { force, ...transferOptions } = options;
    await guardRm(
      this.location,
      this.registry,
      await this.storage(),
      force,
      "mv(target, path, { force: true })",
    );
    options = transferOptions;
    const destination = await resolveTarget(target, path, "folder", this.registry);
    const [from, to] = await Promise.all([this.storage(), this.registry.storageFor(destination)]);
    if (sameStorage(from, to) && overlaps(this.path, destination.path)) {
      throw errors.invalidInput(`cannot move ${this.url} to ${destination.url}: one is inside the other`, {
        system: this.system,
        path: this.path,
      });
    }
    let notes: readonly string[] = [];
    if (from === to && from.capabilities.move !== false) {
      const limit = pLimit(options.transfers ?? 4);
      const moves: Promise<unknown>[] = [];
      for await (const entry of from.list(this.path, { recursive: true, signal: options.signal })) {
        const relative = relativeKey(this.path, entry.path);
        if (relative)
          moves.push(
            limit(() =>
              from.move(entry.path, joinKey(destination.path, relative), { signal: options.signal }),
            ),
          );
      }
      await Promise.all(moves);
    } else {
      const { onNote, ...transfer } = options;
      const summary = await copy(this.location, destination, { ...transfer, registry: this.registry });
      for (const note of summary.notes) onNote?.(note);
      notes = throwOnFailures(summary).notes;
    }
    await from.deleteDirectory(this.path);
    const moved = new Folder(destination, { registry: this.registry, metadata: this.metadata });
    moved.notes = notes;
    return moved;
  }
}

/**
 * A Folder at `location` (default: `ferry-folder/<32 hex>` in the working directory), or Runhouse's
 * spelling `folder({ name, path, system })`. Always returns the Folder at once; a name alone
 * (`folder({ name })`) is the saved folder, looked up by its first awaited method (or `ready()`).
 */
export function folder(spec: ResourceSpec, options?: ResourceOptions): Folder;
export function folder(location?: LocationLike, options?: ResourceOptions): Folder;
export function folder(location?: LocationLike | ResourceSpec, options: ResourceOptions = {}): Folder {
  if (isResourceSpec(location)) {
    checkOptions(location, specKeys(), "folder({ ... })");
    const registry = options.registry ?? ferry;
    return new Folder(specPlace("folder", location, registry, { hasData: false }), {
      ...options,
      ...(location.name === undefined ? {} : { name: location.name }),
      ...(location.metadata ? { metadata: location.metadata } : {}),
    });
  }
  return new Folder(location as LocationLike | undefined, options);
}
