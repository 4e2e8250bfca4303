/**
 * arrow Data → ferry column values, read from the raw buffers so that 64-bit integers, us/ns
 * timestamps and decimals stay exact (arrow's `get()` turns timestamps into float milliseconds).
 */
import { type ColumnBatch, errors, type Schema } from "@ferry/plugin-kit";
import * as A from "apache-arrow";
import { fromArrowSchema } from "./schema.ts";

const DAY_MS = 86_400_000;
const decoder = new TextDecoder();

function isValid(data: A.Data, i: number): boolean {
  return data.nullCount === 0 || data.getValid(i);
}

function decimalText(words: Uint32Array, scale: number): string {
  let value = 0n;
  for (let w = words.length - 1; w >= 0; w--) value = (value << 32n) | BigInt(words[w]!);
  value = BigInt.asIntN(words.length * 32, value);
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(scale + 1, "0");
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${text}` : text;
}

/** Well under V8's longest string (2^29 - 24 units). */
const MAX_DECODED_LENGTH = 2 ** 28;

/**
 * bytes[start, end) as one string when they are all ASCII: then byte offsets are string offsets and
 * each value is a slice of one native decode instead of a decode of its own. Undefined otherwise.
 */
function asciiText(bytes: Uint8Array, start: number, end: number): string | undefined {
  if (end - start > MAX_DECODED_LENGTH) return undefined;
  for (let i = start; i < end; i++) if (bytes[i]! > 0x7f) return undefined;
  return decoder.decode(bytes.subarray(start, end));
}

/** Arrow intervals as parquet's { months, days, milliseconds } (unsigned counts; finer or negative parts are refused). */
function intervals(data: A.Data, each: (read: (i: number) => unknown) => unknown[]): unknown[] {
  const type = data.type as A.Interval;
  const words = data.values as Int32Array;
  const checked = (months: number, days: number, nanos: bigint, i: number) => {
    if (
      months < 0 ||
      days < 0 ||
      nanos < 0n ||
      nanos % 1_000_000n !== 0n ||
      nanos >= 2n ** 32n * 1_000_000n
    ) {
      throw errors.invalidInput(
        `row ${i}: the interval (${months} months, ${days} days, ${nanos} ns) does not fit parquet's INTERVAL (unsigned months, days and whole milliseconds)`,
      );
    }
    return { months, days, milliseconds: Number(nanos / 1_000_000n) };
  };
  if (type.unit === A.IntervalUnit.YEAR_MONTH) return each((i) => checked(words[i]!, 0, 0n, i));
  if (type.unit === A.IntervalUnit.DAY_TIME)
    return each((i) => checked(0, words[2 * i]!, BigInt(words[2 * i + 1]!) * 1_000_000n, i));
  const nanos = (i: number) => (BigInt(words[4 * i + 3]!) << 32n) | BigInt(words[4 * i + 2]! >>> 0);
  return each((i) => checked(words[4 * i]!, words[4 * i + 1]!, nanos(i), i));
}

/** Row i's value of a column, for a row that is not null. */
type Read = (i: number) => unknown;

/** Values of rows [0, data.length) of one arrow Data. */
export function fromArrowData(data: A.Data): unknown[] {
  const out = new Array<unknown>(data.length);
  if (A.DataType.isNull(data.type)) return out.fill(null);
  const each = (read: Read) => {
    for (let i = 0; i < data.length; i++) out[i] = isValid(data, i) ? read(i) : null;
    return out;
  };
  if (A.DataType.isInterval(data.type)) return intervals(data, each);
  return each(
    numberReader(data) ??
      bytesReader(data) ??
      temporalReader(data) ??
      nestedReader(data) ??
      arrowGetter(data),
  );
}

/** Booleans, integers, floats and decimals. */
function numberReader(data: A.Data): Read | undefined {
  const { type } = data;
  if (A.DataType.isBool(type)) {
    const bits = data.values as Uint8Array;
    return (i) => {
      const at = data.offset + i;
      return (bits[at >> 3]! & (1 << (at & 7))) !== 0;
    };
  }
  if (A.DataType.isInt(type) || (A.DataType.isFloat(type) && type.precision !== A.Precision.HALF)) {
    const values = data.values as ArrayLike<number | bigint>;
    return (i) => values[i];
  }
  if (A.DataType.isFloat(type)) {
    const values = data.values as Uint16Array;
    return (i) => A.util.uint16ToFloat64(values[i]!);
  }
  if (A.DataType.isDecimal(type)) {
    const words = type.bitWidth / 32;
    const values = data.values as Uint32Array;
    return (i) => decimalText(values.subarray(i * words, (i + 1) * words), type.scale);
  }
  return undefined;
}

