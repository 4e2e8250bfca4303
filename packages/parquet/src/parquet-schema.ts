/**
 * ferry's Schema ⇄ parquet's flat SchemaElement list.
 *
 * Writing: every ferry type has one parquet spelling that DuckDB, Polars and pyarrow read back as the
 * same type. Reading: any parquet schema maps onto ferry types (legacy list layouts, MAP as a list of
 * key/value structs, INT96 as timestamp[ns]); what has no ferry type raises Unsupported naming the
 * column. The full ferry schema (timezone names, seconds unit, field metadata, partition columns) is
 * kept in each file's key/value metadata under `ferry.schema`, so a round trip is exact even where
 * parquet's own type system is coarser.
 */

import { type DataType, errors, FerryError, type Field, type Schema } from "@ferry/plugin-kit";
import type { FileMetaData, SchemaElement } from "hyparquet";

export const SCHEMA_METADATA_KEY = "ferry.schema";
/** Field metadata marking a list of key/value structs that was a parquet MAP. */
export const MAP_MARKER = "parquet.map";

/** Parquet's smallest FIXED_LEN_BYTE_ARRAY width holding a decimal of `precision` digits. */
export function decimalByteLength(precision: number): number {
  let bytes = 1;
  while (10n ** BigInt(precision) > 2n ** BigInt(8 * bytes - 1)) bytes++;
  return bytes;
}

/** Flat pre-order SchemaElement list (root first) for writing. */
export function toParquetSchema(fields: readonly Field[]): SchemaElement[] {
  const elements: SchemaElement[] = [{ name: "schema", num_children: fields.length }];
  for (const field of fields) appendField(elements, field, field.name);
  return elements;
}

function repetition(field: Field): "OPTIONAL" | "REQUIRED" {
  return field.nullable ? "OPTIONAL" : "REQUIRED";
}

function appendField(out: SchemaElement[], field: Field, column: string): void {
  const type = field.type;
  const base = { name: field.name, repetition_type: repetition(field) } as const;
  switch (type.type) {
    case "list":
      // The standard 3-level layout: <name> (LIST) → repeated group "list" → "element".
      out.push({ ...base, num_children: 1, converted_type: "LIST", logical_type: { type: "LIST" } });
      out.push({ name: "list", repetition_type: "REPEATED", num_children: 1 });
      appendField(out, { ...type.item, name: "element" }, `${column}[]`);
      return;
    case "struct":
      if (type.fields.length === 0) {
        throw errors.unsupported(`column "${column}": parquet cannot store a struct with no fields`);
      }
      out.push({ ...base, num_children: type.fields.length });
      for (const child of type.fields) appendField(out, child, `${column}.${child.name}`);
      return;
    default:
      out.push({ ...base, ...leafElement(type, column) });
  }
}

/** A SchemaElement without its name: how one column is spelled in parquet. */
type Spelling = Omit<SchemaElement, "name">;

/** The parquet spelling of a ferry type without children. */
function leafElement(type: Exclude<DataType, { type: "list" | "struct" }>, column: string): Spelling {
  switch (type.type) {
    case "null":
      return { repetition_type: "OPTIONAL", type: "INT32", logical_type: { type: "NULL" } };
    case "bool":
      return { type: "BOOLEAN" };
    case "int":
      return intElement(type);
    case "float":
      return type.bits === 16
        ? { type: "FIXED_LEN_BYTE_ARRAY", type_length: 2, logical_type: { type: "FLOAT16" } }
        : { type: type.bits === 32 ? "FLOAT" : "DOUBLE" };
    case "string":
      return { type: "BYTE_ARRAY", converted_type: "UTF8", logical_type: { type: "STRING" } };
    case "binary":
      return { type: "BYTE_ARRAY" };
    case "date":
      return { type: "INT32", converted_type: "DATE", logical_type: { type: "DATE" } };
    case "timestamp":
      return timestampElement(type);
    case "time":
      return timeElement(type);
    case "duration":
      // Parquet has no duration type: a plain INT64 count, the unit kept in ferry.schema (as pyarrow does).
      return { type: "INT64" };
    case "interval":
      return { type: "FIXED_LEN_BYTE_ARRAY", type_length: 12, converted_type: "INTERVAL" };
    case "unreadable":
      throw errors.unsupported(`column "${column}" cannot be written: ${type.reason}`);
    case "decimal":
      return decimalElement(type, column);
  }
}

