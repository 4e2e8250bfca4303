/**
 * JS values → columnar buffers, for writing plain data without the value path's per-value encoders.
 * Strict: a column converts only when every value is exactly what the value path would store
 * unchanged; anything else (a wrong type, out of range, a null in a non-nullable column, a bigint in
 * an int32 column, a Date in a us column) gives undefined and the value path writes the table —
 * with its own error message when the value is wrong.
 */

import type { Field, TimeUnit } from "@ferry/plugin-kit";
import type { ColumnVector, FixedArray } from "./columnar.ts";

const DAY_MS = 86_400_000;
const encoder = new TextEncoder();
/** Well under V8's longest string (2^29 - 24 units), past which join() throws. */
const MAX_JOINED_LENGTH = 2 ** 28;

type Maker = (length: number) => FixedArray;
const INT_ARRAYS: Record<string, Maker> = {
  "8s": (n) => new Int8Array(n),
  "16s": (n) => new Int16Array(n),
  "32s": (n) => new Int32Array(n),
  "8u": (n) => new Uint8Array(n),
  "16u": (n) => new Uint16Array(n),
  "32u": (n) => new Uint32Array(n),
  "64s": (n) => new BigInt64Array(n),
  "64u": (n) => new BigUint64Array(n),
};

/** Nulls as a validity bitmap; undefined when a null is not allowed. */
function validityOf(
  field: Field,
  values: ArrayLike<unknown>,
): { validity: Uint8Array | undefined; nullCount: number } | undefined {
  let nullCount = 0;
  for (let i = 0; i < values.length; i++) if (values[i] === null || values[i] === undefined) nullCount++;
  if (nullCount === 0) return { validity: undefined, nullCount };
  if (!field.nullable) return undefined;
  const validity = new Uint8Array(Math.ceil(values.length / 8));
  for (let i = 0; i < values.length; i++)
    if (values[i] !== null && values[i] !== undefined) validity[i >> 3]! |= 1 << (i & 7);
  return { validity, nullCount };
}

/** Store every non-null value through `store`; false as soon as one does not fit. */
function fill(values: ArrayLike<unknown>, store: (v: unknown, i: number) => boolean): boolean {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== null && v !== undefined && !store(v, i)) return false;
  }
  return true;
}

/** What every column of the values carries besides its buffers. */
type Common = { length: number; validity: Uint8Array | undefined; nullCount: number };

/** One column's values as buffers, or undefined when the value path must write it. */
export function valuesToColumn(field: Field, values: ArrayLike<unknown>): ColumnVector | undefined {
  const nulls = validityOf(field, values);
  if (!nulls) return undefined;
  const common: Common = { length: values.length, ...nulls };
  const type = field.type;
  const fixed = (out: FixedArray | undefined): ColumnVector | undefined =>
    out ? { ...common, kind: "fixed", values: out } : undefined;
  switch (type.type) {
    case "bool": {
      const bits = boolBits(values);
      return bits ? { ...common, kind: "bits", values: bits } : undefined;
    }
    case "int":
      return fixed(intValues(values, type.bits, type.signed));
    case "float":
      return fixed(type.bits === 16 ? undefined : floatValues(values, type.bits));
    case "date":
      return fixed(dateDays(values));
    case "timestamp":
      return fixed(timestampValues(values, type.unit));
    case "string":
      return stringColumn(values, common);
    case "binary":
      return binaryColumn(values, common);
    default:
      return undefined;
  }
}

/** Booleans as a bitmap. */
function boolBits(values: ArrayLike<unknown>): Uint8Array | undefined {
  const bits = new Uint8Array(Math.ceil(values.length / 8));
  const ok = fill(values, (v, i) => {
    if (v === true) bits[i >> 3]! |= 1 << (i & 7);
    return typeof v === "boolean";
  });
  return ok ? bits : undefined;
}

