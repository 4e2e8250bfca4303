/**
 * A small JSON Schema (2020-12) validator for the subset ferry's published schemas use:
 * $ref (local #/$defs/...), type, const, enum, required, properties, additionalProperties,
 * items, pattern, minLength, maxLength, minimum, format "date-time", allOf and if/then.
 * The published schema file is the single source of truth: entries are checked against it,
 * not against a hand-kept copy of its rules. An unknown keyword in the schema is an error, so the
 * schema cannot silently grow a rule this validator ignores.
 */

export type JsonSchema = boolean | { [keyword: string]: unknown };

const KNOWN = new Set([
  "$schema",
  "$id",
  "$defs",
  "$ref",
  "title",
  "description",
  "type",
  "const",
  "enum",
  "required",
  "properties",
  "additionalProperties",
  "items",
  "pattern",
  "minLength",
  "maxLength",
  "minimum",
  "format",
  "allOf",
  "if",
  "then",
]);

export interface SchemaProblem {
  /** JSON pointer to the offending value ("" = the document). */
  pointer: string;
  message: string;
}

export function validateJson(root: JsonSchema, value: unknown): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  check(root, root, value, "", problems);
  return problems;
}

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

function matchesType(value: unknown, type: string): boolean {
  const actual = typeOf(value);
  return actual === type || (type === "number" && actual === "integer");
}

function resolveRef(root: JsonSchema, ref: string): JsonSchema {
  if (!ref.startsWith("#/")) throw new Error(`unsupported $ref ${ref}`);
  let node: unknown = root;
  for (const part of ref.slice(2).split("/")) node = (node as Record<string, unknown>)[part];
  if (node === undefined) throw new Error(`unresolved $ref ${ref}`);
  return node as JsonSchema;
}

function check(
  root: JsonSchema,
  schema: JsonSchema,
  value: unknown,
  pointer: string,
  problems: SchemaProblem[],
): void {
  if (schema === true) return;
  if (schema === false) {
    problems.push({ pointer, message: "is not allowed" });
    return;
  }
  for (const keyword of Object.keys(schema)) {
    if (!KNOWN.has(keyword))
      throw new Error(`schema keyword "${keyword}" is not supported by ferry's validator`);
  }
  const at = (message: string) => problems.push({ pointer, message });
  if (typeof schema.$ref === "string") check(root, resolveRef(root, schema.$ref), value, pointer, problems);
  if (typeof schema.type === "string" && !matchesType(value, schema.type)) {
    at(`must be of type ${schema.type}, got ${typeOf(value)}`);
    return;
  }
  if ("const" in schema && JSON.stringify(value) !== JSON.stringify(schema.const))
    at(`must be ${JSON.stringify(schema.const)}`);
  if (
    Array.isArray(schema.enum) &&
    !schema.enum.some((option) => JSON.stringify(option) === JSON.stringify(value))
  ) {
    at(`must be one of ${schema.enum.map((option) => JSON.stringify(option)).join(", ")}`);
  }
  if (typeof value === "string") {
    if (typeof schema.minLength === "number" && value.length < schema.minLength)
      at(`must have at least ${schema.minLength} characters`);
    if (typeof schema.maxLength === "number" && value.length > schema.maxLength)
      at(`must have at most ${schema.maxLength} characters`);
    if (typeof schema.pattern === "string" && !new RegExp(schema.pattern, "u").test(value))
      at(`must match ${schema.pattern}`);
    if (schema.format === "date-time" && !isDateTime(value)) at("must be an RFC 3339 date-time");
  }
  if (typeof value === "number" && typeof schema.minimum === "number" && value < schema.minimum) {
    at(`must be at least ${schema.minimum}`);
  }
  if (Array.isArray(value) && schema.items !== undefined) {
    for (const [index, item] of value.entries())
      check(root, schema.items as JsonSchema, item, `${pointer}/${index}`, problems);
  }
  if (typeOf(value) === "object")
    checkObject(root, schema, value as Record<string, unknown>, pointer, problems);
  if (Array.isArray(schema.allOf))
    for (const part of schema.allOf) check(root, part as JsonSchema, value, pointer, problems);
  if (
    schema.if !== undefined &&
    schema.then !== undefined &&
    validateJson(withDefs(root, schema.if as JsonSchema), value).length === 0
  ) {
    check(root, schema.then as JsonSchema, value, pointer, problems);
  }
}

function checkObject(
  root: JsonSchema,
  schema: Exclude<JsonSchema, boolean>,
  value: Record<string, unknown>,
  pointer: string,
  problems: SchemaProblem[],
): void {
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  if (Array.isArray(schema.required)) {
    for (const key of schema.required as string[]) {
      if (!(key in value)) problems.push({ pointer, message: `is missing required property "${key}"` });
    }
  }
  for (const [key, child] of Object.entries(value)) {
    const childPointer = `${pointer}/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`;
    const childSchema = properties[key];
    if (childSchema !== undefined) check(root, childSchema, child, childPointer, problems);
    else if (schema.additionalProperties === false)
      problems.push({ pointer: childPointer, message: "is not an allowed property" });
    else if (typeof schema.additionalProperties === "object") {
      check(root, schema.additionalProperties as JsonSchema, child, childPointer, problems);
    }
  }
}

/** A sub-schema evaluated on its own still resolves $refs against the root's $defs. */
function withDefs(root: JsonSchema, schema: JsonSchema): JsonSchema {
  if (typeof schema === "boolean" || typeof root === "boolean") return schema;
  return { ...schema, $defs: root.$defs };
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

function isDateTime(value: string): boolean {
  return DATE_TIME.test(value) && !Number.isNaN(Date.parse(value));
}
