/**
 * The plugin registry. Registration is explicit (`ferry.use(s3({...}))`); for the CLI, saved
 * resources and bare URLs, a scheme with no registered plugin is resolved lazily: core knows which
 * first-party package serves each scheme, plus any packages the project lists in its config
 * (`ferry.config.json` → `{ "plugins": ["ferry-storage-foo"] }`, or `"ferry": { "plugins": [...] }`
 * in package.json). A package that is not installed raises PluginMissing naming it.
 * Core never depends on a plugin.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Plugin, Storage, StoragePlugin, TableFlavour } from "@ferry/plugin-kit";
import { completeLocation, errors, FerryError, type LocationGrammar, wording } from "@ferry/plugin-kit";
import { local } from "./local/index.ts";
import {
  canonicalSystem,
  isKnownSystem,
  type Location,
  type LocationLike,
  OTHER_SPELLINGS,
  parseLocation,
} from "./location.ts";
import { createStorage } from "./managed.ts";

export type { Plugin, StoragePlugin } from "@ferry/plugin-kit";

function isStoragePlugin(plugin: Plugin): plugin is StoragePlugin {
  return "schemes" in plugin && typeof (plugin as StoragePlugin).create === "function";
}

/** Which first-party package serves which system. */
export const FIRST_PARTY_STORAGE: Readonly<Record<string, string>> = {
  s3: "@ferry/storage-s3",
  gs: "@ferry/storage-gcs",
  az: "@ferry/storage-azure",
  sftp: "@ferry/storage-sftp",
  github: "@ferry/storage-github",
};

export const FIRST_PARTY_FLAVOURS: Readonly<Record<string, string>> = {
  arrow: "@ferry/table-arrow",
  polars: "@ferry/table-polars",
  danfo: "@ferry/table-danfo",
  hf: "@ferry/table-hf",
};

export interface ResolvedLocation {
  storage: Storage;
  location: Location;
  /** Key within the storage. */
  path: string;
  /** The grammar of the plugin serving it (names it for tools on other machines), if it declares one. */
  grammar?: LocationGrammar | undefined;
}

type Factory = (options?: unknown) => Plugin | Promise<Plugin>;

export interface RegistryOptions {
  /** Where project config and lazily loaded packages are resolved from (default: process.cwd()). */
  cwd?: string;
  /** Disable lazy loading by scheme (explicit `use()` only). */
  lazy?: boolean;
  /**
   * Directories plugin packages are resolved from, in order. Default: the working directory (the
   * user's project), then the directory @ferry/core is installed in (plugins installed beside it,
   * e.g. next to a global @ferry/cli).
   */
  searchPaths?: readonly string[];
}

export class PluginRegistry {
  readonly #storagePlugins = new Map<string, StoragePlugin>();
  readonly #flavours = new Map<string, TableFlavour>();
  readonly #storages = new Map<string, Promise<Storage>>();
  readonly #options: RegistryOptions;
  #configPackages: string[] | undefined;

  constructor(options: RegistryOptions = {}) {
    this.#options = options;
  }

  get cwd(): string {
    return this.#options.cwd ?? process.cwd();
  }

  /** Register plugin instances. A later registration for a scheme replaces an earlier one. */
  use(...plugins: Plugin[]): this {
    for (const plugin of plugins) this.#register(plugin, true);
    return this;
  }

