/**
 * Runhouse-style names on resources, shared by Folder, Blob and Table: `resource.save({ name })`,
 * `X.fromName(name)`, and the `{ name, path, system }` spelling of a location.
 */
import { errors } from "@ferry/plugin-kit";
import type { LocationLike } from "../location.ts";
import { parseLocation } from "../location.ts";
import type { RegistryEntry, ResourceType } from "./entry.ts";
import { type LoadOptions, load, ResourceRegistry, type ResourceRegistryOptions } from "./registry.ts";
import type { Registrable } from "./resources.ts";

/** Where a resource is, spelled the Runhouse way: `{ path, system }`, or a `location` URL. */
export interface NamedSpec {
  /** Registry name (`~/x`, `@/x` or bare): saved under it by `save()`. */
  name?: string | undefined;
  /** With `system`: the key on that system (`bucket/prefix` for s3/gs/az); alone: a local path or a URL. */
  path?: string | undefined;
  system?: string | undefined;
  location?: LocationLike | undefined;
  metadata?: Record<string, unknown> | undefined;
}

/** The location a spec names, or undefined for "the default location". */
export function specLocation(spec: NamedSpec): LocationLike | undefined {
  if (spec.location !== undefined) return spec.location;
  if (spec.system !== undefined) return { system: spec.system, path: spec.path ?? "" };
  return spec.path;
}

/**
 * True for Runhouse's object spelling, `{ name: "...", ... }`: a plain object whose `name` is a
 * string (a Location, bytes, a stream or table data never is one).
 */
export function isNamedSpec(value: unknown): value is NamedSpec & { name: string; data?: unknown } {
  return (
    typeof value === "object" &&
    value !== null &&
    Object.getPrototypeOf(value) === Object.prototype &&
    typeof (value as { name?: unknown }).name === "string" &&
    !("url" in value && "root" in value)
  );
}

/** True for `{ name: "..." }` and nothing else that says where or what: Runhouse's "a name alone loads". */
export function isNameOnly(spec: NamedSpec & { data?: unknown }): boolean {
  return (
    typeof spec.name === "string" &&
    spec.path === undefined &&
    spec.system === undefined &&
    spec.location === undefined &&
    spec.data === undefined
  );
}

export interface SaveNamedOptions extends ResourceRegistryOptions {
  /** Default: the name the resource was created or loaded with. */
  name?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
}

/** A resource the registry can save, with the name it was given. */
export interface NamedResource extends Registrable {
  name: string | undefined;
  readonly metadata?: Record<string, unknown> | undefined;
}

/** Save `resource` under its name (or `options.name`); remembers the full name on the resource. */
export async function saveNamed(resource: NamedResource, options: SaveNamedOptions): Promise<RegistryEntry> {
  const name = options.name ?? resource.name;
  if (name === undefined) {
    throw errors.invalidInput(
      'save() needs a name: resource.save({ name: "~/my_data" }), or create the resource with { name }',
    );
  }
  const entry = await new ResourceRegistry(options).save(resource, {
    name,
    metadata: { ...resource.metadata, ...options.metadata },
  });
  resource.name = entry.name;
  return entry;
}

/** Load a saved resource, refusing an entry of another type. */
export function loadNamed<T>(
  name: string,
  type: ResourceType,
  options: LoadOptions & ResourceRegistryOptions = {},
): Promise<T> {
  return load<T>(name, { ...options, type });
}

/** An entry's location, with the Azure account the URL does not carry. */
export function entryLocation(entry: RegistryEntry): LocationLike {
  const location = parseLocation(entry.url);
  if (entry.account === undefined) return location;
  const { generic } = location;
  // Read by the plugin's grammar later: the account rides along as a field of the location.
  return generic === undefined
    ? { ...location, account: entry.account }
    : { ...location, generic: { ...generic, fields: { ...generic.fields, account: entry.account } } };
}
