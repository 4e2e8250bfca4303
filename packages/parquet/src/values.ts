/**
 * JS values ⇄ what hyparquet reads and hyparquet-writer writes, for every ferry type (the table in
 * types.ts). Encoding validates each value and names the column, row and type it does not fit;
 * decoding is exact: 64-bit integers stay bigint, us/ns timestamps stay bigint counts, decimals
 * become strings with exactly `scale` digits after the point.
 */

import type { DataType, Field } from "@ferry/plugin-kit";
import { errors } from "@ferry/plugin-kit";
import { describeType, MAP_MARKER } from "./parquet-schema.ts";

const utf8 = new TextDecoder();
const DAY_MS = 86_400_000;

const INT_RANGES: Record<string, readonly [number, number]> = {
  "8s": [-128, 127],
  "16s": [-32768, 32767],
  "32s": [-2147483648, 2147483647],
  "8u": [0, 255],
  "16u": [0, 65535],
  "32u": [0, 4294967295],
};

class ValueError extends Error {}

function fail(message: string): never {
  throw new ValueError(message);
}

/** Values of one column as hyparquet-writer takes them. Throws InvalidInput naming the column and row. */
export function encodeColumn(field: Field, values: readonly unknown[]): unknown[] {
  const out = new Array<unknown>(values.length);
  const encode = encoderFor(field.type);
  for (let row = 0; row < values.length; row++) {
    const value = values[row];
    try {
      if (value === null || value === undefined) {
        // A null-typed column holds nulls whatever its nullability says (Arrow builds them non-nullable).
        if (!field.nullable && field.type.type !== "null") fail("null in a non-nullable column");
        out[row] = null;
      } else {
        out[row] = encode(value);
      }
    } catch (error) {
      if (!(error instanceof ValueError)) throw error;
      throw errors.invalidInput(
        `column "${field.name}" (${describeType(field.type)}), row ${row}: ${error.message} (got ${preview(value)})`,
      );
    }
  }
  return out;
}

function preview(value: unknown): string {
  if (typeof value === "bigint") return `${value}n`;
  if (value instanceof Date)
    return `Date(${Number.isNaN(value.getTime()) ? "invalid" : value.toISOString()})`;
  if (value instanceof Uint8Array) return `Uint8Array(${value.byteLength})`;
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (Array.isArray(value)) return `array(${value.length})`;
  if (typeof value === "object" && value !== null) return "object";
  return String(value);
}

type Encoder = (value: unknown) => unknown;

function encoderFor(type: DataType): Encoder {
  switch (type.type) {
    case "null":
      return () => fail("a null-typed column holds only nulls");
    case "bool":
      return (v) => (typeof v === "boolean" ? v : fail("expected a boolean"));
    case "int":
      return type.bits === 64 ? int64Encoder(type.signed) : smallIntEncoder(type.bits, type.signed);
    case "float":
      return (v) => (typeof v === "number" ? v : fail("expected a number"));
    case "string":
      return (v) => (typeof v === "string" ? v : fail("expected a string"));
    case "binary":
      return (v) => (v instanceof Uint8Array ? v : fail("expected a Uint8Array"));
    case "date":
      return (v) => {
        if (!(v instanceof Date) || Number.isNaN(v.getTime())) fail("expected a valid Date");
        const ms = v.getTime();
        if (ms % DAY_MS !== 0) fail("a date must be a Date at UTC midnight");
        return ms / DAY_MS;
      };
    case "timestamp":
      return timestampEncoder(type.unit);
    case "decimal":
      return decimalEncoder(type.precision, type.scale);
    case "time":
      return timeEncoder(type.unit);
    case "duration":
      return (v) => {
        if (typeof v === "bigint") return BigInt.asIntN(64, v) === v ? v : fail("out of the int64 range");
        if (typeof v === "number" && Number.isSafeInteger(v)) return BigInt(v);
        return fail(`expected a bigint count of ${type.unit}`);
      };
    case "interval":
      return encodeInterval;
    case "unreadable":
      return () => fail(type.reason);
    case "list": {
      const item = type.item;
      const encodeItem = encoderFor(item.type);
      return (v) => {
        if (!Array.isArray(v)) fail("expected an array");
        return v.map((element: unknown, index: number) => {
          if (element === null || element === undefined) {
            if (!item.nullable) fail(`null list item at index ${index} in a list of non-nullable items`);
            return null;
          }
          return encodeItem(element);
        });
      };
    }
    case "struct": {
      const children = type.fields.map((f) => [f, encoderFor(f.type)] as const);
      return (v) => {
        if (typeof v !== "object" || v === null || Array.isArray(v)) fail("expected an object");
        const record = v as Record<string, unknown>;
        const out: Record<string, unknown> = {};
        for (const [child, encode] of children) {
          const value = record[child.name];
          if (value === null || value === undefined) {
            if (!child.nullable) fail(`field "${child.name}" is null but not nullable`);
            out[child.name] = null;
          } else {
            out[child.name] = encode(value);
          }
        }
        return out;
      };
    }
  }
}

