/**
 * The resource registry: save a Folder, Table or Blob under a name, load it back anywhere.
 * `~/name` lives in the project's local registry, `@/name` in the shared one (any storage URL),
 * every save is kept as a new version, and no credential is ever written (see secrets.ts).
 */

import { errors, FerryError, wording } from "@ferry/plugin-kit";
import { ferry } from "../default.ts";
import { parseLocation } from "../location.ts";
import type { PluginRegistry } from "../plugins.ts";
import {
  type RegistryLocationOptions,
  type ResolvedRegistryConfig,
  resolveRegistryConfig,
} from "./config.ts";
import { buildEntry, type RegistryEntry, type ResourceType } from "./entry.ts";
import { parseName, parsePrefix, type RegistryName, type RegistryScope, scopePrefix } from "./names.ts";
import { isRegistrable, type Registrable, resourceFactory } from "./resources.ts";
import { assertJsonValue, assertNoSecrets } from "./secrets.ts";
import { VersionStore } from "./store.ts";

const RESOURCE_TYPES: readonly ResourceType[] = ["folder", "table", "blob"];

export interface ResourceRegistryOptions extends RegistryLocationOptions {
  /** Resolves registry and resource locations (default: the `ferry` registry). */
  plugins?: PluginRegistry | undefined;
}

export interface SaveOptions {
  name: string;
  /** Free-form JSON. Keys that name a secret, or values shaped like credentials, are refused. */
  metadata?: Record<string, unknown> | undefined;
}

export interface LoadOptions {
  /** An earlier version (1 = the first save). Default: the latest. */
  version?: number | undefined;
  /** Refuse (InvalidInput) an entry of another type, e.g. `Table.fromName` on a saved Folder. */
  type?: ResourceType | undefined;
}

export class ResourceRegistry {
  readonly config: ResolvedRegistryConfig;
  readonly plugins: PluginRegistry;
  readonly #stores = new Map<RegistryScope, Promise<VersionStore>>();

  constructor(options: ResourceRegistryOptions = {}) {
    this.config = resolveRegistryConfig(options);
    this.plugins = options.plugins ?? ferry;
  }

  /** Validate a name and resolve its scope (InvalidInput for a bad name). */
  parseName(name: string): RegistryName {
    return parseName(name, this.config.defaultScope);
  }

  store(scope: RegistryScope): Promise<VersionStore> {
    let pending = this.#stores.get(scope);
    if (!pending) {
      pending = this.#openStore(scope);
      pending.catch(() => this.#stores.delete(scope));
      this.#stores.set(scope, pending);
    }
    return pending;
  }

  async #openStore(scope: RegistryScope): Promise<VersionStore> {
    const target = scope === "local" ? this.config.local : this.config.shared;
    if (target === undefined) {
      throw errors.invalidInput(
        `no shared registry is configured for @/ names: set { "registry": { "shared": "s3://bucket/prefix" } } in ferry.config.json, FERRY_SHARED_REGISTRY, or ${wording({ library: "the `shared` option", cli: "--shared" })}`,
      );
    }
    const { storage, location } = await this.plugins.resolve(parseLocation(target, { cwd: this.config.cwd }));
    return new VersionStore(storage, location);
  }

