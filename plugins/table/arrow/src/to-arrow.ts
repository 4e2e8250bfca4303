/**
 * ferry column values → arrow Data, built from raw buffers (arrow's builders take timestamps as
 * milliseconds and decimals as words, which would lose us/ns precision and decimal text).
 */
import { type ColumnBatch, type DataType, errors, type Field, type Schema } from "@ferry/plugin-kit";
import * as A from "apache-arrow";
import { toArrowField, toArrowSchema, toArrowType } from "./schema.ts";

const DAY_MS = 86_400_000;
const encoder = new TextEncoder();
/** Typed arrays use the platform's byte order; 64-bit values are split into 32-bit halves only on little-endian. */
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
/** Well under V8's longest string (2^29 - 24 units), past which join() throws. */
const MAX_JOINED_LENGTH = 2 ** 28;

function fail(column: string, type: DataType, row: number, expected: string): never {
  throw errors.invalidInput(`column "${column}" (${type.type}), row ${row}: expected ${expected}`);
}

function validity(values: readonly unknown[]): { nullBitmap: Uint8Array; nullCount: number } {
  const nullBitmap = new Uint8Array(Math.ceil(values.length / 8));
  let nullCount = 0;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === null || value === undefined) nullCount++;
    else nullBitmap[i >> 3]! |= 1 << (i & 7);
  }
  return { nullBitmap, nullCount };
}

const INT_ARRAYS = {
  "8s": Int8Array,
  "16s": Int16Array,
  "32s": Int32Array,
  "8u": Uint8Array,
  "16u": Uint16Array,
  "32u": Uint32Array,
} as const;

/** Decimal text → little-endian 32-bit words of the two's-complement unscaled value. */
function decimalWords(text: string, scale: number, words: number, column: string, row: number): Uint32Array {
  const match = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(text.trim());
  if (!match || (match[2] === "" && !match[3]))
    fail(column, { type: "decimal", precision: 0, scale }, row, "a decimal string");
  const fraction = match[3] ?? "";
  if (fraction.replace(/0+$/, "").length > scale) {
    throw errors.invalidInput(
      `column "${column}", row ${row}: more than ${scale} digits after the point in "${text}"`,
    );
  }
  let unscaled = BigInt(`${match[2] || "0"}${fraction.padEnd(scale, "0").slice(0, scale)}`);
  if (match[1] === "-") unscaled = -unscaled;
  const out = new Uint32Array(words);
  let bits = BigInt.asUintN(words * 32, unscaled);
  for (let w = 0; w < words; w++) {
    out[w] = Number(bits & 0xffffffffn);
    bits >>= 32n;
  }
  return out;
}

/**
 * A string column as one UTF-8 buffer in a single native encode, when every string is ASCII (then a
 * string's length is its byte count and the offsets follow from the lengths). Undefined otherwise.
 */
function asciiStrings(
  values: readonly unknown[],
  column: string,
  type: DataType,
): { valueOffsets: Int32Array; data: Uint8Array } | undefined {
  const valueOffsets = new Int32Array(values.length + 1);
  let total = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === "string") total += v.length;
    else if (v !== null && v !== undefined) fail(column, type, i, "a string");
    valueOffsets[i + 1] = total;
  }
  if (total > MAX_JOINED_LENGTH) return undefined;
  // join() writes null and undefined as "", which is what their (empty) slots hold.
  const data = encoder.encode(values.join(""));
  return data.byteLength === total ? { valueOffsets, data } : undefined;
}

function bigints(
  values: readonly unknown[],
  column: string,
  type: DataType,
  expected: string,
): BigInt64Array {
  const data = new BigInt64Array(values.length);
  values.forEach((v, i) => {
    if (v === null || v === undefined) return;
    if (typeof v !== "bigint") fail(column, type, i, expected);
    data[i] = v;
  });
  return data;
}

