/**
 * Where the registries live. For each setting the first of these that is present wins:
 *   1. the option passed in code (`new ResourceRegistry({ shared: "s3://..." })`),
 *   2. the environment (FERRY_LOCAL_REGISTRY, FERRY_SHARED_REGISTRY, FERRY_REGISTRY_DEFAULT_SCOPE),
 *   3. the nearest ferry.config.json at or above the working directory:
 *      `{ "registry": { "local": ".ferry/registry", "shared": "s3://team-bucket/ferry-registry", "defaultScope": "local" } }`
 *      (a relative `local` path is relative to the config file),
 *   4. the defaults: local = `<working directory>/.ferry/registry`, no shared registry, bare names local.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { errors } from "@ferry/plugin-kit";
import type { LocationLike } from "../location.ts";
import type { RegistryScope } from "./names.ts";

export interface RegistryLocationOptions {
  /** Working directory (default: process.cwd() at the time of each call). */
  cwd?: string | undefined;
  /** The project's local registry (`~/` names). */
  local?: LocationLike | undefined;
  /** The shared registry (`@/` names): any location URL, e.g. `s3://team-bucket/ferry-registry`. */
  shared?: LocationLike | undefined;
  /** Where names without `~/` or `@/` go. */
  defaultScope?: RegistryScope | undefined;
  /** Environment to read (default: process.env). */
  env?: Readonly<Record<string, string | undefined>> | undefined;
}

export interface ResolvedRegistryConfig {
  cwd: string;
  local: LocationLike;
  shared: LocationLike | undefined;
  defaultScope: RegistryScope;
  /** The config file the settings came from, if any. */
  configFile: string | undefined;
}

interface FileSettings {
  local?: string;
  shared?: string;
  defaultScope?: RegistryScope;
}

function findConfigFile(cwd: string): string | undefined {
  let dir = resolve(cwd);
  for (;;) {
    const candidate = join(dir, "ferry.config.json");
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function readSettings(file: string): FileSettings {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw errors.invalidInput(`cannot read ${file}: ${(error as Error).message}`, {
      path: file,
      cause: error,
    });
  }
  const registry = (json as { registry?: unknown } | null)?.registry;
  if (registry === undefined) return {};
  if (typeof registry !== "object" || registry === null || Array.isArray(registry)) {
    throw errors.invalidInput(
      `"registry" in ${file} must be an object like { "shared": "s3://bucket/prefix" }`,
      { path: file },
    );
  }
  const settings: FileSettings = {};
  const { local, shared, defaultScope } = registry as Record<string, unknown>;
  for (const [key, value] of [
    ["local", local],
    ["shared", shared],
  ] as const) {
    if (value === undefined) continue;
    if (typeof value !== "string" || value === "")
      throw errors.invalidInput(`"registry.${key}" in ${file} must be a location URL`, { path: file });
    settings[key] = value;
  }
  if (defaultScope !== undefined)
    settings.defaultScope = checkScope(defaultScope, `"registry.defaultScope" in ${file}`);
  if (settings.local !== undefined && !/^[a-z][a-z0-9+.-]*:\/\//i.test(settings.local)) {
    settings.local = resolve(dirname(file), settings.local);
  }
  return settings;
}

function checkScope(value: unknown, where: string): RegistryScope {
  if (value === "local" || value === "shared") return value;
  throw errors.invalidInput(`${where} must be "local" or "shared", got ${JSON.stringify(value)}`);
}

export function resolveRegistryConfig(options: RegistryLocationOptions = {}): ResolvedRegistryConfig {
  const cwd = resolve(options.cwd ?? process.cwd());
  const env = options.env ?? process.env;
  const configFile = findConfigFile(cwd);
  const file = configFile ? readSettings(configFile) : {};
  const envScope = env.FERRY_REGISTRY_DEFAULT_SCOPE || undefined;
  return {
    cwd,
    local:
      options.local ??
      (env.FERRY_LOCAL_REGISTRY || undefined) ??
      file.local ??
      join(cwd, ".ferry", "registry"),
    shared: options.shared ?? (env.FERRY_SHARED_REGISTRY || undefined) ?? file.shared,
    defaultScope:
      options.defaultScope ??
      (envScope === undefined ? undefined : checkScope(envScope, "FERRY_REGISTRY_DEFAULT_SCOPE")) ??
      file.defaultScope ??
      "local",
    configFile,
  };
}
