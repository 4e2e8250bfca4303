/**
 * Values from ferry and from DuckDB in one comparable form (times in ns, bytes in hex, dates in days,
 * decimals as exact text, integers as numbers when exact): used wherever a test compares the two.
 */
import {
  DuckDBArrayValue,
  DuckDBBlobValue,
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBGeometryValue,
  DuckDBIntervalValue,
  DuckDBListValue,
  DuckDBMapValue,
  DuckDBStructValue,
  DuckDBTimeNSValue,
  DuckDBTimestampMillisecondsValue,
  DuckDBTimestampNanosecondsValue,
  DuckDBTimestampSecondsValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBTimeValue,
  type DuckDBValue,
} from "@duckdb/node-api";
import type { DataType, Interval } from "@ferry/plugin-kit";

const DAY_MS = 86_400_000;
const NS_PER: Record<string, bigint> = { s: 1_000_000_000n, ms: 1_000_000n, us: 1_000n, ns: 1n };

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

/** An integer as a number when it is exactly one, else a bigint (both readers agree on this form). */
function integer(value: number | bigint): number | bigint {
  return typeof value === "bigint" && Number.isSafeInteger(Number(value)) ? Number(value) : value;
}

/** ferry's value in the form both readers are compared in: times in ns, bytes in hex, dates in days. */
export function canonFerry(type: DataType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (type.type) {
    case "int":
      return integer(value as number | bigint);
    case "binary":
      return hex(value as Uint8Array);
    case "date":
      return (value as Date).getTime() / DAY_MS;
    case "timestamp":
      return value instanceof Date
        ? BigInt(value.getTime()) * NS_PER.ms!
        : (value as bigint) * NS_PER[type.unit]!;
    case "time":
      return BigInt(value as number | bigint) * NS_PER[type.unit]!;
    case "duration":
      return integer(value as bigint);
    case "interval": {
      const { months, days, milliseconds } = value as Interval;
      return { months, days, nanos: BigInt(milliseconds) * NS_PER.ms! };
    }
    case "list":
      return (value as unknown[]).map((item) => canonFerry(type.item.type, item));
    case "struct":
      return Object.fromEntries(
        type.fields.map((f) => [f.name, canonFerry(f.type, (value as Record<string, unknown>)[f.name])]),
      );
    default:
      return value;
  }
}

/** DuckDB's value in the same form. */
export function canonDuck(value: DuckDBValue): unknown {
  if (value === null || typeof value !== "object") return typeof value === "bigint" ? integer(value) : value;
  if (value instanceof DuckDBBlobValue || value instanceof DuckDBGeometryValue) return hex(value.bytes);
  if (value instanceof DuckDBDateValue) return value.days;
  if (value instanceof DuckDBDecimalValue) return formatDecimal(value.value, value.scale);
  if (value instanceof DuckDBTimestampValue || value instanceof DuckDBTimestampTZValue)
    return value.micros * NS_PER.us!;
  if (value instanceof DuckDBTimestampMillisecondsValue) return value.millis * NS_PER.ms!;
  if (value instanceof DuckDBTimestampSecondsValue) return value.seconds * NS_PER.s!;
  if (value instanceof DuckDBTimestampNanosecondsValue) return value.nanos;
  if (value instanceof DuckDBTimeValue) return value.micros * NS_PER.us!;
  if (value instanceof DuckDBTimeNSValue) return value.nanos;
  if (value instanceof DuckDBIntervalValue)
    return { months: value.months, days: value.days, nanos: value.micros * NS_PER.us! };
  if (value instanceof DuckDBListValue || value instanceof DuckDBArrayValue)
    return value.items.map(canonDuck);
  if (value instanceof DuckDBMapValue)
    return value.entries.map(({ key, value: v }) => ({ key: canonDuck(key), value: canonDuck(v) }));
  if (value instanceof DuckDBStructValue)
    return Object.fromEntries(Object.entries(value.entries).map(([k, v]) => [k, canonDuck(v)]));
  return value.toString();
}

function formatDecimal(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, "0");
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${text}` : text;
}
