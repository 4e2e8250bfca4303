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

/** Which of a column's slots hold a value: the part of arrow Data every non-null type shares. */
interface Slots {
  readonly length: number;
  readonly nullCount: number;
  readonly nullBitmap: Uint8Array;
}

/** One column on its way to arrow: its values, its arrow type, its slots, and its name for errors. */
interface ColumnIn<T extends DataType["type"] = DataType["type"]> {
  readonly type: Extract<DataType, { type: T }>;
  readonly arrowType: A.DataType;
  readonly values: readonly unknown[];
  readonly column: string;
  readonly slots: Slots;
}

const isMissing = (v: unknown): v is null | undefined => v === null || v === undefined;

/** Arrow Data for one column's values of ferry `type`. */
export function toArrowData(type: DataType, values: readonly unknown[], column: string): A.Data {
  const arrowType = toArrowType(type, column);
  const slots = { length: values.length, ...validity(values) };
  const of = <T extends DataType["type"]>(narrowed: Extract<DataType, { type: T }>): ColumnIn<T> => ({
    type: narrowed,
    arrowType,
    values,
    column,
    slots,
  });
  switch (type.type) {
    case "null":
      return A.makeData({ type: arrowType as A.Null, length: slots.length, nullCount: slots.length });
    case "bool":
      return boolData(of(type));
    case "int":
      return type.bits === 64 ? int64Data(of(type)) : intData(of(type));
    case "float":
      return floatData(of(type));
    case "string":
    case "binary":
      return bytesData(of(type));
    case "date":
      return dateData(of(type));
    case "timestamp":
      return timestampData(of(type));
    case "time":
      return timeData(of(type));
    case "duration":
      return A.makeData({
        type: arrowType as A.Duration,
        ...slots,
        data: bigints(values, column, type, `a bigint count of ${type.unit}`),
      });
    case "interval":
      return intervalData(of(type));
    case "unreadable":
      return fail(column, type, 0, "a readable column");
    case "decimal":
      return decimalData(of(type));
    case "list":
      return listData(of(type));
    case "struct":
      return structData(of(type));
  }
}

function boolData({ type, arrowType, values, column, slots }: ColumnIn<"bool">): A.Data {
  const data = new Uint8Array(Math.ceil(slots.length / 8));
  values.forEach((v, i) => {
    if (v === true) data[i >> 3]! |= 1 << (i & 7);
    else if (v !== false && !isMissing(v)) fail(column, type, i, "a boolean");
  });
  return A.makeData({ type: arrowType as A.Bool, ...slots, data });
}

function int64Data({ type, arrowType, values, column, slots }: ColumnIn<"int">): A.Data {
  const data = type.signed ? new BigInt64Array(slots.length) : new BigUint64Array(slots.length);
  values.forEach((v, i) => {
    if (isMissing(v)) return;
    if (typeof v === "bigint") data[i] = v;
    else if (typeof v === "number" && Number.isSafeInteger(v)) data[i] = BigInt(v);
    else fail(column, type, i, "a bigint");
  });
  return A.makeData({ type: arrowType as A.Int64, ...slots, data: data as BigInt64Array });
}

function intData({ type, arrowType, values, column, slots }: ColumnIn<"int">): A.Data {
  const data = new INT_ARRAYS[`${type.bits as 8 | 16 | 32}${type.signed ? "s" : "u"}`](slots.length);
  values.forEach((v, i) => {
    if (isMissing(v)) return;
    if (typeof v !== "number" || !Number.isInteger(v)) fail(column, type, i, "an integer");
    data[i] = v;
    if (data[i] !== v)
      fail(column, type, i, `an integer that fits ${type.signed ? "int" : "uint"}${type.bits}`);
  });
  return A.makeData({ type: arrowType as A.Int32, ...slots, data: data as Int32Array });
}

function floatData({ type, arrowType, values, column, slots }: ColumnIn<"float">): A.Data {
  const data =
    type.bits === 16
      ? new Uint16Array(slots.length)
      : type.bits === 32
        ? new Float32Array(slots.length)
        : new Float64Array(slots.length);
  values.forEach((v, i) => {
    if (isMissing(v)) return;
    if (typeof v !== "number") fail(column, type, i, "a number");
    data[i] = type.bits === 16 ? A.util.float64ToUint16(v) : v;
  });
  return A.makeData({ type: arrowType as A.Float64, ...slots, data: data as Float64Array });
}

