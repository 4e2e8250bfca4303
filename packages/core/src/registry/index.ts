export type { RegistryLocationOptions, ResolvedRegistryConfig } from "./config.ts";
export { resolveRegistryConfig } from "./config.ts";
export {
  parseEntry,
  REGISTRY_ENTRY_SCHEMA_ID,
  type RegistryEntry,
  type ResourceDescription,
  type ResourceType,
  registryEntrySchema,
} from "./entry.ts";
export {
  entryLocation,
  isNamedSpec,
  isNameOnly,
  loadNamed,
  type NamedResource,
  type NamedSpec,
  type SaveNamedOptions,
  saveNamed,
  specLocation,
} from "./named.ts";
export { MAX_NAME_LENGTH, parseName, type RegistryName, type RegistryScope } from "./names.ts";
export {
  exists,
  history,
  type LoadOptions,
  list,
  load,
  ResourceRegistry,
  type ResourceRegistryOptions,
  rename,
  rm,
  type SaveOptions,
  saveResource,
} from "./registry.ts";
export {
  isRegistrable,
  type Registrable,
  type ResourceFactory,
  type ResourceFactoryContext,
} from "./resources.ts";
export { isSecretKey } from "./secrets.ts";
