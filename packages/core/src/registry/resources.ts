/**
 * The type → class map. Folder, Table and Blob register a factory here when their module loads,
 * so the registry can construct the right class from an entry without importing them (which
 * would be an import cycle: they import the registry for `save` and `fromName`).
 */
import { errors } from "@ferry/plugin-kit";
import type { PluginRegistry } from "../plugins.ts";
import type { RegistryEntry, ResourceDescription, ResourceType } from "./entry.ts";

/** Anything the registry can save: it says what it is and where it lives. */
export interface Registrable {
  registryDescription(): ResourceDescription | Promise<ResourceDescription>;
}

export interface ResourceFactoryContext {
  /** The plugin registry that resolves the entry's location. */
  plugins: PluginRegistry;
}

export type ResourceFactory = (entry: RegistryEntry, context: ResourceFactoryContext) => unknown;

const factories = new Map<ResourceType, ResourceFactory>();

/** Called by a resource class's module: how to build one from a registry entry. */
export function registerResourceType(type: ResourceType, factory: ResourceFactory): void {
  factories.set(type, factory);
}

/**
 * The factory for `type`. First-party classes register when their module loads; if a bundler
 * dropped that module (the package is side-effect free), it is imported here on demand.
 */
export async function resourceFactory(type: ResourceType): Promise<ResourceFactory> {
  if (!factories.has(type)) {
    if (type === "folder") await import("../folder.ts");
    else if (type === "blob") await import("../blob.ts");
    else if (type === "table") await import("../table.ts");
  }
  const factory = factories.get(type);
  if (!factory) {
    throw errors.unsupported(
      `no resource class is registered for registry type "${type}": import it from @ferry/core (the ${type} module registers itself)`,
    );
  }
  return factory;
}

export function isRegistrable(value: unknown): value is Registrable {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Registrable).registryDescription === "function"
  );
}
