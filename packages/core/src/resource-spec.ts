/**
 * What Folder, Blob and Table share when they are created and removed: the Runhouse spelling
 * `{ name, path, system, data }` and where it puts a resource, options checked by name, chainable
 * writes, and the guard that keeps `rm()` away from a working directory, a home or a root.
 *
 * The rule for every spelling: a factory returns the resource at once, touching nothing. Where the
 * place needs a look-up (a saved name, a plugin's default bucket), the first awaited method makes it.
 */
import { homedir } from "node:os";
import { errors, FerryError, type Storage } from "@ferry/plugin-kit";
import {
  canonicalSystem,
  isKnownSystem,
  type Location,
  type LocationLike,
  OTHER_SPELLINGS,
  parseLocation,
} from "./location.ts";
import type { PluginRegistry, StoragePlugin } from "./plugins.ts";
import type { RegistryEntry } from "./registry/entry.ts";
import { entryLocation } from "./registry/named.ts";
import { ResourceRegistry } from "./registry/registry.ts";
import { defaultKey, defaultLocationOn, type ResourceKind } from "./resource-target.ts";

/** Where a resource is once its look-up is done, and the registry entry it came from, if any. */
export interface Placed {
  location: Location;
  entry?: RegistryEntry | undefined;
}

/** A place still being looked up (a saved name, a plugin's default bucket). */
export class PendingPlace {
  readonly promise: Promise<Placed>;
  constructor(promise: Promise<Placed>) {
    this.promise = promise;
    // Nothing may have awaited it yet; the rejection is raised by the first method that does.
    promise.catch(() => undefined);
  }
}

/** A resource's place: known now, or once `ready()` resolves. */
export class Place {
  #location: Location | undefined;
  #pending: Promise<Placed> | undefined;
  readonly #describe: () => string;

  /**
   * `locate` finishes a location only core's generic parse has read (its plugin's grammar, loaded
   * on the way): until then `location` is that first reading, and `ready()` waits for the full one.
   */
  constructor(
    initial: Location | PendingPlace,
    describe: () => string,
    onEntry?: (entry: RegistryEntry) => void,
    locate?: (location: Location) => Promise<Location>,
  ) {
    this.#describe = describe;
    const finish = async (location: Location) =>
      location.generic !== undefined && locate ? locate(location) : location;
    if (initial instanceof PendingPlace) {
      this.#pending = initial.promise.then(async (placed) => {
        this.#location = await finish(placed.location);
        if (placed.entry) onEntry?.(placed.entry);
        return { ...placed, location: this.#location };
      });
      this.#pending.catch(() => undefined);
    } else {
      this.#location = initial;
      if (initial.generic !== undefined && locate) {
        this.#pending = finish(initial).then((location) => {
          this.#location = location;
          return { location };
        });
        this.#pending.catch(() => undefined);
      }
    }
  }

  get location(): Location {
    if (this.#location === undefined) {
      throw errors.invalidInput(
        `${this.#describe()} is still being looked up: await its ready() (or any of its methods) before reading its location`,
      );
    }
    return this.#location;
  }

  async ready(): Promise<Location> {
    if (this.#pending) await this.#pending;
    return this.location;
  }
}

/** Runhouse's object spelling of a resource, as `folder()`, `blob()` and `table()` take it. */
export interface ResourceSpec {
  /** Registry name (`~/x`, `@/x` or bare): `save()` saves under it; alone, it loads the saved resource. */
  name?: string | undefined;
  /** With `system`: the key on that system (`bucket/prefix` for s3/gs/azure); alone: a local path or a URL. */
  path?: string | undefined;
  /** file, s3, gs, azure, sftp, github, or a Host alias from the ssh config. Default: file. */
  system?: string | undefined;
  location?: LocationLike | undefined;
  metadata?: Record<string, unknown> | undefined;
  /** Accepted for Runhouse's spelling: ferry makes the folder on the first write. */
  mkdir?: boolean | undefined;
  /** sftp: the host (and `user`, `port`) when `system` is "sftp" rather than an ssh alias. */
  host?: string | undefined;
  user?: string | undefined;
  port?: number | undefined;
  /** azure: the storage account. */
  account?: string | undefined;
  /** github: branch, tag or commit. */
  ref?: string | undefined;
}

