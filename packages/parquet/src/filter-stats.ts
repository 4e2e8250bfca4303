/**
 * What a part's footer tells a filter before any data page is read: each row group's statistics
 * (min, max, null count) and, for `=` and `in` on columns that have one, its bloom filter. A row group
 * none of whose rows can match is never fetched.
 */

import type { DataType, Field } from "@ferry/plugin-kit";
import type { ColumnChunk, SchemaElement } from "hyparquet";
import { hashParquetValue, readBloomFilter, sbbfContains } from "hyparquet/src/bloom.js";
import { decimalBound } from "./decimal-stats.ts";
import { type CompiledFilter, type Key, type Leaf, mayMatch, type Range } from "./filter.ts";
import type { OpenPart } from "./part-reader.ts";

type Meta = NonNullable<ColumnChunk["meta_data"]>;

/** Physical types whose deprecated min/max (signed order) are right for ferry's order. */
const SIGNED_ORDER = new Set(["BOOLEAN", "INT32", "INT64", "FLOAT", "DOUBLE"]);

/** The index of a flat column's chunk in a row group (nested columns have no usable statistics here). */
function chunkIndexOf(open: OpenPart, groupIndex: number, column: string): number {
  const group = open.metadata.row_groups[groupIndex];
  return (
    group?.columns.findIndex(
      (chunk) => chunk.meta_data?.path_in_schema.length === 1 && chunk.meta_data.path_in_schema[0] === column,
    ) ?? -1
  );
}

function chunkOf(open: OpenPart, groupIndex: number, column: string): Meta | undefined {
  return open.metadata.row_groups[groupIndex]?.columns[chunkIndexOf(open, groupIndex, column)]?.meta_data;
}

function elementOf(open: OpenPart, column: string): SchemaElement | undefined {
  return open.metadata.schema.find((element, i) => i > 0 && element.name === column && !element.num_children);
}

/** A statistics value (as hyparquet read it with ferry's parsers) as a key in the column's order. */
export function statKey(type: DataType, value: unknown): Key | undefined {
  if (value === undefined || value === null) return undefined;
  switch (type.type) {
    case "int":
    case "float":
    case "time":
    case "duration":
      return typeof value === "number" || typeof value === "bigint" ? value : undefined;
    case "bool":
      return typeof value === "boolean" ? value : undefined;
    case "string":
      // A bound cut inside a character decodes to U+FFFD and is no bound any more.
      return typeof value === "string" && !value.includes("\uFFFD") ? value : undefined;
    case "date":
      return value instanceof Date ? value.getTime() : undefined;
    case "timestamp":
      if (typeof value !== "bigint") return undefined;
      return type.unit === "s" || type.unit === "ms" ? Number(value) : value;
    default:
      // Decimals come back from hyparquet as floats (rounded): their keys come from the bytes (decimalBound).
      return undefined;
  }
}

/** What row group `groupIndex` of `open` says about `column`; undefined when nothing usable. */
export function groupRange(open: OpenPart, groupIndex: number, column: string): Range | undefined {
  const fileField = open.fileSchema.fields.find((f) => f.name === column);
  // A part written before the column was added reads it as nulls.
  if (!fileField) return { nulls: "all" };
  const chunkIndex = chunkIndexOf(open, groupIndex, column);
  const meta = open.metadata.row_groups[groupIndex]?.columns[chunkIndex]?.meta_data;
  const element = elementOf(open, column);
  const stats = meta?.statistics;
  // INT96's sort order is undefined in the parquet spec (writers ordered its bytes in different ways;
  // arrow-rs and DuckDB ignore its statistics too): its row groups are never skipped by value.
  if (!meta || !element || !stats || element.type === "INT96") return undefined;
  const rows = open.rowGroups[groupIndex] ?? 0;
  const nullCount = stats.null_count === undefined ? undefined : Number(stats.null_count);
  const nulls: Range["nulls"] =
    nullCount === undefined ? "unknown" : nullCount === 0 ? "none" : nullCount >= rows ? "all" : "some";
  const legacy =
    SIGNED_ORDER.has(element.type ?? "") &&
    !(element.converted_type ?? "").startsWith("UINT") &&
    !(element.logical_type?.type === "INTEGER" && !element.logical_type.isSigned);
  if (fileField.type.type === "decimal") {
    const raw = open.decimalStatistics(groupIndex, chunkIndex);
    // A byte-array bound a writer cut short is no longer the same number.
    const whole = (exact: boolean | undefined) => exact !== false || !element.type?.endsWith("BYTE_ARRAY");
    const min = whole(stats.is_min_value_exact)
      ? (raw?.minValue ?? (legacy ? raw?.min : undefined))
      : undefined;
    const max = whole(stats.is_max_value_exact)
      ? (raw?.maxValue ?? (legacy ? raw?.max : undefined))
      : undefined;
    return { min: decimalBound(min, element), max: decimalBound(max, element), nulls };
  }
  const min = statKey(fileField.type, stats.min_value ?? (legacy ? stats.min : undefined));
  const max = statKey(fileField.type, stats.max_value ?? (legacy ? stats.max : undefined));
  return { min, max, nulls };
}