  /** `replace`: drop cached storages of the schemes it serves (an explicit use() reconfigures them). */
  #register(plugin: Plugin, replace: boolean): void {
    if (isStoragePlugin(plugin)) {
      for (const scheme of plugin.schemes) {
        const system = canonicalSystem(scheme);
        this.#storagePlugins.set(system, plugin);
        if (!replace) continue;
        for (const key of [...this.#storages.keys()])
          if (key.startsWith(`${system}\0`)) this.#storages.delete(key);
      }
    } else if (typeof (plugin as TableFlavour).detect === "function") {
      this.#flavours.set(plugin.name, plugin as TableFlavour);
    } else {
      throw errors.invalidInput(
        "use() takes storage plugins (with schemes and create) or table flavours (with detect)",
      );
    }
  }

  /** Registered storage plugin for a system, loading the package that serves it if needed. */
  async storagePlugin(system: string): Promise<StoragePlugin> {
    const canonical = canonicalSystem(system);
    const existing = this.#storagePlugins.get(canonical);
    if (existing) return existing;
    if (canonical === "file") {
      // Local disk is embedded: every registry serves it without a use() call or a package to load.
      this.#register(local(), false);
      return this.#storagePlugins.get(canonical)!;
    }
    if (this.#options.lazy !== false) {
      const loaded = await this.#loadFor(canonical, FIRST_PARTY_STORAGE[canonical]);
      for (const plugin of loaded) if (isStoragePlugin(plugin)) this.#register(plugin, false);
      const found = this.#storagePlugins.get(canonical);
      if (found) return found;
    }
    const packageName = FIRST_PARTY_STORAGE[canonical];
    throw errors.pluginMissing(
      packageName
        ? `no plugin for "${canonical}": install ${packageName} (pnpm add ${packageName})${wording({ library: " or call ferry.use(...)", cli: "" })}`
        : `no plugin for "${canonical}": ${wording({ library: "register one with ferry.use(...) or list", cli: "list" })} its package under "plugins" in ferry.config.json`,
      { system: canonical, packageName },
    );
  }

  /** The storage plugin registered for a system, without loading one. */
  registeredPlugin(system: string): StoragePlugin | undefined {
    return this.#storagePlugins.get(canonicalSystem(system));
  }

  /** Registered flavour by name, loading its first-party package if needed. */
  async flavour(name: string): Promise<TableFlavour> {
    const existing = this.#flavours.get(name);
    if (existing) return existing;
    if (this.#options.lazy !== false) {
      const loaded = await this.#loadFor(name, FIRST_PARTY_FLAVOURS[name]);
      for (const plugin of loaded) if (!isStoragePlugin(plugin)) this.#register(plugin, false);
      const found = this.#flavours.get(name);
      if (found) return found;
    }
    const packageName = FIRST_PARTY_FLAVOURS[name];
    throw errors.pluginMissing(
      packageName
        ? `no table flavour "${name}": install ${packageName}`
        : `no table flavour "${name}" is registered`,
      { packageName },
    );
  }

  /** Registered flavours, in registration order. */
  flavours(): TableFlavour[] {
    return [...this.#flavours.values()];
  }

  /** The storage serving a location, and the key within it. Storages are cached per (system, root). */
  async resolve(input: LocationLike): Promise<ResolvedLocation> {
    const location = await this.locate(input);
    const storage = await this.storageFor(location);
    const plugin = this.#storagePlugins.get(location.system);
    return { storage, location, path: location.path, grammar: plugin?.location };
  }

  /**
   * The full location: parsed once (unless it is a Location already), then read by the grammar of
   * the plugin serving its system, loading that plugin if needed. A `name:path` or `{ system: name }`
   * whose name the `name:path` system's plugin claims (an ssh config alias) is that system's; an
   * unclaimed `name:path` stays a local path.
   */
  async locate(input: LocationLike): Promise<Location> {
    const location = parseLocation(input, { cwd: this.cwd });
    const generic = location.generic;
    if (generic === undefined) return location;
    if (location.system === "file" || (generic.form === "object" && !isKnownSystem(generic.system))) {
      const claimed = await this.claims(generic.form === "scp" ? generic.authority : generic.system);
      if (claimed) return completeLocation(location, claimed.location);
      if (location.system === "file") {
        const { generic: _generic, ...local } = location;
        return local;
      }
    }
    return completeLocation(location, (await this.storagePlugin(location.system)).location);
  }

  /**
   * The plugin that claims `name` as one of its own (for `name:path`: the ssh config Host aliases of
   * the sftp plugin), or undefined — also when that plugin is not installed.
   */
  async claims(name: string): Promise<StoragePlugin | undefined> {
    if (isKnownSystem(name) || name.includes("/") || name.includes(":")) return undefined;
    let plugin: StoragePlugin;
    try {
      plugin = await this.storagePlugin(OTHER_SPELLINGS.scp);
    } catch (error) {
      if (FerryError.isInstance(error, "PluginMissing")) return undefined;
      throw error;
    }
    return plugin.location?.claims?.(name) ? plugin : undefined;
  }

  storageFor(location: Location): Promise<Storage> {
    if (location.generic !== undefined) return this.locate(location).then((full) => this.storageFor(full));
    const cacheKey = `${location.system}\0${location.root}\0${location.account ?? ""}`;
    let pending = this.#storages.get(cacheKey);
    if (!pending) {
      pending = (async () =>
        createStorage(await (await this.storagePlugin(location.system)).create(location)))();
      pending.catch(() => this.#storages.delete(cacheKey));
      this.#storages.set(cacheKey, pending);
    }
    return pending;
  }

  /** Close every cached storage (connection pools); the registry can be used again afterwards. */
  async close(): Promise<void> {
    const storages = [...this.#storages.values()];
    this.#storages.clear();
    await Promise.allSettled(storages.map(async (pending) => (await pending).close()));
  }

  async #loadFor(key: string, firstParty: string | undefined): Promise<Plugin[]> {
    const candidates = [...(firstParty ? [firstParty] : []), ...this.#projectPackages()];
    const plugins: Plugin[] = [];
    for (const packageName of candidates) {
      const module = await this.#import(packageName, packageName === firstParty);
      if (!module) continue;
      const created = await instantiate(module, packageName);
      plugins.push(...created);
      const serves = created.some((plugin) =>
        isStoragePlugin(plugin) ? plugin.schemes.map(canonicalSystem).includes(key) : plugin.name === key,
      );
      if (serves) break;
    }
    return plugins;
  }

  async #import(packageName: string, optional: boolean): Promise<Record<string, unknown> | undefined> {
    const bases = this.#options.searchPaths
      ? this.#options.searchPaths.map((dir) => join(dir, "noop.js"))
      : [join(this.cwd, "noop.js"), import.meta.url];
    for (const base of bases) {
      const resolved = resolvePackage(packageName, base);
      if (resolved === undefined) continue;
      return (await import(pathToFileURL(resolved).href)) as Record<string, unknown>;
    }
    if (optional) return undefined;
    throw errors.pluginMissing(
      `package ${packageName} is listed in the project's ferry config but is not installed`,
      {
        packageName,
      },
    );
  }

  #projectPackages(): string[] {
    if (this.#configPackages) return this.#configPackages;
    const packages: string[] = [];
    let dir = this.cwd;
    for (;;) {
      const configFile = join(dir, "ferry.config.json");
      const packageFile = join(dir, "package.json");
      if (existsSync(configFile)) {
        packages.push(...readPluginList(configFile, (json) => json.plugins));
        break;
      }
      if (existsSync(packageFile)) {
        const listed = readPluginList(
          packageFile,
          (json) => (json.ferry as Record<string, unknown> | undefined)?.plugins,
        );
        if (listed.length > 0) {
          packages.push(...listed);
          break;
        }
      }
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
    this.#configPackages = packages;
    return packages;
  }
}

function readPluginList(file: string, pick: (json: Record<string, unknown>) => unknown): string[] {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch (error) {
    throw errors.invalidInput(`cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  const list = pick(json);
  if (list === undefined) return [];
  if (!Array.isArray(list) || !list.every((item) => typeof item === "string")) {
    throw errors.invalidInput(`"plugins" in ${file} must be a list of package names`);
  }
  return list;
}

/**
 * The entry file of `packageName` as seen from `base`, or undefined when it is not installed there.
 * CommonJS resolution finds most packages; an ESM-only package (exports with just "import") is
 * resolved from its package.json with ESM conditions.
 */
function resolvePackage(packageName: string, base: string): string | undefined {
  const require = createRequire(base);
  try {
    return require.resolve(packageName);
  } catch (error) {
    if (isModuleNotFound(error, packageName)) return undefined;
    if ((error as { code?: string }).code !== "ERR_PACKAGE_PATH_NOT_EXPORTED") throw error;
  }
  for (const dir of require.resolve.paths(packageName) ?? []) {
    const manifest = join(dir, packageName, "package.json");
    if (!existsSync(manifest)) continue;
    const pkg = JSON.parse(readFileSync(manifest, "utf8")) as {
      exports?: unknown;
      module?: string;
      main?: string;
    };
    const entry = esmEntry(pkg.exports) ?? pkg.module ?? pkg.main ?? "index.js";
    return join(dirname(manifest), entry);
  }
  return undefined;
}

const ESM_CONDITIONS = ["import", "node", "default"];

function esmEntry(exports: unknown): string | undefined {
  if (typeof exports === "string") return exports;
  if (typeof exports !== "object" || exports === null) return undefined;
  const record = exports as Record<string, unknown>;
  if ("." in record) return esmEntry(record["."]);
  for (const [condition, target] of Object.entries(record)) {
    if (ESM_CONDITIONS.includes(condition)) {
      const entry = esmEntry(target);
      if (entry !== undefined) return entry;
    }
  }
  return undefined;
}

function isModuleNotFound(error: unknown, packageName: string): boolean {
  const code = (error as { code?: string } | undefined)?.code;
  return (
    (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") &&
    String((error as Error).message).includes(packageName)
  );
}

/** A plugin package's default export is a factory (called with no options: configuration from the environment) or a plugin. */
async function instantiate(module: Record<string, unknown>, packageName: string): Promise<Plugin[]> {
  const exported = module.default ?? module.plugin;
  const values = Array.isArray(exported) ? exported : [exported];
  const plugins: Plugin[] = [];
  for (const value of values) {
    if (typeof value === "function") plugins.push(await (value as Factory)());
    else if (typeof value === "object" && value !== null) plugins.push(value as Plugin);
  }
  if (plugins.length === 0) {
    throw new FerryError(
      "PluginMissing",
      `${packageName} has no default export that is a ferry plugin or plugin factory`,
      {
        packageName,
      },
    );
  }
  return plugins;
}