/** Keys of a location object (`{ system: "sftp", host, user, port }`, `{ system: "az", account }`, `ref`). */
const LOCATION_KEYS = ["host", "user", "port", "account", "ref"] as const;
const SPEC_KEYS = ["name", "path", "system", "location", "metadata", "mkdir", ...LOCATION_KEYS] as const;

/** A plain object (not a class instance, bytes, a stream, a Location or an array). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    Object.getPrototypeOf(value) === Object.prototype &&
    !("url" in value && "root" in value)
  );
}

/** True when `value` is the `{ name, path, system, ... }` spelling (`extra`: further keys it may carry). */
export function isResourceSpec(value: unknown, extra: readonly string[] = []): value is ResourceSpec {
  if (!isPlainObject(value)) return false;
  return [...SPEC_KEYS, ...extra].some((key) => key in value);
}

/**
 * Refuse options ferry does not know, naming each and the right spelling where one is close
 * (`batch_size` → `batchSize`), instead of ignoring them.
 */
export function checkOptions(given: object | undefined, known: readonly string[], where: string): void {
  if (given === undefined || given === null) return;
  const unknown = Object.keys(given).filter((key) => !known.includes(key));
  if (unknown.length === 0) return;
  const described = unknown.map((key) => {
    const close = closest(key, known);
    return close ? `"${key}" (did you mean "${close}"?)` : `"${key}"`;
  });
  throw errors.invalidInput(
    `unknown option${unknown.length > 1 ? "s" : ""} ${described.join(", ")} for ${where}; it takes ${[...new Set(known)].sort().join(", ")}`,
  );
}

function closest(key: string, known: readonly string[]): string | undefined {
  const camel = key.replace(/[_-]+([a-z0-9])/gi, (_, c: string) => c.toUpperCase());
  const fold = (text: string) => text.toLowerCase().replace(/[_-]/g, "");
  const exact = known.find((name) => name === camel || fold(name) === fold(key));
  if (exact) return exact;
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(fold(key), fold(name));
    if (distance <= Math.max(1, Math.ceil(name.length / 3)) && (!best || distance < best.distance))
      best = { name, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** A spec's own keys (and `extra`) apart from the rest (a table's options may ride in its spec). */
export function splitSpec(
  value: Record<string, unknown>,
  extra: readonly string[] = [],
): { spec: ResourceSpec & Record<string, unknown>; rest: Record<string, unknown> } {
  const keys = specKeys(extra);
  const spec: Record<string, unknown> = {};
  const rest: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) (keys.includes(key) ? spec : rest)[key] = item;
  return { spec, rest };
}

/** The keys of a spec every resource takes, plus `extra`. */
export function specKeys(extra: readonly string[] = []): string[] {
  return [...SPEC_KEYS, ...extra];
}

async function unknownSystem(system: string, registry: PluginRegistry): Promise<FerryError> {
  const aliases = await registry.storagePlugin(OTHER_SPELLINGS.scp).then(
    (plugin) => plugin.location?.claimsWhat?.(),
    () => undefined,
  );
  return errors.invalidInput(
    `system "${system}" is neither a storage system (file, s3, gs, azure, sftp, github, or a registered plugin's) nor ${aliases ?? "a Host in the ssh config"}`,
    { system },
  );
}

/**
 * A system name that is no known scheme must be one the `name:path` system's plugin claims (an ssh
 * config alias): then the place is `place(plugin)`, else InvalidInput. Undefined for a known scheme.
 */
