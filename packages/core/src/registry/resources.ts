/**
 * The type → class map: how the registry builds a Folder, Blob or Table from a saved entry.
 */
import { errors } from "@ferry/plugin-kit";
import { Blob } from "../blob.ts";
import { Folder } from "../folder.ts";
import type { PluginRegistry } from "../plugins.ts";
import { Table } from "../table.ts";
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

/**
 * How the registry builds each type from an entry. Nothing registers itself when its module loads (a
 * bundler drops such a module from a side-effect-free package), and nothing is imported on demand (a
 * bundler may drop the initialisation of a module that is also imported statically): the classes are
 * named here. The import cycle this makes (they import the registry for `save`) is harmless: the
 * classes are only touched when an entry is loaded, long after every module has run.
 */
const FACTORIES: Readonly<Record<ResourceType, ResourceFactory>> = {
  folder: (entry, context) => Folder.fromEntry(entry, context),
  blob: (entry, context) => Blob.fromEntry(entry, context),
  table: (entry, context) => Table.fromEntry(entry, context),
};

/** The factory for `type`. */
export function resourceFactory(type: ResourceType): ResourceFactory {
  const factory = FACTORIES[type];
  if (!factory) throw errors.unsupported(`no resource class for registry type "${type}"`);
  return factory;
}

export function isRegistrable(value: unknown): value is Registrable {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Registrable).registryDescription === "function"
  );
}