function intElement(type: Extract<DataType, { type: "int" }>): Spelling {
  // Converted types only: hyparquet-writer encodes the INTEGER logical type's bit width with the
  // wrong thrift type, which DuckDB rejects; every reader maps INT_8..UINT_64 the same way.
  const converted = `${type.signed ? "INT" : "UINT"}_${type.bits}` as NonNullable<
    SchemaElement["converted_type"]
  >;
  return { type: type.bits === 64 ? "INT64" : "INT32", converted_type: converted };
}

function timestampElement(type: Extract<DataType, { type: "timestamp" }>): Spelling {
  // Parquet has no seconds unit: seconds are stored as milliseconds (exact), the unit kept in ferry.schema.
  const unit = type.unit === "us" ? "MICROS" : type.unit === "ns" ? "NANOS" : "MILLIS";
  const isAdjustedToUTC = type.timezone !== undefined;
  return {
    type: "INT64",
    // The legacy converted types imply UTC-adjusted; naive timestamps carry only the logical type.
    ...(isAdjustedToUTC && unit !== "NANOS"
      ? { converted_type: unit === "MILLIS" ? "TIMESTAMP_MILLIS" : "TIMESTAMP_MICROS" }
      : {}),
    logical_type: { type: "TIMESTAMP", isAdjustedToUTC, unit },
  };
}

function timeElement(type: Extract<DataType, { type: "time" }>): Spelling {
  // Not adjusted to UTC: a wall-clock time, as DuckDB's TIME and Arrow's time types are.
  const unit = type.unit === "us" ? "MICROS" : type.unit === "ns" ? "NANOS" : "MILLIS";
  const converted = unit === "MILLIS" ? "TIME_MILLIS" : unit === "MICROS" ? "TIME_MICROS" : undefined;
  return {
    type: unit === "MILLIS" ? "INT32" : "INT64",
    ...(converted ? { converted_type: converted } : {}),
    logical_type: { type: "TIME", isAdjustedToUTC: false, unit },
  };
}

function decimalElement(type: Extract<DataType, { type: "decimal" }>, column: string): Spelling {
  if (!Number.isInteger(type.precision) || type.precision < 1 || type.precision > 76) {
    throw errors.invalidInput(`column "${column}": decimal precision must be 1..76, got ${type.precision}`);
  }
  if (!Number.isInteger(type.scale) || type.scale < 0 || type.scale > type.precision) {
    throw errors.invalidInput(`column "${column}": decimal scale must be 0..precision, got ${type.scale}`);
  }
  const physical =
    type.precision <= 9
      ? ({ type: "INT32" } as const)
      : type.precision <= 18
        ? ({ type: "INT64" } as const)
        : ({ type: "FIXED_LEN_BYTE_ARRAY", type_length: decimalByteLength(type.precision) } as const);
  return {
    ...physical,
    converted_type: "DECIMAL",
    scale: type.scale,
    precision: type.precision,
    logical_type: { type: "DECIMAL", precision: type.precision, scale: type.scale },
  };
}

interface Node {
  element: SchemaElement;
  children: Node[];
}

function buildTree(elements: readonly SchemaElement[], file: string): Node {
  let index = 0;
  const take = (): Node => {
    const element = elements[index++];
    if (!element) throw errors.invalidInput(`${file}: not a readable parquet file (its schema is truncated)`);
    const children: Node[] = [];
    for (let i = 0; i < (element.num_children ?? 0); i++) children.push(take());
    return { element, children };
  };
  return take();
}

/** The ferry schema a parquet file's own schema describes (without ferry.schema metadata). */
export function fromParquetSchema(metadata: FileMetaData, file: string): Schema {
  const root = buildTree(metadata.schema, file);
  return { fields: root.children.map((node) => topLevelField(node, file)) };
}