function smallIntEncoder(bits: 8 | 16 | 32, signed: boolean): Encoder {
  const [min, max] = INT_RANGES[`${bits}${signed ? "s" : "u"}`]!;
  return (v) => {
    const n = typeof v === "bigint" ? Number(v) : v;
    if (typeof n !== "number" || !Number.isInteger(n)) fail("expected an integer");
    if (n < min || n > max) fail(`out of range ${min}..${max}`);
    return n;
  };
}

function int64Encoder(signed: boolean): Encoder {
  const min = signed ? -(2n ** 63n) : 0n;
  const max = signed ? 2n ** 63n - 1n : 2n ** 64n - 1n;
  return (v) => {
    let n: bigint;
    if (typeof v === "bigint") n = v;
    else if (typeof v === "number" && Number.isSafeInteger(v)) n = BigInt(v);
    else fail("expected a bigint (or a safe integer number)");
    if (n < min || n > max) fail(`out of range ${min}..${max}`);
    return n;
  };
}

const UNIT_PER_MS: Record<string, bigint> = { ms: 1n, us: 1_000n, ns: 1_000_000n };

function timestampEncoder(unit: "s" | "ms" | "us" | "ns"): Encoder {
  if (unit === "s" || unit === "ms") {
    return (v) => {
      if (!(v instanceof Date) || Number.isNaN(v.getTime()))
        fail(`expected a valid Date for timestamp[${unit}]`);
      const ms = v.getTime();
      if (unit === "s" && ms % 1000 !== 0) fail("timestamp[s] must be a whole number of seconds");
      return BigInt(ms);
    };
  }
  const perMs = UNIT_PER_MS[unit]!;
  return (v) => {
    if (typeof v === "bigint") return BigInt.asIntN(64, v) === v ? v : fail("out of the int64 range");
    if (v instanceof Date && !Number.isNaN(v.getTime())) return BigInt(v.getTime()) * perMs;
    return fail(`expected a bigint count of ${unit} since the epoch (or a Date)`);
  };
}

const TIME_LIMITS: Record<string, bigint> = { ms: 86_400_000n, us: 86_400_000_000n, ns: 86_400_000_000_000n };

function timeEncoder(unit: "ms" | "us" | "ns"): Encoder {
  const limit = TIME_LIMITS[unit]!;
  return (v) => {
    const count = typeof v === "bigint" ? v : typeof v === "number" && Number.isInteger(v) ? BigInt(v) : null;
    if (count === null)
      fail(`expected a count of ${unit} since midnight (${unit === "ms" ? "number" : "bigint"})`);
    if (count < 0n || count > limit) fail(`a time of day is 0..${limit} ${unit}`);
    return unit === "ms" ? Number(count) : count;
  };
}

const UINT32_MAX = 4294967295;