/** Arrow Data for one column's values of ferry `type`. */
export function toArrowData(type: DataType, values: readonly unknown[], column: string): A.Data {
  const arrowType = toArrowType(type, column);
  const length = values.length;
  const { nullBitmap, nullCount } = validity(values);
  switch (type.type) {
    case "null":
      return A.makeData({ type: arrowType as A.Null, length, nullCount: length });
    case "bool": {
      const data = new Uint8Array(Math.ceil(length / 8));
      values.forEach((v, i) => {
        if (v === true) data[i >> 3]! |= 1 << (i & 7);
        else if (v !== false && v !== null && v !== undefined) fail(column, type, i, "a boolean");
      });
      return A.makeData({ type: arrowType as A.Bool, length, nullCount, nullBitmap, data });
    }
    case "int": {
      if (type.bits === 64) {
        const data = type.signed ? new BigInt64Array(length) : new BigUint64Array(length);
        values.forEach((v, i) => {
          if (v === null || v === undefined) return;
          if (typeof v === "bigint") data[i] = v;
          else if (typeof v === "number" && Number.isSafeInteger(v)) data[i] = BigInt(v);
          else fail(column, type, i, "a bigint");
        });
        return A.makeData({
          type: arrowType as A.Int64,
          length,
          nullCount,
          nullBitmap,
          data: data as BigInt64Array,
        });
      }
      const data = new INT_ARRAYS[`${type.bits}${type.signed ? "s" : "u"}`](length);
      values.forEach((v, i) => {
        if (v === null || v === undefined) return;
        if (typeof v !== "number" || !Number.isInteger(v)) fail(column, type, i, "an integer");
        data[i] = v;
        if (data[i] !== v)
          fail(column, type, i, `an integer that fits ${type.signed ? "int" : "uint"}${type.bits}`);
      });
      return A.makeData({
        type: arrowType as A.Int32,
        length,
        nullCount,
        nullBitmap,
        data: data as Int32Array,
      });
    }
    case "float": {
      const data =
        type.bits === 16
          ? new Uint16Array(length)
          : type.bits === 32
            ? new Float32Array(length)
            : new Float64Array(length);
      values.forEach((v, i) => {
        if (v === null || v === undefined) return;
        if (typeof v !== "number") fail(column, type, i, "a number");
        data[i] = type.bits === 16 ? A.util.float64ToUint16(v) : v;
      });
      return A.makeData({
        type: arrowType as A.Float64,
        length,
        nullCount,
        nullBitmap,
        data: data as Float64Array,
      });
    }
    case "string":
    case "binary": {
      if (type.type === "string") {
        const ascii = asciiStrings(values, column, type);
        if (ascii) return A.makeData({ type: arrowType as A.Utf8, length, nullCount, nullBitmap, ...ascii });
      }
      const chunks: Uint8Array[] = [];
      const valueOffsets = new Int32Array(length + 1);
      let total = 0;
      values.forEach((v, i) => {
        if (v !== null && v !== undefined) {
          const bytes =
            type.type === "string"
              ? typeof v === "string"
                ? encoder.encode(v)
                : fail(column, type, i, "a string")
              : v;
          if (!(bytes instanceof Uint8Array)) fail(column, type, i, "a Uint8Array");
          chunks.push(bytes);
          total += bytes.byteLength;
        }
        valueOffsets[i + 1] = total;
      });
      const data = new Uint8Array(total);
      let at = 0;
      for (const chunk of chunks) {
        data.set(chunk, at);
        at += chunk.byteLength;
      }
      return A.makeData({ type: arrowType as A.Utf8, length, nullCount, nullBitmap, valueOffsets, data });
    }
    case "date": {
      const data = new Int32Array(length);
      values.forEach((v, i) => {
        if (v === null || v === undefined) return;
        if (!(v instanceof Date) || v.getTime() % DAY_MS !== 0)
          fail(column, type, i, "a Date at UTC midnight");
        data[i] = v.getTime() / DAY_MS;
      });
      return A.makeData({ type: arrowType as A.DateDay, length, nullCount, nullBitmap, data });
    }
    case "timestamp": {
      const data = new BigInt64Array(length);
      if ((type.unit === "s" || type.unit === "ms") && LITTLE_ENDIAN) {
        // A Date's count (|ms| <= 8.64e15 < 2^53) goes in as two 32-bit halves: no bigint per value.
        const halves = new Int32Array(data.buffer);
        for (let i = 0; i < length; i++) {
          const v = values[i];
          if (v === null || v === undefined) continue;
          const ms = v instanceof Date ? v.getTime() : Number.NaN;
          if (Number.isNaN(ms)) fail(column, type, i, "a valid Date");
          if (type.unit === "s" && ms % 1000 !== 0) fail(column, type, i, "a whole number of seconds");
          const count = type.unit === "s" ? ms / 1000 : ms;
          const high = Math.floor(count / 2 ** 32);
          halves[2 * i] = count - high * 2 ** 32;
          halves[2 * i + 1] = high;
        }
        return A.makeData({ type: arrowType as A.Timestamp, length, nullCount, nullBitmap, data });
      }
      values.forEach((v, i) => {
        if (v === null || v === undefined) return;
        if (type.unit === "s" || type.unit === "ms") {
          if (!(v instanceof Date) || Number.isNaN(v.getTime())) fail(column, type, i, "a valid Date");
          const ms = v.getTime();
          if (type.unit === "s" && ms % 1000 !== 0) fail(column, type, i, "a whole number of seconds");
          data[i] = BigInt(type.unit === "s" ? ms / 1000 : ms);
        } else {
          if (typeof v !== "bigint") fail(column, type, i, `a bigint count of ${type.unit}`);
          data[i] = v;
        }
      });
      return A.makeData({ type: arrowType as A.Timestamp, length, nullCount, nullBitmap, data });
    }
    case "time": {
      if (type.unit === "ms") {
        const data = new Int32Array(length);
        values.forEach((v, i) => {
          if (v === null || v === undefined) return;
          if (typeof v !== "number" || !Number.isInteger(v))
            fail(column, type, i, "a number of ms since midnight");
          data[i] = v;
        });
        return A.makeData({ type: arrowType as A.TimeMillisecond, length, nullCount, nullBitmap, data });
      }
      return A.makeData({
        type: arrowType as A.TimeNanosecond,
        length,
        nullCount,
        nullBitmap,
        data: bigints(values, column, type, `a bigint count of ${type.unit} since midnight`),
      });
    }
    case "duration":
      return A.makeData({
        type: arrowType as A.Duration,
        length,
        nullCount,
        nullBitmap,
        data: bigints(values, column, type, `a bigint count of ${type.unit}`),
      });
    case "interval": {
      // MONTH_DAY_NANO: months and days as int32, then nanoseconds as int64.
      const data = new Int32Array(length * 4);
      const nanos = new BigInt64Array(data.buffer);
      values.forEach((v, i) => {
        if (v === null || v === undefined) return;
        const { months, days, milliseconds } = v as Record<string, unknown>;
        if (typeof months !== "number" || typeof days !== "number" || typeof milliseconds !== "number")
          fail(column, type, i, "{ months, days, milliseconds }");
        data[i * 4] = months;
        data[i * 4 + 1] = days;
        nanos[i * 2 + 1] = BigInt(milliseconds) * 1_000_000n;
      });
      return A.makeData({ type: arrowType as A.IntervalMonthDayNano, length, nullCount, nullBitmap, data });
    }
    case "unreadable":
      return fail(column, type, 0, "a readable column");
    case "decimal": {
      const words = type.precision > 38 ? 8 : 4;
      const data = new Uint32Array(length * words);
      values.forEach((v, i) => {
        if (v === null || v === undefined) return;
        if (typeof v !== "string") fail(column, type, i, 'a decimal string such as "12.30"');
        data.set(decimalWords(v, type.scale, words, column, i), i * words);
      });
      return A.makeData({ type: arrowType as A.Decimal, length, nullCount, nullBitmap, data });
    }
    case "list": {
      const valueOffsets = new Int32Array(length + 1);
      const items: unknown[] = [];
      values.forEach((v, i) => {
        if (v !== null && v !== undefined) {
          if (!Array.isArray(v)) fail(column, type, i, "an array");
          for (const item of v) items.push(item);
        }
        valueOffsets[i + 1] = items.length;
      });
      const child = toArrowData(type.item.type, items, `${column}[]`);
      return A.makeData({ type: arrowType as A.List, length, nullCount, nullBitmap, valueOffsets, child });
    }
    case "struct": {
      const children = type.fields.map((field) =>
        toArrowData(
          field.type,
          values.map((v) =>
            v === null || v === undefined ? null : ((v as Record<string, unknown>)[field.name] ?? null),
          ),
          `${column}.${field.name}`,
        ),
      );
      return A.makeData({ type: arrowType as A.Struct, length, nullCount, nullBitmap, children });
    }
  }
}

/** One ferry batch as an arrow RecordBatch. */
export function toRecordBatch(batch: ColumnBatch, schema: Schema = batch.schema): A.RecordBatch {
  const arrowSchema = toArrowSchema(schema);
  const children = schema.fields.map((field) =>
    toArrowData(field.type, batch.columns[field.name] ?? [], field.name),
  );
  const structType = new A.Struct(schema.fields.map((f: Field) => toArrowField(f)));
  const data = A.makeData({ type: structType, length: batch.numRows, nullCount: 0, children });
  return new A.RecordBatch(arrowSchema, data);
}