function claimedSystem(
  system: string,
  registry: PluginRegistry,
  place: (plugin: StoragePlugin) => LocationLike,
): PendingPlace | undefined {
  if (isKnownSystem(system)) return undefined;
  return new PendingPlace(
    registry.claims(system).then(async (plugin): Promise<Placed> => {
      if (!plugin) throw await unknownSystem(system, registry);
      return { location: await registry.locate(place(plugin)) };
    }),
  );
}

/** The last segment of a registry name (`@/team/sample_table` → `sample_table`). */
function shortName(name: string): string {
  return name.split("/").filter(Boolean).at(-1) ?? name;
}

/** The key a named resource gets on a system named alone: the plugin's (`.cache/ferry/<name>` on a cluster), else `ferry-<kind>/<name>`. */
function namedKey(kind: ResourceKind, name: string, plugin: StoragePlugin | undefined): string {
  return plugin?.location?.namedKey?.(kind, shortName(name)) ?? `ferry-${kind}/${shortName(name)}`;
}

/**
 * Where a resource goes when its spec names no path (Runhouse's default places): a named one at
 * `<cwd>/<name>` locally, `~/.cache/ferry/<name>` on a cluster, `<default bucket>/ferry-<kind>/<name>`
 * on s3, gs and azure; an anonymous one at `ferry-<kind>/<32 hex>` there.
 */
export function defaultPlace(
  kind: ResourceKind,
  system: string,
  name: string | undefined,
  registry: PluginRegistry,
): Location | PendingPlace {
  const cwd = registry.cwd;
  const canonical = canonicalSystem(system);
  if (canonical === "file")
    return parseLocation({ system: "file", path: name ? shortName(name) : defaultKey(kind) }, { cwd });
  const alias = claimedSystem(system, registry, (plugin) => ({
    system,
    path: name ? namedKey(kind, name, plugin) : defaultKey(kind),
  }));
  if (alias) return alias;
  return new PendingPlace(
    (async () => {
      const key = name ? namedKey(kind, name, undefined) : defaultKey(kind);
      return { location: await defaultLocationOn(system, kind, registry, key) };
    })(),
  );
}

/**
 * Where a spec puts a resource: its `location`, its `path` (on `system`), the saved resource when
 * it carries a name alone (NotFound if that name is not saved), or the default place on its system.
 */
export function specPlace(
  kind: ResourceKind,
  spec: ResourceSpec,
  registry: PluginRegistry,
  options: { hasData: boolean },
): Location | PendingPlace {
  const cwd = registry.cwd;
  if (spec.location !== undefined) return parseLocation(spec.location, { cwd });
  if (spec.system !== undefined && typeof spec.system !== "string")
    throw errors.invalidInput(`system must be a string, got ${typeof spec.system}`);
  const extras = Object.fromEntries(
    LOCATION_KEYS.filter((key) => (spec as Record<string, unknown>)[key] !== undefined).map((key) => [
      key,
      (spec as Record<string, unknown>)[key],
    ]),
  );
  if (typeof spec.host === "string" && spec.system !== undefined && !spec.path) {
    const { name, system } = spec;
    if (!name) return parseLocation({ ...extras, system, path: defaultKey(kind) }, { cwd });
    return new PendingPlace(
      registry.storagePlugin(canonicalSystem(system)).then(async (plugin) => {
        const path = name ? namedKey(kind, name, plugin) : defaultKey(kind);
        return { location: await registry.locate({ ...extras, system, path }) };
      }),
    );
  }
  if (spec.path !== undefined && spec.path !== "") {
    if (spec.system === undefined) return parseLocation(spec.path, { cwd });
    const path = spec.path;
    return (
      claimedSystem(spec.system, registry, () => ({ ...extras, system: spec.system as string, path })) ??
      parseLocation({ ...extras, system: spec.system, path }, { cwd })
    );
  }
  if (spec.name !== undefined && spec.system === undefined && !options.hasData) {
    const name = spec.name;
    return new PendingPlace(
      new ResourceRegistry({ plugins: registry, cwd })
        .entry(name, { type: kind })
        .then((entry): Placed => ({ location: parseLocation(entryLocation(entry), { cwd }), entry }))
        .catch((error: unknown): Placed => {
          if (!FerryError.isInstance(error, "NotFound")) throw error;
          throw errors.notFound(
            `${(error as Error).message}: a name alone loads a saved ${kind}; to make a new one, give it a system or a path too ({ name, system: "file" } puts it at ./${shortName(name)})`,
            { path: name },
          );
        }),
    );
  }
  return defaultPlace(kind, spec.system ?? "file", spec.name, registry);
}