function encodeInterval(v: unknown): Uint8Array {
  if (typeof v !== "object" || v === null) fail("expected { months, days, milliseconds }");
  const record = v as Record<string, unknown>;
  const bytes = new Uint8Array(12);
  const view = new DataView(bytes.buffer);
  ["months", "days", "milliseconds"].forEach((part, i) => {
    const n = record[part] ?? 0;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > UINT32_MAX)
      fail(`interval ${part} must be an integer 0..${UINT32_MAX} (parquet's INTERVAL is unsigned)`);
    view.setUint32(i * 4, n, true);
  });
  return bytes;
}

const DECIMAL_TEXT = /^([+-]?)(\d*)(?:\.(\d*))?$/;

/** Exact decimal text → unscaled bigint (what hyparquet-writer writes as-is). */
export function parseDecimal(text: string, precision: number, scale: number): bigint {
  const match = DECIMAL_TEXT.exec(text.trim());
  if (!match || (match[2] === "" && (match[3] ?? "") === "")) fail("expected a decimal number as a string");
  const [, sign, whole = "", fraction = ""] = match;
  const trimmed = fraction.replace(/0+$/, "");
  if (trimmed.length > scale) fail(`more than ${scale} digits after the point`);
  const digits = `${whole}${fraction.padEnd(scale, "0").slice(0, scale)}`.replace(/^0+(?=\d)/, "");
  if (digits.replace(/^0+/, "").length > precision) fail(`more than ${precision} significant digits`);
  const unscaled = BigInt(digits === "" ? "0" : digits);
  return sign === "-" ? -unscaled : unscaled;
}