/** Bloom filters read so far, by part, row group and column (undefined: none usable). */
type BloomCache = Map<string, Promise<Uint32Array | undefined>>;

async function bloomOf(
  open: OpenPart,
  groupIndex: number,
  column: string,
  cache: BloomCache,
): Promise<Uint32Array | undefined> {
  const key = `${open.part.path}\u0000${groupIndex}\u0000${column}`;
  let pending = cache.get(key);
  if (!pending) {
    pending = (async () => {
      const meta = chunkOf(open, groupIndex, column);
      if (meta?.bloom_filter_offset === undefined) return undefined;
      const start = Number(meta.bloom_filter_offset);
      // Without a length in the footer: a header is a few bytes, the bitset follows it.
      let length = meta.bloom_filter_length ?? 64;
      for (let attempt = 0; attempt < 2; attempt++) {
        const end = Math.min(start + length, open.file.byteLength);
        const bytes = await open.file.slice(start, end);
        try {
          return readBloomFilter({ view: new DataView(bytes), offset: 0 })?.blocks;
        } catch (error) {
          const need = /need (\d+) bytes/.exec((error as Error).message);
          if (!need || meta.bloom_filter_length !== undefined) return undefined;
          length = Number(need[1]) + 64;
        }
      }
      return undefined;
    })().catch(() => undefined);
    cache.set(key, pending);
  }
  return pending;
}

/** The value as hyparquet hashes it for its physical type: ints as number / bigint, text as string. */
function hashable(field: Field, key: Key): unknown {
  const type = field.type;
  if (type.type === "int" || type.type === "string" || type.type === "bool") return key;
  return undefined;
}

/**
 * Can row group `groupIndex` of `open` hold a row the filter keeps? Statistics first; then the bloom
 * filters of the columns compared with `=` or `in`, fetched only when the statistics could not tell.
 */
export async function groupMayMatch(
  filter: CompiledFilter,
  open: OpenPart,
  groupIndex: number,
  fixed: (column: string) => Range | undefined,
  blooms: BloomCache,
): Promise<boolean> {
  const rangeOf = (column: string) => fixed(column) ?? groupRange(open, groupIndex, column);
  if (!mayMatch(filter, rangeOf)) return false;
  const equalities = bloomLeaves(filter, open, groupIndex);
  if (equalities.length === 0) return true;
  const absent = new Set<Leaf>();
  await Promise.all(
    equalities.map(async ({ leaf, field, element }) => {
      const blocks = await bloomOf(open, groupIndex, leaf.column, blooms);
      if (!blocks) return;
      const values = leaf.kind === "in" ? leaf.values : leaf.kind === "cmp" ? [leaf.value] : [];
      const anyPresent = values.some((value) => {
        const hash = hashParquetValue(hashable(field, value), element);
        return hash === undefined || sbbfContains(blocks, hash);
      });
      if (!anyPresent) absent.add(leaf);
    }),
  );
  return absent.size === 0 || mayMatch(filter, rangeOf, (leaf) => absent.has(leaf));
}

/** The `=` / `in` leaves whose column has a bloom filter in this row group. */
function bloomLeaves(
  filter: CompiledFilter,
  open: OpenPart,
  groupIndex: number,
): { leaf: Leaf; field: Field; element: SchemaElement }[] {
  const out: { leaf: Leaf; field: Field; element: SchemaElement }[] = [];
  const visit = (node: CompiledFilter["root"]): void => {
    if (node.kind === "and" || node.kind === "or") {
      node.items.forEach(visit);
      return;
    }
    const equality = (node.kind === "cmp" && node.op === "=") || (node.kind === "in" && !node.negated);
    if (!equality) return;
    const field = open.fileSchema.fields.find((f) => f.name === node.column);
    const element = elementOf(open, node.column);
    if (!field || !element || chunkOf(open, groupIndex, node.column)?.bloom_filter_offset === undefined)
      return;
    out.push({ leaf: node, field, element });
  };
  visit(filter.root);
  return out;
}

export type { BloomCache };