/** A column ferry cannot represent is `unreadable`: the file's other columns still read. */
function topLevelField(node: Node, file: string): Field {
  try {
    return nodeToField(node, node.element.name, file);
  } catch (error) {
    if (!FerryError.isInstance(error, "Unsupported")) throw error;
    return {
      name: node.element.name,
      type: { type: "unreadable", reason: error.message },
      nullable: node.element.repetition_type !== "REQUIRED",
    };
  }
}

function nodeToField(node: Node, column: string, file: string): Field {
  const { element } = node;
  if (element.repetition_type === "REPEATED") {
    // A repeated field outside a LIST annotation is a list of non-null items (legacy 1-/2-level form).
    const item = nodeToField(
      { element: { ...element, repetition_type: "REQUIRED" }, children: node.children },
      column,
      file,
    );
    return {
      name: element.name,
      type: { type: "list", item: { ...item, name: "element" } },
      nullable: false,
    };
  }
  return {
    name: element.name,
    type: nodeType(node, column, file),
    nullable: element.repetition_type !== "REQUIRED",
  };
}

function nodeType(node: Node, column: string, file: string): DataType {
  const { element, children } = node;
  if (children.length > 0) {
    if (isListLike(node)) return listType(node, column, file);
    if (isMapLike(node)) return mapType(node, column, file);
    if (isKeyOnlyMap(node)) return keyListType(node, column, file);
    if (element.logical_type?.type === "VARIANT") throw unsupported(column, "VARIANT", file);
    return {
      type: "struct",
      fields: children.map((child) => nodeToField(child, `${column}.${child.element.name}`, file)),
    };
  }
  return primitiveType(element, column, file);
}

// LIST and MAP are recognised exactly as hyparquet assembles them, so the types we report always
// describe the values the reader produces.
function isListLike(node: Node): boolean {
  const repeated = node.children[0];
  return (
    node.element.converted_type === "LIST" &&
    node.children.length === 1 &&
    repeated !== undefined &&
    repeated.children.length <= 1 &&
    repeated.element.repetition_type === "REPEATED"
  );
}

function isMapLike(node: Node): boolean {
  const entries = node.children[0];
  if (node.element.converted_type !== "MAP" || node.children.length !== 1 || !entries) return false;
  if (entries.children.length !== 2 || entries.element.repetition_type !== "REPEATED") return false;
  const key = entries.children.find((child) => child.element.name === "key");
  const value = entries.children.find((child) => child.element.name === "value");
  return key?.element.repetition_type !== "REPEATED" && value?.element.repetition_type !== "REPEATED";
}

/** A MAP whose entries have a key and no value: a list of the keys. */
function isKeyOnlyMap(node: Node): boolean {
  const entries = node.children[0];
  return (
    node.element.converted_type === "MAP" &&
    node.children.length === 1 &&
    entries?.element.repetition_type === "REPEATED" &&
    entries.children.length === 1 &&
    entries.children[0]!.children.length === 0
  );
}

function keyListType(node: Node, column: string, file: string): DataType {
  const key = node.children[0]!.children[0]!;
  return {
    type: "list",
    item: { ...nodeToField(key, `${column}.key`, file), name: "element", metadata: { [MAP_MARKER]: "keys" } },
  };
}

/** LIST: 3-level (`list` → `element`) or the legacy 2-level form where the repeated field is the item. */
function listType(node: Node, column: string, file: string): DataType {
  const repeated = node.children[0]!;
  const itemNode =
    repeated.children.length === 1
      ? repeated.children[0]!
      : {
          element: { ...repeated.element, repetition_type: "REQUIRED" as const },
          children: repeated.children,
        };
  return { type: "list", item: { ...nodeToField(itemNode, `${column}[]`, file), name: "element" } };
}