/** Place → the constructor's argument: a Location now, or the pending look-up. */
export type PlaceLike = LocationLike | PendingPlace;

/** A promise of the resource that also chains its next step: `table.write().save()`. */
export type Chained<T, K extends keyof T> = Promise<T> & {
  [P in K]: T[P] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

export function chained<T, K extends keyof T>(promise: Promise<T>, keys: readonly K[]): Chained<T, K> {
  const steps = Object.fromEntries(
    keys.map((key) => [
      key,
      (...args: unknown[]) =>
        promise.then((resource) => (resource[key] as (...a: unknown[]) => unknown).apply(resource, args)),
    ]),
  );
  return Object.assign(promise, steps) as Chained<T, K>;
}

export interface RmOptions {
  /**
   * Remove even a working directory, a home directory, a file-system root, a bucket or container
   * root, or a folder holding one of them. Default false: InvalidInput, nothing removed.
   */
  force?: boolean | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * What a whole-folder remove of `location` would take with it that nobody means to lose, if anything:
 * a whole root, as the system's grammar calls it (`describeRoot`, else "a whole <rootNoun>"), or a
 * local working directory, home directory, or a folder holding one.
 */
function protectedBy(location: Location, registry: PluginRegistry): string | undefined {
  if (location.path === "") {
    const grammar = registry.registeredPlugin(location.system)?.location;
    return grammar?.describeRoot?.(location) ?? `a whole ${grammar?.rootNoun ?? "bucket"}`;
  }
  if (location.system !== "file") return undefined;
  const cwd = registry.cwd;
  const path = `/${location.path}`;
  const within = (dir: string) => dir === path || dir.startsWith(`${path}/`);
  const places: [string, string][] = [
    [process.cwd(), "the working directory"],
    [cwd, "the working directory"],
    [homedir(), "the home directory"],
  ];
  for (const [dir, what] of places) {
    if (dir === path) return what;
    if (within(dir)) return `a folder holding ${what} (${dir})`;
  }
  return undefined;
}

/** What of the places its storage protects (`StorageDriver.protectedKeys`) removing `path` would take. */
async function protectedByStorage(path: string, storage: Storage): Promise<string | undefined> {
  const places = (await storage.driver.protectedKeys?.()) ?? [];
  for (const { key, what } of places) {
    if (key === path) return what;
    if (path === "" || key.startsWith(`${path}/`)) return `a folder holding ${what} (${key})`;
  }
  return undefined;
}

/**
 * InvalidInput unless `force`, when removing the whole of `location` would take one of the protected
 * places: a root, a local working or home directory, or a place its storage protects (the login's
 * home on an SSH host).
 */
export async function guardRm(
  location: Location,
  registry: PluginRegistry,
  storage: Storage,
  force: boolean | undefined,
  call: string,
): Promise<void> {
  if (force) return;
  const what = protectedBy(location, registry) ?? (await protectedByStorage(location.path, storage));
  if (what === undefined) return;
  throw errors.invalidInput(
    `refusing to remove ${location.url}: it is ${what}; pass ${call} to remove it anyway`,
    { system: location.system, path: location.path },
  );
}