/** Strings and binaries, variable or fixed width; ASCII text is sliced from one decode. */
function bytesReader(data: A.Data): Read | undefined {
  const { type } = data;
  if (A.DataType.isFixedSizeBinary(type)) {
    const bytes = data.values as Uint8Array;
    return (i) => bytes.slice(i * type.byteWidth, (i + 1) * type.byteWidth);
  }
  const text = A.DataType.isUtf8(type) || A.DataType.isLargeUtf8(type);
  if (!text && !A.DataType.isBinary(type) && !A.DataType.isLargeBinary(type)) return undefined;
  const offsets = data.valueOffsets as ArrayLike<number | bigint>;
  const bytes = data.values as Uint8Array;
  if (text) {
    const ascii = asciiText(bytes, Number(offsets[0]), Number(offsets[data.length]));
    if (ascii !== undefined) {
      const base = Number(offsets[0]);
      return (i) => ascii.slice(Number(offsets[i]) - base, Number(offsets[i + 1]) - base);
    }
  }
  return (i) => {
    const slice = bytes.subarray(Number(offsets[i]), Number(offsets[i + 1]));
    return text ? decoder.decode(slice) : slice.slice();
  };
}

/** Dates, timestamps (Dates down to milliseconds, bigint counts below), times of day and durations. */
function temporalReader(data: A.Data): Read | undefined {
  const { type } = data;
  if (A.DataType.isDate(type)) {
    const values = data.values as ArrayLike<number | bigint>;
    const perUnit = type.unit === A.DateUnit.DAY ? DAY_MS : 1;
    return (i) => new Date(Number(values[i]) * perUnit);
  }
  if (A.DataType.isTimestamp(type)) {
    const values = data.values as BigInt64Array;
    if (type.unit === A.TimeUnit.SECOND) return (i) => new Date(Number(values[i]!) * 1000);
    if (type.unit === A.TimeUnit.MILLISECOND) return (i) => new Date(Number(values[i]!));
    return (i) => values[i];
  }
  if (A.DataType.isTime(type)) {
    const values = data.values as ArrayLike<number | bigint>;
    if (type.unit === A.TimeUnit.SECOND) return (i) => Number(values[i]) * 1000;
    if (type.unit === A.TimeUnit.MILLISECOND) return (i) => Number(values[i]);
    return (i) => BigInt(values[i]!);
  }
  if (A.DataType.isDuration(type)) {
    const values = data.values as BigInt64Array;
    return (i) => values[i];
  }
  return undefined;
}

/** Lists (and maps, as lists of entries), fixed-size lists and structs: their children decoded whole. */
function nestedReader(data: A.Data): Read | undefined {
  const { type, length } = data;
  if (A.DataType.isList(type) || A.DataType.isLargeList(type) || A.DataType.isMap(type)) {
    const offsets = data.valueOffsets as ArrayLike<number | bigint>;
    const at = (i: number) => Number(offsets[i]);
    const start = at(0);
    const items = fromArrowData(data.children[0]!.slice(start, at(length) - start));
    return (i) => items.slice(at(i) - start, at(i + 1) - start);
  }
  if (A.DataType.isFixedSizeList(type)) {
    const size = type.listSize;
    const items = fromArrowData(data.children[0]!.slice(0, length * size));
    return (i) => items.slice(i * size, (i + 1) * size);
  }
  if (A.DataType.isStruct(type)) {
    const names = type.children.map((f) => f.name);
    const columns = data.children.map((child) => fromArrowData(child));
    return (i) => Object.fromEntries(names.map((name, c) => [name, columns[c]![i]]));
  }
  return undefined;
}

/** Views and dictionaries: arrow's own accessor returns their plain values. */
function arrowGetter(data: A.Data): Read {
  const vector = A.makeVector(data);
  return (i) => vector.get(i);
}

/** A RecordBatch (or the batches of a Table) as ferry batches. */
export function recordBatchToColumns(
  batch: A.RecordBatch,
  schema: Schema = fromArrowSchema(batch.schema),
): ColumnBatch {
  const columns: Record<string, unknown[]> = {};
  schema.fields.forEach((field, c) => {
    columns[field.name] = fromArrowData(batch.data.children[c]!);
  });
  return { schema, columns, numRows: batch.numRows };
}
