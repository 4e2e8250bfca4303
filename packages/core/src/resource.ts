/**
 * What every data resource (Folder, Blob) shares: where it lives, the registry that resolves it,
 * its metadata, and how it describes itself to `toConfig()` and the resource registry.
 */

import type { Storage } from "@ferry/plugin-kit";
import { ferry } from "./default.ts";
import { type Location, parseLocation } from "./location.ts";
import type { PluginRegistry } from "./plugins.ts";
import { type SaveNamedOptions, saveNamed } from "./registry/named.ts";
import { PendingPlace, Place, type PlaceLike } from "./resource-spec.ts";
import {
  defaultKey,
  type ResourceConfig,
  type ResourceKind,
  type ResourceOptions,
} from "./resource-target.ts";

export abstract class LocatedResource<Kind extends ResourceKind> {
  readonly kind: Kind;
  readonly registry: PluginRegistry;
  readonly metadata: Record<string, unknown>;
  /** The resource registry name it was created, saved or loaded with. */
  name: string | undefined;
  /** Notes of the transfer that made this resource (`to()` / `mv()`), e.g. a fallback to streaming. */
  notes: readonly string[] = [];
  readonly #place: Place;

  /** `location` defaults to `ferry-<kind>/<32 hex>` in the registry's working directory. */
  constructor(kind: Kind, location: PlaceLike | undefined, options: ResourceOptions) {
    this.kind = kind;
    this.name = options.name;
    this.registry = options.registry ?? ferry;
    this.metadata = { ...options.metadata };
    this.#place = new Place(
      location instanceof PendingPlace
        ? location
        : parseLocation(location ?? defaultKey(kind), { cwd: this.registry.cwd }),
      () => `${kind} ${this.name ?? ""}`.trim(),
      (entry) => {
        this.name = entry.name;
        Object.assign(this.metadata, entry.metadata, options.metadata);
      },
      (parsed) => this.registry.locate(parsed),
    );
    if (!(location instanceof PendingPlace)) this.checkPlace(this.#place.location);
  }

  /** Where it lives. Known at once unless a name or a default bucket is being looked up: see `ready()`. */
  get location(): Location {
    return this.#place.location;
  }

  /** Resolves once the place is known (a saved name loaded, a default bucket found); every method awaits it. */
  async ready(): Promise<this> {
    this.checkPlace(await this.#place.ready());
    return this;
  }

  /** A subclass refuses a place it cannot live at (a blob at a folder's root). */
  protected checkPlace(_location: Location): void {}

  get url(): string {
    return this.location.url;
  }

  get system(): string {
    return this.location.system;
  }

  /** Key within the storage root. */
  get path(): string {
    return this.location.path;
  }

  /** The storage this resource lives in (resolved once per root by the registry). */
  async storage(): Promise<Storage> {
    await this.ready();
    return this.registry.storageFor(this.location);
  }

  toConfig(): ResourceConfig {
    return {
      type: this.kind,
      url: this.url,
      system: this.system,
      path: this.path,
      metadata: { ...this.metadata },
    };
  }

  /** What the resource registry records when this resource is saved. */
  registryDescription(): { type: Kind; location: Location } {
    return { type: this.kind, location: this.location };
  }

  /** Save in the resource registry under `options.name`, or the name it was created with; returns this resource. */
  async save(options: SaveNamedOptions = {}): Promise<this> {
    await this.ready();
    await saveNamed(this, options);
    return this;
  }

  toString(): string {
    return `${this.kind === "folder" ? "Folder" : "Blob"}(${this.url})`;
  }
}