export function formatDecimal(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, "0");
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${text}` : text;
}

function decimalEncoder(precision: number, scale: number): Encoder {
  return (v) => {
    if (typeof v === "string") return parseDecimal(v, precision, scale);
    if (typeof v === "number" && Number.isFinite(v)) return parseDecimal(String(v), precision, scale);
    return fail('expected a decimal string such as "12.30"');
  };
}

// ---------------------------------------------------------------------------------------------
// Reading

type Decoder = (raw: unknown) => unknown;

/** hyparquet's output for one column (read with utf8 off, raw timestamps, decimal annotations removed) → ferry values. */
export function decodeColumn(field: Field, raw: ArrayLike<unknown>, start = 0, end = raw.length): unknown[] {
  const decode = decoderFor(field.type);
  const whenNull = !field.nullable && field.type.type === "list" ? [] : null;
  // hyparquet's plain arrays of flat values are already what ferry hands out: no copy unless a null is undefined.
  if (
    decode === identity &&
    Array.isArray(raw) &&
    start === 0 &&
    end === raw.length &&
    !raw.includes(undefined)
  ) {
    return raw as unknown[];
  }
  const out = new Array<unknown>(end - start);
  if (decode === identity) {
    for (let i = start; i < end; i++) out[i - start] = raw[i] ?? null;
  } else {
    for (let i = start; i < end; i++) {
      const value = raw[i];
      out[i - start] = value === null || value === undefined ? whenNull : decode(value);
    }
  }
  return out;
}

const identity: Decoder = (v) => v;

function nullable(decode: Decoder): Decoder {
  return (v) => (v === null || v === undefined ? null : decode(v));
}

/**
 * A field's decoder. A non-nullable list that hyparquet reports as null is a repeated field with no
 * values in that row (the legacy form without a LIST annotation): the empty list.
 */
function fieldDecoder(field: Field): Decoder {
  const decode = decoderFor(field.type);
  if (!field.nullable && field.type.type === "list")
    return (v) => (v === null || v === undefined ? [] : decode(v));
  return nullable(decode);
}

const JULIAN_DAY_OF_EPOCH = 2_440_588n;
const MICROS_PER_DAY = 86_400_000_000n;

/**
 * An INT96 timestamp (nanoseconds of the day, then the Julian day) as nanoseconds since the epoch.
 * Spark computes its microseconds in wrapping 64-bit arithmetic and writes values past that range
 * with a negative time of day; reading with the same wrap gives back the microseconds it was given.
 */
export function int96Nanos(bytes: Uint8Array): bigint {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nanosOfDay = view.getBigInt64(0, true);
  const julianDay = BigInt(view.getInt32(8, true));
  const micros = BigInt.asIntN(64, (julianDay - JULIAN_DAY_OF_EPOCH) * MICROS_PER_DAY + nanosOfDay / 1000n);
  return micros * 1000n + (nanosOfDay % 1000n);
}

function decoderFor(type: DataType): Decoder {
  switch (type.type) {
    case "null":
      return () => null;
    case "int":
      if (type.bits === 64)
        return (v) =>
          typeof v === "bigint" ? (type.signed ? v : BigInt.asUintN(64, v)) : BigInt(v as number);
      return (v) => (typeof v === "bigint" ? Number(v) : v);
    case "string":
      return (v) => (v instanceof Uint8Array ? utf8.decode(v) : v);
    case "binary":
      return (v) => (typeof v === "string" ? new TextEncoder().encode(v) : v);
    case "timestamp": {
      const count = (v: unknown): bigint =>
        v instanceof Uint8Array ? int96Nanos(v) : typeof v === "bigint" ? v : BigInt(v as number);
      if (type.unit === "s" || type.unit === "ms") return (v) => new Date(Number(count(v)));
      return count;
    }
    case "time":
      return type.unit === "ms" ? (v) => Number(v) : (v) => (typeof v === "bigint" ? v : BigInt(v as number));
    case "duration":
      return (v) => (typeof v === "bigint" ? v : BigInt(v as number));
    case "interval":
      return (v) => {
        const bytes = v as Uint8Array;
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        return {
          months: view.getUint32(0, true),
          days: view.getUint32(4, true),
          milliseconds: view.getUint32(8, true),
        };
      };
    case "decimal":
      return (v) => formatDecimal(unscaledOf(v), type.scale);
    case "list": {
      const item = type.item;
      if (item.metadata?.[MAP_MARKER] === "true" && item.type.type === "struct")
        return mapDecoder(item.type.fields);
      const decodeItem = fieldDecoder(item);
      if (item.metadata?.[MAP_MARKER] === "keys") {
        // hyparquet hands a key-only MAP over as { <entries>: [{ <key>: k }, ...] }.
        return (v) => {
          const entries = (Object.values(v as object)[0] ?? []) as object[];
          return entries.map((entry) => decodeItem(Object.values(entry)[0]));
        };
      }
      return (v) => Array.from(v as ArrayLike<unknown>, decodeItem);
    }
    case "struct": {
      const children = type.fields.map((f) => [f.name, fieldDecoder(f)] as const);
      return (v) => {
        const record = v as Record<string, unknown>;
        const out: Record<string, unknown> = {};
        for (const [name, decode] of children) out[name] = decode(record[name]);
        return out;
      };
    }
    default:
      return identity;
  }
}

/** A decimal as hyparquet hands it over raw: a number, a bigint, or big-endian two's complement bytes. */
export function unscaledOf(v: unknown): bigint {
  if (typeof v === "bigint") return v;
  if (typeof v === "number") return BigInt(v);
  const bytes = v as Uint8Array;
  if (bytes.length === 0) return 0n;
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return BigInt.asIntN(bytes.length * 8, value);
}

/** hyparquet assembles a MAP into an object keyed by the key's text; ferry exposes [{key, value}]. */
function mapDecoder(fields: readonly Field[]): Decoder {
  const keyType = fields[0]!.type;
  const decodeValue = nullable(decoderFor(fields[1]!.type));
  const parseKey = (key: string): unknown => {
    if (keyType.type === "int") return keyType.bits === 64 ? BigInt(key) : Number(key);
    if (keyType.type === "float") return Number(key);
    if (keyType.type === "bool") return key === "true";
    return key;
  };
  return (v) =>
    Object.entries(v as Record<string, unknown>).map(([key, value]) => ({
      key: parseKey(key),
      value: decodeValue(value),
    }));
}