/** Strings (ASCII in one encode when possible) and binaries: offsets into one concatenated buffer. */
function bytesData({ type, arrowType, values, column, slots }: ColumnIn<"string" | "binary">): A.Data {
  if (type.type === "string") {
    const ascii = asciiStrings(values, column, type);
    if (ascii) return A.makeData({ type: arrowType as A.Utf8, ...slots, ...ascii });
  }
  const chunks: Uint8Array[] = [];
  const valueOffsets = new Int32Array(slots.length + 1);
  let total = 0;
  values.forEach((v, i) => {
    if (!isMissing(v)) {
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
  return A.makeData({ type: arrowType as A.Utf8, ...slots, valueOffsets, data: concat(chunks, total) });
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const data = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    data.set(chunk, at);
    at += chunk.byteLength;
  }
  return data;
}

function dateData({ type, arrowType, values, column, slots }: ColumnIn<"date">): A.Data {
  const data = new Int32Array(slots.length);
  values.forEach((v, i) => {
    if (isMissing(v)) return;
    if (!(v instanceof Date) || v.getTime() % DAY_MS !== 0) fail(column, type, i, "a Date at UTC midnight");
    data[i] = v.getTime() / DAY_MS;
  });
  return A.makeData({ type: arrowType as A.DateDay, ...slots, data });
}

function timestampData(col: ColumnIn<"timestamp">): A.Data {
  const { type, arrowType, values, column, slots } = col;
  const data = new BigInt64Array(slots.length);
  if ((type.unit === "s" || type.unit === "ms") && LITTLE_ENDIAN) {
    fillDateHalves(col, new Int32Array(data.buffer));
    return A.makeData({ type: arrowType as A.Timestamp, ...slots, data });
  }
  values.forEach((v, i) => {
    if (isMissing(v)) return;
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
  return A.makeData({ type: arrowType as A.Timestamp, ...slots, data });
}

/** A Date's count (|ms| <= 8.64e15 < 2^53) goes in as two 32-bit halves: no bigint per value. */
function fillDateHalves({ type, values, column }: ColumnIn<"timestamp">, halves: Int32Array): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (isMissing(v)) continue;
    const ms = v instanceof Date ? v.getTime() : Number.NaN;
    if (Number.isNaN(ms)) fail(column, type, i, "a valid Date");
    if (type.unit === "s" && ms % 1000 !== 0) fail(column, type, i, "a whole number of seconds");
    const count = type.unit === "s" ? ms / 1000 : ms;
    const high = Math.floor(count / 2 ** 32);
    halves[2 * i] = count - high * 2 ** 32;
    halves[2 * i + 1] = high;
  }
}

function timeData({ type, arrowType, values, column, slots }: ColumnIn<"time">): A.Data {
  if (type.unit !== "ms") {
    const data = bigints(values, column, type, `a bigint count of ${type.unit} since midnight`);
    return A.makeData({ type: arrowType as A.TimeNanosecond, ...slots, data });
  }
  const data = new Int32Array(slots.length);
  values.forEach((v, i) => {
    if (isMissing(v)) return;
    if (typeof v !== "number" || !Number.isInteger(v)) fail(column, type, i, "a number of ms since midnight");
    data[i] = v;
  });
  return A.makeData({ type: arrowType as A.TimeMillisecond, ...slots, data });
}

/** MONTH_DAY_NANO: months and days as int32, then nanoseconds as int64. */
function intervalData({ type, arrowType, values, column, slots }: ColumnIn<"interval">): A.Data {
  const data = new Int32Array(slots.length * 4);
  const nanos = new BigInt64Array(data.buffer);
  values.forEach((v, i) => {
    if (isMissing(v)) return;
    const { months, days, milliseconds } = v as Record<string, unknown>;
    if (typeof months !== "number" || typeof days !== "number" || typeof milliseconds !== "number")
      fail(column, type, i, "{ months, days, milliseconds }");
    data[i * 4] = months;
    data[i * 4 + 1] = days;
    nanos[i * 2 + 1] = BigInt(milliseconds) * 1_000_000n;
  });
  return A.makeData({ type: arrowType as A.IntervalMonthDayNano, ...slots, data });
}

function decimalData({ type, arrowType, values, column, slots }: ColumnIn<"decimal">): A.Data {
  const words = type.precision > 38 ? 8 : 4;
  const data = new Uint32Array(slots.length * words);
  values.forEach((v, i) => {
    if (isMissing(v)) return;
    if (typeof v !== "string") fail(column, type, i, 'a decimal string such as "12.30"');
    data.set(decimalWords(v, type.scale, words, column, i), i * words);
  });
  return A.makeData({ type: arrowType as A.Decimal, ...slots, data });
}

function listData({ type, arrowType, values, column, slots }: ColumnIn<"list">): A.Data {
  const valueOffsets = new Int32Array(slots.length + 1);
  const items: unknown[] = [];
  values.forEach((v, i) => {
    if (!isMissing(v)) {
      if (!Array.isArray(v)) fail(column, type, i, "an array");
      for (const item of v) items.push(item);
    }
    valueOffsets[i + 1] = items.length;
  });
  const child = toArrowData(type.item.type, items, `${column}[]`);
  return A.makeData({ type: arrowType as A.List, ...slots, valueOffsets, child });
}

function structData({ type, arrowType, values, column, slots }: ColumnIn<"struct">): A.Data {
  const children = type.fields.map((field) =>
    toArrowData(
      field.type,
      values.map((v) => (isMissing(v) ? null : ((v as Record<string, unknown>)[field.name] ?? null))),
      `${column}.${field.name}`,
    ),
  );
  return A.makeData({ type: arrowType as A.Struct, ...slots, children });
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
