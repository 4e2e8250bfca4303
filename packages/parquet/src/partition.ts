/**
 * Hive partitioning: `col=value/` directories. Values are percent-encoded the way DuckDB writes and
 * DuckDB, Polars and pyarrow (`segment_encoding="uri"`) decode; null is `__HIVE_DEFAULT_PARTITION__`.
 * Partition columns are not stored in the files; on read they come back from the path with the type
 * recorded in ferry.schema, or, for tables others wrote, as int64 when every value is an integer and
 * string otherwise (what Polars and DuckDB infer).
 */

import type { DataType, Field } from "@ferry/plugin-kit";
import { errors } from "@ferry/plugin-kit";
import { describeType } from "./parquet-schema.ts";

export const HIVE_NULL = "__HIVE_DEFAULT_PARTITION__";
const DAY_MS = 86_400_000;

/** Percent-encode everything except RFC 3986 unreserved characters. */
export function encodePartitionValue(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

export function decodePartitionValue(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

export function checkPartitionField(field: Field | undefined, column: string): Field {
  if (!field) throw errors.invalidInput(`partition column "${column}" is not in the table's schema`);
  const type = field.type;
  if (type.type !== "string" && type.type !== "int" && type.type !== "bool" && type.type !== "date") {
    throw errors.unsupported(
      `partition column "${column}" has type ${describeType(type)}; Hive partitioning supports string, integer, bool and date columns`,
    );
  }
  return field;
}

/** The directory segment for one partition value. */
export function partitionSegment(field: Field, value: unknown): string {
  if (value === null || value === undefined) return `${encodePartitionValue(field.name)}=${HIVE_NULL}`;
  let text: string;
  switch (field.type.type) {
    case "string":
      text = value as string;
      if (text === "") {
        throw errors.invalidInput(
          `partition column "${field.name}": an empty string cannot be a Hive partition value (readers treat it as null)`,
        );
      }
      break;
    case "date":
      text = (value as Date).toISOString().slice(0, 10);
      break;
    default:
      text = String(value);
  }
  return `${encodePartitionValue(field.name)}=${encodePartitionValue(text)}`;
}

/** `col=value` segments of a file path relative to the table folder, in order. */
export function partitionPairs(relativePath: string): [string, string][] {
  const pairs: [string, string][] = [];
  const segments = relativePath.split("/");
  segments.pop();
  for (const segment of segments) {
    const eq = segment.indexOf("=");
    if (eq <= 0) continue;
    pairs.push([decodePartitionValue(segment.slice(0, eq)), segment.slice(eq + 1)]);
  }
  return pairs;
}

/** A partition directory's text back into a value of `type`. */
export function parsePartitionValue(raw: string, type: DataType, column: string): unknown {
  if (raw === HIVE_NULL) return null;
  const text = decodePartitionValue(raw);
  switch (type.type) {
    case "string":
      return text;
    case "bool":
      if (text === "true") return true;
      if (text === "false") return false;
      break;
    case "int":
      if (/^-?\d+$/.test(text)) return type.bits === 64 ? BigInt(text) : Number(text);
      break;
    case "date": {
      const ms = Date.parse(`${text}T00:00:00Z`);
      if (!Number.isNaN(ms) && ms % DAY_MS === 0) return new Date(ms);
      break;
    }
    default:
      break;
  }
  throw errors.invalidInput(`partition directory "${column}=${raw}" is not a valid ${describeType(type)}`);
}

/** Type of a partition column seen only in paths: int64 if every value is an integer, else string. */
export function inferPartitionType(values: readonly string[]): DataType {
  const present = values.filter((v) => v !== HIVE_NULL).map(decodePartitionValue);
  if (present.length > 0 && present.every((v) => /^-?\d{1,18}$/.test(v)))
    return { type: "int", bits: 64, signed: true };
  return { type: "string" };
}
