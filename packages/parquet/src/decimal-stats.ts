/**
 * Exact bounds of DECIMAL columns, for pruning. hyparquet turns a decimal statistic into a float
 * (unscaled × 10^-scale), which rounds past 15 digits; filters compare decimals exactly
 * (`decimalKey`), so the bounds are taken from the statistics' bytes instead: the footer's
 * (`decimalStatistics`, one more parse of the footer per file, on the first filter that needs it) and
 * the column index's (read as bytes with `asBytes`).
 */

import type { FileMetaData, SchemaElement } from "hyparquet";
import { deserializeTCompactProtocol } from "hyparquet/src/thrift.js";
import { decimalKey } from "./filter.ts";
import { unscaledOf } from "./values.ts";

/** A column chunk's statistics as the footer stores them (field numbers of parquet.thrift's Statistics). */
export interface RawStatistics {
  /** min_value / max_value: in the column's sort order, signed for decimals. */
  minValue?: Uint8Array | undefined;
  maxValue?: Uint8Array | undefined;
  /** The deprecated min / max: signed only for INT32 and INT64 (the caller decides). */
  min?: Uint8Array | undefined;
  max?: Uint8Array | undefined;
}

/** Raw statistics of a file's decimal columns by row group and column chunk; undefined for other columns. */
export type DecimalStatistics = (groupIndex: number, chunkIndex: number) => RawStatistics | undefined;

export function isDecimal(element: SchemaElement): boolean {
  return element.converted_type === "DECIMAL" || element.logical_type?.type === "DECIMAL";
}

/**
 * The raw statistics of the decimal columns of the file whose footer thrift is `thrift` (its parsed
 * form is `metadata`). The footer is parsed again only on the first call, and only for a file that has
 * decimal columns; then only their statistics are kept.
 */
export function decimalStatistics(metadata: FileMetaData, thrift: Uint8Array): DecimalStatistics {
  // Column chunk i of every row group holds leaf i of the schema (as hyparquet reads it).
  const leaves = metadata.schema.filter((element) => element.type);
  const decimals = leaves.flatMap((element, i) => (isDecimal(element) ? [i] : []));
  if (decimals.length === 0) return () => undefined;
  let footer: Uint8Array | undefined = thrift.slice();
  let byGroup: Map<number, RawStatistics>[] | undefined;
  return (groupIndex, chunkIndex) => {
    if (!byGroup) {
      const bytes = footer!;
      footer = undefined;
      byGroup = extract(bytes, decimals);
    }
    return byGroup[groupIndex]?.get(chunkIndex);
  };
}

type Thrift = { [field: `field_${number}`]: unknown };

function extract(footer: Uint8Array, chunks: readonly number[]): Map<number, RawStatistics>[] {
  let parsed: Thrift;
  try {
    parsed = deserializeTCompactProtocol({
      view: new DataView(footer.buffer, footer.byteOffset, footer.byteLength),
      offset: 0,
    }) as Thrift;
  } catch {
    // hyparquet parsed the same bytes already; nothing usable if that somehow fails now.
    return [];
  }
  const copy = (value: unknown) => (value instanceof Uint8Array ? value.slice() : undefined);
  const groups = (parsed.field_4 as Thrift[] | undefined) ?? [];
  return groups.map((group) => {
    const out = new Map<number, RawStatistics>();
    const columns = (group.field_1 as Thrift[] | undefined) ?? [];
    for (const i of chunks) {
      const stats = (columns[i]?.field_3 as Thrift | undefined)?.field_12 as Thrift | undefined;
      if (!stats) continue;
      out.set(i, {
        max: copy(stats.field_1),
        min: copy(stats.field_2),
        maxValue: copy(stats.field_5),
        minValue: copy(stats.field_6),
      });
    }
    return out;
  });
}

/**
 * The schema element to hand hyparquet so that it returns a decimal column's statistics as their
 * bytes (it would round them through floats): an unannotated FIXED_LEN_BYTE_ARRAY, whatever the
 * physical type; `decimalBound` reads them by the real one.
 */
export function asBytes(element: SchemaElement): SchemaElement {
  const { converted_type: _converted, logical_type: _logical, ...rest } = element;
  return { ...rest, type: "FIXED_LEN_BYTE_ARRAY" };
}

/**
 * The filter key of a decimal statistic (`decimalKey` of its unscaled value), from its bytes as the
 * physical type stores them: INT32 and INT64 little-endian (plain encoding), FIXED_LEN_BYTE_ARRAY and
 * BYTE_ARRAY big-endian two's complement. Undefined when the bytes cannot be such a value (a wrong
 * width, a bound a writer cut short, INT96 or anything else).
 */
export function decimalBound(bytes: unknown, element: SchemaElement): bigint | undefined {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength === 0) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (element.type) {
    case "INT32":
      return bytes.byteLength === 4 ? decimalKey(BigInt(view.getInt32(0, true))) : undefined;
    case "INT64":
      return bytes.byteLength === 8 ? decimalKey(view.getBigInt64(0, true)) : undefined;
    case "FIXED_LEN_BYTE_ARRAY":
      return bytes.byteLength === element.type_length ? decimalKey(unscaledOf(bytes)) : undefined;
    case "BYTE_ARRAY":
      return decimalKey(unscaledOf(bytes));
    default:
      return undefined;
  }
}