/** MAP as a list of {key, value} entries (ferry has no map type; this is how Arrow lays a map out too). */
function mapType(node: Node, column: string, file: string): DataType {
  const entries = node.children[0]!;
  const keyNode = entries.children.find((child) => child.element.name === "key")!;
  const valueNode = entries.children.find((child) => child.element.name === "value")!;
  const key = nodeToField(keyNode, `${column}.key`, file);
  if (key.type.type === "binary" || key.type.type === "list" || key.type.type === "struct") {
    throw unsupported(column, `MAP with ${key.type.type} keys`, file);
  }
  const fields: Field[] = [
    { ...key, name: "key" },
    { ...nodeToField(valueNode, `${column}.value`, file), name: "value" },
  ];
  return {
    type: "list",
    item: {
      name: "entries",
      type: { type: "struct", fields },
      nullable: false,
      metadata: { [MAP_MARKER]: "true" },
    },
  };
}

function unsupported(column: string, what: string, file: string) {
  return errors.unsupported(
    `${file}: column ${JSON.stringify(column)} has parquet type ${what}, which ferry cannot represent`,
  );
}

function primitiveType(element: SchemaElement, column: string, file: string): DataType {
  const logical = element.logical_type;
  const converted = element.converted_type;
  if (logical?.type === "NULL") return { type: "null" };
  if (logical?.type === "DECIMAL" || converted === "DECIMAL") {
    const precision = logical?.type === "DECIMAL" ? logical.precision : (element.precision ?? 0);
    const scale = logical?.type === "DECIMAL" ? logical.scale : (element.scale ?? 0);
    return { type: "decimal", precision, scale };
  }
  if (logical?.type === "TIMESTAMP") {
    const unit = logical.unit === "MICROS" ? "us" : logical.unit === "NANOS" ? "ns" : "ms";
    return logical.isAdjustedToUTC
      ? { type: "timestamp", unit, timezone: "UTC" }
      : { type: "timestamp", unit };
  }
  if (converted === "TIMESTAMP_MILLIS") return { type: "timestamp", unit: "ms", timezone: "UTC" };
  if (converted === "TIMESTAMP_MICROS") return { type: "timestamp", unit: "us", timezone: "UTC" };
  if (logical?.type === "DATE" || converted === "DATE") return { type: "date" };
  if (logical?.type === "TIME") {
    return { type: "time", unit: logical.unit === "MICROS" ? "us" : logical.unit === "NANOS" ? "ns" : "ms" };
  }
  if (converted === "TIME_MILLIS") return { type: "time", unit: "ms" };
  if (converted === "TIME_MICROS") return { type: "time", unit: "us" };
  if (converted === "INTERVAL") {
    if (element.type !== "FIXED_LEN_BYTE_ARRAY" || element.type_length !== 12)
      throw unsupported(column, `INTERVAL stored as ${element.type}`, file);
    return { type: "interval" };
  }
  // BSON documents are bytes; ferry hands them over undecoded.
  if (logical?.type === "BSON" || converted === "BSON") return { type: "binary" };
  if (logical?.type === "FLOAT16") return { type: "float", bits: 16 };
  if (
    logical?.type === "STRING" ||
    logical?.type === "ENUM" ||
    logical?.type === "JSON" ||
    logical?.type === "UUID" ||
    converted === "UTF8" ||
    converted === "ENUM" ||
    converted === "JSON"
  ) {
    return { type: "string" };
  }
  if (logical?.type === "INTEGER") {
    return { type: "int", bits: logical.bitWidth as 8 | 16 | 32 | 64, signed: logical.isSigned };
  }
  const intMatch = /^(U?)INT_(8|16|32|64)$/.exec(converted ?? "");
  if (intMatch)
    return { type: "int", bits: Number(intMatch[2]) as 8 | 16 | 32 | 64, signed: intMatch[1] !== "U" };
  switch (element.type) {
    case "BOOLEAN":
      return { type: "bool" };
    case "INT32":
      return { type: "int", bits: 32, signed: true };
    case "INT64":
      return { type: "int", bits: 64, signed: true };
    case "INT96":
      return { type: "timestamp", unit: "ns" };
    case "FLOAT":
      return { type: "float", bits: 32 };
    case "DOUBLE":
      return { type: "float", bits: 64 };
    case "BYTE_ARRAY":
    case "FIXED_LEN_BYTE_ARRAY":
      return { type: "binary" };
    default:
      throw unsupported(column, String(element.type), file);
  }
}