  /** Save a new version of `name` pointing at the resource. Returns the entry written. */
  async save(resource: Registrable, options: SaveOptions): Promise<RegistryEntry> {
    if (!isRegistrable(resource)) {
      throw errors.invalidInput("only ferry resources (Folder, Table, Blob) can be saved in the registry");
    }
    if (typeof options !== "object" || options === null) throw errors.invalidInput("save() needs { name }");
    const name = this.parseName(options.name);
    const metadata = options.metadata ?? {};
    if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
      throw errors.invalidInput("metadata must be a plain object");
    }
    assertJsonValue(metadata);
    assertNoSecrets(metadata);
    const description = await resource.registryDescription();
    if (!RESOURCE_TYPES.includes(description.type)) {
      throw errors.invalidInput(`cannot save a resource of type ${JSON.stringify(description.type)}`);
    }
    const store = await this.store(name.scope);
    const metadataCopy = JSON.parse(JSON.stringify(metadata)) as Record<string, unknown>;
    return store.append(name.key, (version, previous) => {
      const now = new Date().toISOString();
      return buildEntry({
        description,
        name: name.full,
        metadata: metadataCopy,
        version,
        created: previous?.created ?? now,
        updated: now,
      });
    });
  }

  /** The saved entry (latest, or `version`). NotFound when the name (or that version) does not exist. */
  async entry(name: string, options: LoadOptions = {}): Promise<RegistryEntry> {
    const parsed = this.parseName(name);
    const store = await this.store(parsed.scope);
    let version = options.version;
    if (version === undefined) {
      version = (await store.versions(parsed.key)).at(-1);
      if (version === undefined)
        throw errors.notFound(`${parsed.full} is not in the registry`, { path: parsed.full });
    } else if (!Number.isInteger(version) || version < 1) {
      throw errors.invalidInput(`version must be a positive integer, got ${version}`);
    }
    const entry = await store.read(parsed.key, version);
    if (entry.name !== parsed.full) {
      throw errors.invalidInput(
        `registry file ${store.describe(store.versionKey(parsed.key, version))} names ${entry.name}, not ${parsed.full}`,
        { path: parsed.full },
      );
    }
    if (options.type !== undefined && entry.type !== options.type) {
      throw errors.invalidInput(`${parsed.full} is a ${entry.type}, not a ${options.type}`, {
        path: parsed.full,
      });
    }
    return entry;
  }

  /** Load the resource saved under `name`, as the class its entry names (Folder, Table or Blob). */
  async load<T = unknown>(name: string, options: LoadOptions = {}): Promise<T> {
    const entry = await this.entry(name, options);
    const factory = resourceFactory(entry.type);
    return (await factory(entry, { plugins: this.plugins })) as T;
  }

  async exists(name: string): Promise<boolean> {
    const parsed = this.parseName(name);
    const store = await this.store(parsed.scope);
    return (await store.versions(parsed.key)).length > 0;
  }

  /**
   * Full names, sorted. `prefix` may be a scope (`~`, `@`), a name, or the start of one
   * (`@/team/`); with no prefix, the local registry and then the shared one (when configured).
   */
  async list(prefix?: string): Promise<string[]> {
    const scopes: { scope: RegistryScope; key: string }[] =
      prefix === undefined || prefix === ""
        ? [
            { scope: "local", key: "" },
            ...(this.config.shared === undefined ? [] : [{ scope: "shared" as const, key: "" }]),
          ]
        : [parsePrefix(prefix, this.config.defaultScope)];
    const names: string[] = [];
    for (const { scope, key } of scopes) {
      const store = await this.store(scope);
      for (const found of await store.names(key)) names.push(`${scopePrefix(scope)}/${found}`);
    }
    return names;
  }

  /** Every saved version of `name`, oldest first. */
  async history(name: string): Promise<RegistryEntry[]> {
    const parsed = this.parseName(name);
    const store = await this.store(parsed.scope);
    const versions = await store.versions(parsed.key);
    if (versions.length === 0)
      throw errors.notFound(`${parsed.full} is not in the registry`, { path: parsed.full });
    return Promise.all(versions.map((version) => store.read(parsed.key, version)));
  }

  /** Remove a name and its whole history (the data it points at is not touched). */
  async rm(name: string): Promise<void> {
    const parsed = this.parseName(name);
    const store = await this.store(parsed.scope);
    if ((await store.versions(parsed.key)).length === 0) {
      throw errors.notFound(`${parsed.full} is not in the registry`, { path: parsed.full });
    }
    await store.remove(parsed.key);
  }

  /**
   * Give a name's whole history a new name, possibly in the other registry (`~/x` → `@/x` shares it).
   * The target must not exist. The source is removed only once every version is copied; if copying
   * fails, what was copied is removed again and the source is untouched.
   */
  async rename(from: string, to: string): Promise<void> {
    const source = this.parseName(from);
    const target = this.parseName(to);
    if (source.full === target.full) return;
    const sourceStore = await this.store(source.scope);
    const targetStore = await this.store(target.scope);
    const versions = await sourceStore.versions(source.key);
    if (versions.length === 0)
      throw errors.notFound(`${source.full} is not in the registry`, { path: source.full });
    if ((await targetStore.versions(target.key)).length > 0) {
      throw errors.alreadyExists(
        `${target.full} already exists in the registry; remove it first or pick another name`,
        { path: target.full },
      );
    }
    const entries = await Promise.all(versions.map((version) => sourceStore.read(source.key, version)));
    const written: number[] = [];
    try {
      for (const entry of entries) {
        await targetStore.put(target.key, { ...entry, name: target.full });
        written.push(entry.version);
      }
    } catch (error) {
      const keys = written.map((version) => targetStore.versionKey(target.key, version));
      await targetStore.storage.delete(keys).catch(() => undefined);
      if (FerryError.isInstance(error, "ConditionNotMet")) {
        throw errors.alreadyExists(
          `${target.full} was created while renaming ${source.full}; nothing was renamed`,
          {
            path: target.full,
            cause: error,
          },
        );
      }
      throw error;
    }
    await sourceStore.remove(source.key);
  }
}

type CallOptions = ResourceRegistryOptions;

/** Save a resource under a name (`~/x` local, `@/x` shared). Returns the entry written. */
export function saveResource(
  resource: Registrable,
  options: SaveOptions & CallOptions,
): Promise<RegistryEntry> {
  return new ResourceRegistry(options).save(resource, options);
}

/** Load a saved resource as its own class: Folder, Table or Blob. */
export function load<T = unknown>(name: string, options: LoadOptions & CallOptions = {}): Promise<T> {
  return new ResourceRegistry(options).load<T>(name, options);
}

export function exists(name: string, options: CallOptions = {}): Promise<boolean> {
  return new ResourceRegistry(options).exists(name);
}

export function list(prefix?: string, options: CallOptions = {}): Promise<string[]> {
  return new ResourceRegistry(options).list(prefix);
}

export function rm(name: string, options: CallOptions = {}): Promise<void> {
  return new ResourceRegistry(options).rm(name);
}

export function rename(from: string, to: string, options: CallOptions = {}): Promise<void> {
  return new ResourceRegistry(options).rename(from, to);
}

export function history(name: string, options: CallOptions = {}): Promise<RegistryEntry[]> {
  return new ResourceRegistry(options).history(name);
}
