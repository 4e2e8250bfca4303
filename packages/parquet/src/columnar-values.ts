/**
 * JS values → columnar buffers, for writing plain data without the value path's per-value encoders.
 * Strict: a column converts only when every value is exactly what the value path would store
 * unchanged; anything else (a wrong type, out of range, a null in a non-nullable column, a bigint in
 * an int32 column, a Date in a us column) gives undefined and the value path writes the table —
 * with its own error message when the value is wrong.
 */

import type { Field } from "@ferry/plugin-kit";
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

/** One column's values as buffers, or undefined when the value path must write it. */
export function valuesToColumn(field: Field, values: ArrayLike<unknown>): ColumnVector | undefined {
  const nulls = validityOf(field, values);
  if (!nulls) return undefined;
  const length = values.length;
  const common = { length, ...nulls };
  const type = field.type;
  switch (type.type) {
    case "bool": {
      const bits = new Uint8Array(Math.ceil(length / 8));
      const ok = fill(values, (v, i) => {
        if (v === true) bits[i >> 3]! |= 1 << (i & 7);
        return typeof v === "boolean";
      });
      return ok ? { ...common, kind: "bits", values: bits } : undefined;
    }
    case "int": {
      const out = INT_ARRAYS[`${type.bits}${type.signed ? "s" : "u"}`]!(length);
      const ok =
        type.bits === 64
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
      return ok ? { ...common, kind: "fixed", values: out } : undefined;
    }
    case "float": {
      if (type.bits === 16) return undefined;
      const out = type.bits === 32 ? new Float32Array(length) : new Float64Array(length);
      const ok = fill(values, (v, i) => {
        out[i] = v as number;
        return typeof v === "number";
      });
      return ok ? { ...common, kind: "fixed", values: out } : undefined;
    }
    case "date": {
      const out = new Int32Array(length);
      const ok = fill(values, (v, i) => {
        const ms = v instanceof Date ? v.getTime() : Number.NaN;
        out[i] = ms / DAY_MS;
        return ms % DAY_MS === 0; // NaN fails too
      });
      return ok ? { ...common, kind: "fixed", values: out } : undefined;
    }
    case "timestamp": {
      const out = new BigInt64Array(length);
      const ok =
        type.unit === "ms"
          ? fill(values, (v, i) => {
              const ms = v instanceof Date ? v.getTime() : Number.NaN;
              if (Number.isNaN(ms)) return false;
              out[i] = BigInt(ms);
              return true;
            })
          : type.unit === "s"
            ? false
            : fill(values, (v, i) => {
                if (typeof v !== "bigint") return false;
                out[i] = v;
                return out[i] === v;
              });
      return ok ? { ...common, kind: "fixed", values: out } : undefined;
    }
    case "string":
      return stringColumn(values, common);
    case "binary": {
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
    default:
      return undefined;
  }
}

function stringColumn(
  values: ArrayLike<unknown>,
  common: { length: number; validity: Uint8Array | undefined; nullCount: number },
): ColumnVector | undefined {
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
