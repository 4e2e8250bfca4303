/**
 * Registry entries: the JSON document saved for each version of a name, checked against the
 * published schema (schema/registry-entry.schema.json) whenever one is read.
 */

import type { Schema } from "@ferry/plugin-kit";
import { errors } from "@ferry/plugin-kit";
import entrySchemaJson from "../../schema/registry-entry.schema.json" with { type: "json" };
import type { Location } from "../location.ts";
import { VERSION } from "../version.ts";
import { type JsonSchema, validateJson } from "./json-schema.ts";
import { assertNoSecrets } from "./secrets.ts";

export type ResourceType = "folder" | "table" | "blob";

export const REGISTRY_ENTRY_SCHEMA_ID = "https://unpkg.com/@ferry/core/schema/registry-entry.schema.json";

export interface RegistryEntry {
  $schema: typeof REGISTRY_ENTRY_SCHEMA_ID;
  type: ResourceType;
  /** Full name with its scope, e.g. `@/bert_tokenized`. */
  name: string;
  system: string;
  /** Canonical location URL, never containing credentials. */
  url: string;
  /** Key within the storage root. */
  path: string;
  /** Azure account, when the location names one (the URL does not carry it). */
  account?: string;
  flavour?: string;
  partitioning?: string[];
  schema?: Schema;
  metadata: Record<string, unknown>;
  /** ISO time of version 1. */
  created: string;
  /** ISO time of this version. */
  updated: string;
  version: number;
  ferryVersion: string;
}

/** What a resource tells the registry about itself when it is saved. */
export interface ResourceDescription {
  type: ResourceType;
  location: Location;
  flavour?: string | undefined;
  partitioning?: readonly string[] | undefined;
  schema?: Schema | undefined;
}

/**
 * The published JSON Schema for entries (the package's schema/ folder), imported as a module so that a
 * bundled program carries it too.
 */
export function registryEntrySchema(): JsonSchema {
  return entrySchemaJson as JsonSchema;
}

export function buildEntry(args: {
  description: ResourceDescription;
  name: string;
  metadata: Record<string, unknown>;
  version: number;
  created: string;
  updated: string;
}): RegistryEntry {
  const { description, metadata } = args;
  assertNoSecrets(metadata);
  const location = description.location;
  const entry: RegistryEntry = {
    $schema: REGISTRY_ENTRY_SCHEMA_ID,
    type: description.type,
    name: args.name,
    system: location.system,
    url: location.url,
    path: location.path,
    metadata,
    created: args.created,
    updated: args.updated,
    version: args.version,
    ferryVersion: VERSION,
  };
  if (location.account !== undefined) entry.account = location.account;
  if (description.flavour !== undefined) entry.flavour = description.flavour;
  if (description.partitioning !== undefined && description.partitioning.length > 0) {
    entry.partitioning = [...description.partitioning];
  }
  if (description.schema !== undefined) entry.schema = plainSchema(description.schema);
  return entry;
}

/** Drops undefined members so the schema round-trips through JSON unchanged. */
function plainSchema(schema: Schema): Schema {
  return JSON.parse(JSON.stringify(schema)) as Schema;
}

/**
 * Parse and validate the bytes of one registry file. Anything that is not a ferry registry entry
 * (not JSON, another tool's JSON, a truncated write) is InvalidInput naming the file.
 */
export function parseEntry(bytes: Uint8Array, file: string): RegistryEntry {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    throw errors.invalidInput(`registry file ${file} is not valid JSON: ${(error as Error).message}`, {
      path: file,
      cause: error,
    });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw errors.invalidInput(
      `registry file ${file} is not a ferry registry entry (expected a JSON object)`,
      { path: file },
    );
  }
  if ((value as Record<string, unknown>).$schema !== REGISTRY_ENTRY_SCHEMA_ID) {
    throw errors.invalidInput(
      `registry file ${file} is not a ferry registry entry ("$schema" is not ${REGISTRY_ENTRY_SCHEMA_ID})`,
      { path: file },
    );
  }
  const problems = validateJson(registryEntrySchema(), value);
  if (problems.length > 0) {
    const listed = problems
      .slice(0, 5)
      .map((problem) => `${problem.pointer || "(document)"} ${problem.message}`)
      .join("; ");
    throw errors.invalidInput(`registry file ${file} is not a valid ferry registry entry: ${listed}`, {
      path: file,
    });
  }
  return value as RegistryEntry;
}

export function serializeEntry(entry: RegistryEntry): string {
  return `${JSON.stringify(entry, null, 2)}\n`;
}