/**
 * A file's own key/value metadata as schema metadata (what pyarrow and `datasets` write there, such as
 * `huggingface`), without the keys that describe its physical layout; undefined when there is none.
 */
export function keyValueMetadata(metadata: FileMetaData): Record<string, string> | undefined {
  const entries = (metadata.key_value_metadata ?? [])
    .filter(({ key, value }) => key !== SCHEMA_METADATA_KEY && key !== "ARROW:schema" && value !== undefined)
    .map(({ key, value }) => [key, value!] as const);
  return entries.length === 0 ? undefined : Object.fromEntries(entries);
}

/** ferry.schema as stored in key/value metadata. */
export function schemaToJson(schema: Schema): string {
  return JSON.stringify(schema);
}

export function schemaFromKeyValue(metadata: FileMetaData): Schema | undefined {
  const entry = metadata.key_value_metadata?.find((kv) => kv.key === SCHEMA_METADATA_KEY);
  if (!entry?.value) return undefined;
  try {
    const parsed = JSON.parse(entry.value) as Schema;
    return Array.isArray(parsed.fields) && parsed.fields.every(isField) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** A stored schema is used only when every field is well formed (a damaged one falls back to the file's). */
function isField(value: unknown): value is Field {
  const field = value as Field | null;
  return (
    typeof field === "object" &&
    field !== null &&
    typeof field.name === "string" &&
    typeof field.nullable === "boolean" &&
    isType(field.type)
  );
}

const KNOWN_TYPES = new Set([
  "null",
  "bool",
  "int",
  "float",
  "string",
  "binary",
  "date",
  "timestamp",
  "time",
  "duration",
  "interval",
  "decimal",
  "list",
  "struct",
]);

function isType(value: unknown): value is DataType {
  const type = value as DataType | null;
  if (typeof type !== "object" || type === null || !KNOWN_TYPES.has(type.type)) return false;
  if (type.type === "list") return isField(type.item);
  if (type.type === "struct") return Array.isArray(type.fields) && type.fields.every(isField);
  return true;
}

/** Structural equality of types, ignoring field metadata (used to check that ferry.schema matches the file). */
export function sameType(a: DataType, b: DataType): boolean {
  if (a.type !== b.type) return false;
  switch (a.type) {
    case "int":
      return b.type === "int" && a.bits === b.bits && a.signed === b.signed;
    case "float":
      return b.type === "float" && a.bits === b.bits;
    case "decimal":
      return b.type === "decimal" && a.precision === b.precision && a.scale === b.scale;
    case "timestamp":
      return b.type === "timestamp" && a.unit === b.unit && a.timezone === b.timezone;
    case "time":
    case "duration":
      return b.type === a.type && a.unit === b.unit;
    case "list":
      return b.type === "list" && sameType(a.item.type, b.item.type) && a.item.nullable === b.item.nullable;
    case "struct":
      return (
        b.type === "struct" &&
        a.fields.length === b.fields.length &&
        a.fields.every(
          (f, i) =>
            f.name === b.fields[i]!.name &&
            f.nullable === b.fields[i]!.nullable &&
            sameType(f.type, b.fields[i]!.type),
        )
      );
    default:
      return true;
  }
}

export function describeType(type: DataType): string {
  switch (type.type) {
    case "int":
      return `${type.signed ? "int" : "uint"}${type.bits}`;
    case "float":
      return `float${type.bits}`;
    case "decimal":
      return `decimal(${type.precision}, ${type.scale})`;
    case "timestamp":
      return `timestamp[${type.unit}${type.timezone ? `, ${type.timezone}` : ""}]`;
    case "time":
    case "duration":
      return `${type.type}[${type.unit}]`;
    case "unreadable":
      return "unreadable";
    case "list":
      return `list<${describeType(type.item.type)}>`;
    case "struct":
      return `struct<${type.fields.map((f) => `${f.name}: ${describeType(f.type)}`).join(", ")}>`;
    default:
      return type.type;
  }
}