/** Integers of the width and sign: numbers up to 32 bits, bigints at 64, each in range. */
function intValues(values: ArrayLike<unknown>, bits: number, signed: boolean): FixedArray | undefined {
  const out = INT_ARRAYS[`${bits}${signed ? "s" : "u"}`]!(values.length);
  const ok =
    bits === 64
      ? fill(values, (v, i) => {
          if (typeof v !== "bigint") return false;
          (out as BigInt64Array)[i] = v;
          return (out as BigInt64Array)[i] === v; // out of range wraps
        })
      : fill(values, (v, i) => {
          if (typeof v !== "number") return false;
          (out as Int32Array)[i] = v;
          return (out as Int32Array)[i] === v; // fractions, NaN and out of range do not read back
        });
  return ok ? out : undefined;
}

/** 32- or 64-bit floats. */
function floatValues(values: ArrayLike<unknown>, bits: number): FixedArray | undefined {
  const out = bits === 32 ? new Float32Array(values.length) : new Float64Array(values.length);
  const ok = fill(values, (v, i) => {
    out[i] = v as number;
    return typeof v === "number";
  });
  return ok ? out : undefined;
}

/** Dates at midnight UTC as days since the epoch. */
function dateDays(values: ArrayLike<unknown>): FixedArray | undefined {
  const out = new Int32Array(values.length);
  const ok = fill(values, (v, i) => {
    const ms = v instanceof Date ? v.getTime() : Number.NaN;
    out[i] = ms / DAY_MS;
    return ms % DAY_MS === 0; // NaN fails too
  });
  return ok ? out : undefined;
}

/** Timestamps: Dates for ms, bigints for the finer units; seconds go by the value path. */
function timestampValues(values: ArrayLike<unknown>, unit: TimeUnit): FixedArray | undefined {
  if (unit === "s") return undefined;
  const out = new BigInt64Array(values.length);
  const ok =
    unit === "ms"
      ? fill(values, (v, i) => {
          const ms = v instanceof Date ? v.getTime() : Number.NaN;
          if (Number.isNaN(ms)) return false;
          out[i] = BigInt(ms);
          return true;
        })
      : fill(values, (v, i) => {
          if (typeof v !== "bigint") return false;
          out[i] = v;
          return out[i] === v;
        });
  return ok ? out : undefined;
}

/** Byte arrays copied end to end behind their offsets. */
function binaryColumn(values: ArrayLike<unknown>, common: Common): ColumnVector | undefined {
  const { length } = common;
  const offsets = new Int32Array(length + 1);
  let total = 0;
  for (let i = 0; i < length; i++) {
    const v = values[i];
    if (v instanceof Uint8Array) total += v.byteLength;
    else if (v !== null && v !== undefined) return undefined;
    offsets[i + 1] = total;
  }
  if (total >= 2 ** 31) return undefined;
  const data = new Uint8Array(total);
  for (let i = 0; i < length; i++) {
    const v = values[i];
    if (v instanceof Uint8Array) data.set(v, offsets[i]!);
  }
  return { ...common, kind: "bytes", offsets, data };
}

function stringColumn(values: ArrayLike<unknown>, common: Common): ColumnVector | undefined {
  const { length } = common;
  const offsets = new Int32Array(length + 1);
  let total = 0;
  for (let i = 0; i < length; i++) {
    const v = values[i];
    if (typeof v === "string") total += v.length;
    else if (v !== null && v !== undefined) return undefined;
    offsets[i + 1] = total;
  }
  // All ASCII (a string's length is its byte count): one native encode of the joined strings.
  if (total <= MAX_JOINED_LENGTH) {
    const data = encoder.encode(Array.prototype.join.call(values, ""));
    if (data.byteLength === total) return { ...common, kind: "bytes", offsets, data };
  }
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for (let i = 0; i < length; i++) {
    const v = values[i];
    if (typeof v === "string") {
      const encoded = encoder.encode(v);
      chunks.push(encoded);
      bytes += encoded.byteLength;
      if (bytes >= 2 ** 31) return undefined;
    }
    offsets[i + 1] = bytes;
  }
  const data = new Uint8Array(bytes);
  let at = 0;
  for (const chunk of chunks) {
    data.set(chunk, at);
    at += chunk.byteLength;
  }
  return { ...common, kind: "bytes", offsets, data };
}
