/** The client-settable fields of an object resource, and object name rules. */
import { gcsErrors } from "./errors.ts";
import type { StoredObject } from "./store.ts";

/** Object fields a client may set (on insert, rewrite, compose and patch). */
export interface WritableFields {
  contentType?: string | undefined;
  contentEncoding?: string | undefined;
  contentDisposition?: string | undefined;
  contentLanguage?: string | undefined;
  cacheControl?: string | undefined;
  customTime?: string | undefined;
  storageClass?: string | undefined;
  metadata?: Record<string, string> | undefined;
}

export const PATCHABLE = [
  "contentType",
  "contentEncoding",
  "contentDisposition",
  "contentLanguage",
  "cacheControl",
  "customTime",
  "storageClass",
] as const;

/** The writable fields of a client-supplied resource, type-checked. */
export function writableFields(resource: Record<string, unknown>): WritableFields {
  const fields: WritableFields = {};
  for (const field of PATCHABLE) {
    const value = resource[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== "string") throw gcsErrors.invalid(`Invalid value for field '${field}'.`);
    fields[field] = value;
  }
  const metadata = resource.metadata;
  if (metadata !== undefined && metadata !== null) {
    if (typeof metadata !== "object" || Array.isArray(metadata))
      throw gcsErrors.invalid("Invalid value for field 'metadata'.");
    fields.metadata = Object.fromEntries(
      Object.entries(metadata as Record<string, unknown>)
        .filter(([, value]) => value !== null && value !== undefined)
        .map(([key, value]) => [key, String(value)]),
    );
  }
  return fields;
}

/** The writable fields of an existing object, for copies that keep the source's metadata. */
export function fieldsOf(object: StoredObject): WritableFields {
  const fields: WritableFields = Object.fromEntries(PATCHABLE.map((field) => [field, object[field]]));
  if (object.metadata) fields.metadata = { ...object.metadata };
  return cleanFields(fields);
}

export function cleanFields(fields: WritableFields): WritableFields {
  return Object.fromEntries(
    Object.entries(fields).filter(([, value]) => value !== undefined),
  ) as WritableFields;
}

/** GCS object names: 1–1024 bytes of UTF-8, no CR/LF. */
export function validateObjectName(name: string): void {
  const bytes = Buffer.byteLength(name, "utf8");
  if (bytes === 0 || bytes > 1024)
    throw gcsErrors.invalid(`Object name must be 1-1024 bytes of UTF-8, got ${bytes}.`);
  if (/[\r\n]/.test(name))
    throw gcsErrors.invalid("Object name must not contain carriage returns or line feeds.");
  if (name === "." || name === "..") throw gcsErrors.invalid(`Object name cannot be '${name}'.`);
}
