/**
 * Where a resource goes: the shared rules of `folder.to(...)`, `blob.to(...)`, `table.to(...)` and the default
 * location of a new resource. As in Runhouse, a destination that names no key gets a fresh
 * default one — `ferry-folder/<32 hex>`, `ferry-blob/<32 hex>` or `ferry-table/<32 hex>` — under the bucket, the
 * container, the login's home on an SSH host, or the working directory locally.
 */
import { randomUUID } from "node:crypto";
import { errors } from "@ferry/plugin-kit";
import {
  canonicalSystem,
  childLocation,
  isKnownSystem,
  type Location,
  type LocationLike,
  parseLocation,
} from "./location.ts";
import type { PluginRegistry } from "./plugins.ts";
import { copy } from "./transfer/engine.ts";
import { throwOnFailures } from "./transfer/failures.ts";
import type { TransferOptions, TransferSummary } from "./transfer/types.ts";

export type ResourceKind = "folder" | "blob" | "table";

/** Options every resource takes. */
export interface ResourceOptions {
  /** Plugin registry resolving locations (default: the `ferry` registry). */
  registry?: PluginRegistry;
  /** Free-form metadata carried into the resource's config. */
  metadata?: Record<string, unknown>;
  /** Resource registry name (`~/x`, `@/x`, or bare): `save()` saves under it. */
  name?: string;
}

/** Transfer options a resource's `to()` / `mv()` passes on (the registry is the resource's own). */
export interface ResourceTransferOptions extends Omit<TransferOptions, "registry" | "delete" | "dryRun"> {
  /**
   * Called with each note of the transfer as it ends, e.g. "…; streamed through this machine
   * instead" when a cluster could not copy directly. The notes are also on the result's `notes`.
   */
  onNote?: ((note: string) => void) | undefined;
}

/** What `toConfig()` returns: enough to find the resource again, nothing secret. */
export interface ResourceConfig {
  type: ResourceKind;
  url: string;
  system: string;
  /** Key within the storage root. */
  path: string;
  metadata: Record<string, unknown>;
}

/**
 * `ferry-folder/<32 lower-case hex>` / `ferry-blob/<32 lower-case hex>` (Runhouse: `runhouse-folder/<uuid4 hex>`).
 * Runhouse nests a blob one level deeper (`runhouse-blob/<uuid>/<name>`) because its blob's name was
 * its file name; a ferry blob's name lives in the registry, so one flat key is enough.
 */
export function defaultKey(kind: ResourceKind): string {
  return `ferry-${kind}/${randomUUID().replaceAll("-", "")}`;
}

/**
 * A system named alone (`"s3"`, `"gcs"`), or a name the `name:path` system's plugin claims (a
 * `~/.ssh/config` host alias), as opposed to a URL or a path: async, since only the plugin reads
 * its own aliases (the registry loads it first).
 */
async function isSystemName(value: string, registry: PluginRegistry): Promise<boolean> {
  if (value.includes("/") || value.includes(":")) return false;
  return isKnownSystem(value) || (await registry.claims(value)) !== undefined;
}

/**
 * Resolve `to(target, path?)`:
 * - `"s3"` (a system name alone): the plugin's default bucket (`defaultRoot`) + a default key; no
 *   default bucket is InvalidInput asking for one; `"file"` → the working directory + a default key;
 *   an SSH alias → the login's home + a default key;
 * - `"s3", "bucket/prefix"` or `{ system: "s3", path: "bucket/prefix" }`: exactly there;
 * - a URL or path: exactly there, except a bucket/container/host with no key gets a default key;
 * - `path` with a URL: joined below it.
 * The location is parsed once here and read by its plugin's grammar (`registry.locate`).
 */
export async function resolveTarget(
  target: LocationLike,
  path: string | undefined,
  kind: ResourceKind,
  registry: PluginRegistry,
): Promise<Location> {
  if (typeof target === "string" && (await isSystemName(target, registry))) {
    if (path !== undefined) return registry.locate({ system: target, path });
    return defaultLocationOn(target, kind, registry);
  }
  if (
    typeof target === "object" &&
    target !== null &&
    !("url" in target) &&
    (target.path === undefined || target.path === "")
  ) {
    if (path !== undefined) return registry.locate({ ...target, path });
    return defaultLocationOn(String(target.system), kind, registry);
  }
  const location = await registry.locate(target);
  if (path !== undefined) return childLocation(location, path);
  if (location.path === "" && location.system !== "file") return childLocation(location, defaultKey(kind));
  return location;
}

/** A new default location on a system named alone (`key` below its default root, or below the home of an ssh alias). */
export async function defaultLocationOn(
  system: string,
  kind: ResourceKind,
  registry: PluginRegistry,
  key: string = defaultKey(kind),
): Promise<Location> {
  const canonical = canonicalSystem(system);
  if (canonical === "file") return parseLocation({ system: "file", path: key }, { cwd: registry.cwd });
  if (!isKnownSystem(system) && (await registry.claims(system)) !== undefined)
    return registry.locate({ system, path: key });
  const plugin = await registry.storagePlugin(canonical);
  const root = plugin.defaultRoot;
  if (!root) {
    const noun = plugin.location?.rootNoun ?? "bucket";
    const setting = plugin.location?.defaultRootSetting;
    const configure = setting
      ? `, or set a default ${noun}: the ${plugin.name} plugin's \`${setting.option}\` option or the ${setting.env} environment variable`
      : "";
    throw errors.invalidInput(
      `"${system}" alone does not say which ${noun} to use: pass a URL such as ${canonical}://my-${noun}/path${configure}`,
      { system: canonical },
    );
  }
  return registry.locate(`${canonical}://${root}/${key}`);
}

/**
 * The one routine behind `Folder.to`, `Blob.to` and `Table.to`: resolve the destination as
 * `resolveTarget` does (`"here"`: `<cwd>/<the source's last name>`), copy (`extra` narrows what is copied), hand every note to `onNote`, and
 * throw if any file failed.
 */
export async function transferResource(
  kind: ResourceKind,
  source: Location,
  target: LocationLike,
  path: string | undefined,
  registry: PluginRegistry,
  options: ResourceTransferOptions,
  extra: Pick<TransferOptions, "include" | "delete"> = {},
): Promise<{ destination: Location; summary: TransferSummary }> {
  // Runhouse's `to("here")`: this machine's working directory, under the source's own last name.
  const here = target === "here" && path === undefined;
  const destination = here
    ? parseLocation(
        { system: "file", path: source.path.split("/").at(-1) || defaultKey(kind) },
        { cwd: registry.cwd },
      )
    : await resolveTarget(target, path, kind, registry);
  const { onNote, ...transfer } = options;
  const summary = await copy(source, destination, { ...transfer, ...extra, registry });
  for (const note of summary.notes) onNote?.(note);
  return { destination, summary: throwOnFailures(summary) };
}
