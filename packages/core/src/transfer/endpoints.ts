/**
 * Turning what the caller named into a storage plus a key, and deciding whether that key is a
 * single file or a tree (one stat per side, before the listings).
 */
import type { Entry, LocationGrammar, Storage } from "@ferry/plugin-kit";
import { FerryError, normalizeKey } from "@ferry/plugin-kit";
import type { Location, LocationLike } from "../location.ts";
import type { PluginRegistry } from "../plugins.ts";
import type { TransferEndpoint } from "./types.ts";

export interface ResolvedEndpoint {
  storage: Storage;
  /** Key in the storage ("" = its root). */
  key: string;
  /** The caller wrote a trailing slash: "a directory, put things inside it". */
  directoryHint: boolean;
  location: Location | undefined;
  /** The grammar of the plugin serving it: how tools on another machine name it. */
  grammar?: LocationGrammar | undefined;
  url: string;
}

export async function resolveEndpoint(
  endpoint: TransferEndpoint,
  registry: PluginRegistry,
): Promise<ResolvedEndpoint> {
  if (
    typeof endpoint === "object" &&
    endpoint !== null &&
    "storage" in endpoint &&
    typeof endpoint.storage === "object"
  ) {
    const { storage, path } = endpoint as { storage: Storage; path: string };
    const key = normalizeKey(path, { allowRoot: true, system: storage.system });
    return {
      storage,
      key,
      directoryHint: path.endsWith("/"),
      location: undefined,
      url: urlFor(storage, key),
    };
  }
  const located =
    typeof endpoint === "object" && endpoint !== null && "directory" in endpoint && "location" in endpoint
      ? (endpoint as { location: Location; directory: boolean })
      : undefined;
  const resolved = await registry.resolve(located?.location ?? (endpoint as LocationLike));
  const directoryHint = located ? located.directory : typeof endpoint === "string" && endpoint.endsWith("/");
  return {
    storage: resolved.storage,
    key: resolved.path,
    directoryHint,
    location: resolved.location,
    grammar: resolved.grammar,
    url: resolved.location.url,
  };
}

/** A display URL for a key in a storage held directly. */
export function urlFor(storage: Storage, key: string): string {
  const root = storage.root.endsWith("/") ? storage.root : `${storage.root}/`;
  return `${root}${key}`;
}

/** The entry at `key`, or undefined when nothing is there. The root always stats as a directory. */
export async function statOrUndefined(
  storage: Storage,
  key: string,
  signal: AbortSignal | undefined,
): Promise<Entry | undefined> {
  if (key === "") return { path: "", kind: "directory", size: 0 };
  try {
    return await storage.stat(key, { signal });
  } catch (error) {
    if (FerryError.isInstance(error, "NotFound")) return undefined;
    throw error;
  }
}

/** Both ends are the same storage instance (or the same system and root, resolved twice). */
export function sameStorage(a: Storage, b: Storage): boolean {
  return a === b || (a.system === b.system && a.root === b.root);
}

/** `a` is `b` or lies inside it (or the other way round) — copying one into the other would chase its own tail. */
export function overlaps(a: string, b: string): boolean {
  const inside = (child: string, parent: string) =>
    parent === "" || child === parent || child.startsWith(`${parent}/`);
  return inside(a, b) || inside(b, a);
}
