/**
 * @ferry/table-danfo: danfojs DataFrames as ferry tables.
 *
 * danfo keeps plain JS values in its columns and labels them with one of float32 / int32 / string /
 * boolean / datetime: there is no 64-bit integer, no float64 label and no nested or binary type. So:
 * - values cross unchanged where JS holds them exactly (numbers, strings, booleans, Dates);
 * - int64/uint64 become JS numbers when every value is a safe integer (|v| ≤ 2^53 − 1), else refused;
 * - timestamp[us|ns] become Dates when every value is a whole millisecond, else refused;
 * - decimal becomes its exact text (a string column);
 * - binary, list and struct columns are refused (Unsupported), naming the column.
 * A DataFrame returned by fetch()/stream() remembers the ferry schema it came from, so writing it again
 * restores int64, timestamp units and decimals exactly; one built by hand is inferred from its values
 * (never from danfo's float32/int32 labels, which describe nothing about the JS numbers held).
 */

import {
  type Codec,
  columnarWritable,
  describeType,
  encodeColumnarParquet,
  inferType,
  valuesToColumn,
} from "@ferry/parquet";
import {
  type BatchSource,
  type ColumnarSource,
  type ColumnBatch,
  type ColumnVector,
  type DataType,
  errors,
  type Field,
  type ParquetEncodeOptions,
  type Schema,
  type TableFlavour,
} from "@ferry/plugin-kit";
import type { DataFrame } from "danfojs-node";

export type { DataFrame } from "danfojs-node";

type Danfo = typeof import("danfojs-node");

// No options yet: the factory shape is the plugin convention, so options can be added without breaking callers.
export type DanfoFlavourOptions = Record<string, never>;

const FERRY_SCHEMA = Symbol.for("ferry.table.schema");

let loading: Promise<Danfo> | undefined;

/** danfojs-node is a peer dependency, loaded on first conversion (it takes a second or two to load). */
function loadDanfo(): Promise<Danfo> {
  loading ??= import("danfojs-node").then(
    (module) => ((module as { default?: Danfo }).default ?? module) as Danfo,
    (error: unknown) => {
      loading = undefined;
      throw errors.pluginMissing("@ferry/table-danfo needs danfojs-node: pnpm add danfojs-node", {
        packageName: "danfojs-node",
        cause: error,
      });
    },
  );
  return loading;
}

/** danfo's DataFrame, recognised by shape so that detection needs no import of danfo. */
export function isDanfoFrame(value: unknown): value is DataFrame {
  if (typeof value !== "object" || value === null) return false;
  const frame = value as Record<string, unknown>;
  return (
    typeof frame.loc === "function" &&
    typeof frame.iloc === "function" &&
    Array.isArray(frame.columns) &&
    Array.isArray(frame.dtypes) &&
    Array.isArray(frame.shape)
  );
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function refuse(field: Field, why: string): never {
  throw errors.unsupported(
    `column "${field.name}" (${describeType(field.type)}) cannot be a danfo column: ${why}`,
  );
}

/** ferry values → what danfo holds, per the rules above. */
function toDanfoValues(field: Field, values: readonly unknown[]): unknown[] {
  const type = field.type;
  switch (type.type) {
    case "int":
      if (type.bits < 64) return [...values];
      return values.map((v, row) => {
        if (v === null || v === undefined) return null;
        const n = v as bigint;
        if (n > MAX_SAFE || n < -MAX_SAFE) {
          throw errors.invalidInput(
            `column "${field.name}" (${describeType(type)}), row ${row}: ${n} is beyond 2^53 and danfo holds only JS numbers`,
          );
        }
        return Number(n);
      });
    case "timestamp":
      if (type.unit === "s" || type.unit === "ms") return [...values];
      return values.map((v, row) => {
        if (v === null || v === undefined) return null;
        const perMs = type.unit === "us" ? 1_000n : 1_000_000n;
        const count = v as bigint;
        if (count % perMs !== 0n) {
          throw errors.invalidInput(
            `column "${field.name}" (${describeType(type)}), row ${row}: ${count} is finer than a millisecond and danfo holds Dates`,
          );
        }
        return new Date(Number(count / perMs));
      });
    case "binary":
      return refuse(field, "danfo has no binary type");
    case "list":
    case "struct":
      return refuse(field, "danfo columns hold scalars only");
    default:
      return [...values];
  }
}

/** Whether danfo holds a missing value here: null, undefined, or NaN outside a float column. */
function isMissing(v: unknown, float: boolean): boolean {
  return v === null || v === undefined || (!float && typeof v === "number" && Number.isNaN(v));
}

/** danfo values → ferry values of `type` (inverse of toDanfoValues). */
function fromDanfoValues(type: DataType, values: readonly unknown[]): unknown[] {
  const perMs = type.type === "timestamp" ? { s: 0n, ms: 0n, us: 1_000n, ns: 1_000_000n }[type.unit] : 0n;
  return values.map((v) => {
    if (isMissing(v, type.type === "float")) return null;
    if (type.type === "int" && type.bits === 64) return BigInt(v as number);
    if (perMs > 0n) return BigInt((v as Date).getTime()) * perMs;
    return v;
  });
}

/**
 * A column's values, read only. `frame.column(name)` builds a Series, checking every value's dtype
 * again (most of a danfo write), and even danfo's `$getColumnData` copies the row index per column:
 * danfo's own column store is read directly when it has one (it has none in low-memory mode).
 */
function columnValues(frame: DataFrame, name: string): readonly unknown[] {
  const rows = frame.shape[0] as number;
  if (rows === 0) return [];
  const store = (frame as unknown as { $dataIncolumnFormat?: unknown[] }).$dataIncolumnFormat;
  const direct = store?.[(frame.columns as string[]).indexOf(name)];
  return Array.isArray(direct) && direct.length === rows ? direct : (frame.column(name).values as unknown[]);
}

/** The frame's ferry schema (carried, else inferred from its values) and its columns as danfo holds them. */
function frameColumns(frame: DataFrame): { schema: Schema; raw: Record<string, readonly unknown[]> } {
  const carried = (frame as unknown as { [FERRY_SCHEMA]?: Schema })[FERRY_SCHEMA];
  const names = frame.columns as string[];
  const usable =
    carried && carried.fields.length === names.length && carried.fields.every((f, i) => f.name === names[i]);
  const raw = Object.fromEntries(names.map((name) => [name, columnValues(frame, name)]));
  const schema: Schema = usable
    ? carried
    : { fields: names.map((name) => ({ name, type: inferType(raw[name]!, name), nullable: true })) };
  return { schema, raw };
}

/** A DataFrame as one ferry batch (danfo frames live in memory already). */
export function danfoToBatches(frame: DataFrame): BatchSource {
  const { schema, raw } = frameColumns(frame);
  const columns = Object.fromEntries(
    schema.fields.map((f) => [f.name, fromDanfoValues(f.type, raw[f.name]!)]),
  );
  const batch: ColumnBatch = { schema, columns, numRows: frame.shape[0] as number };
  return { schema, batches: batch.numRows > 0 ? [batch] : [] };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const TWO_32 = 2 ** 32;

/**
 * int64 (safe-integer numbers) and timestamp[ms/us/ns] (Dates) as 64-bit buffers; undefined when a
 * value is anything else, and the value path writes (or refuses) the column. Integers of at most 53
 * bits are stored as two 32-bit words, without a BigInt per value.
 */
function wideColumn(field: Field, values: readonly unknown[]): ColumnVector | undefined {
  const type = field.type;
  const unsigned = type.type === "int" && !type.signed;
  const perMs = type.type === "timestamp" ? { s: 0n, ms: 1n, us: 1_000n, ns: 1_000_000n }[type.unit] : 1n;
  if (perMs === 0n) return undefined;
  const length = values.length;
  const out = unsigned ? new BigUint64Array(length) : new BigInt64Array(length);
  const words = new Uint32Array(out.buffer);
  let validity: Uint8Array | undefined;
  let nullCount = 0;
  for (let i = 0; i < length; i++) {
    const v = values[i];
    if (isMissing(v, false)) {
      if (!field.nullable) return undefined;
      validity ??= new Uint8Array(Math.ceil(length / 8)).fill(0xff);
      validity[i >> 3]! &= ~(1 << (i & 7));
      nullCount++;
      continue;
    }
    const n = type.type === "timestamp" ? (v instanceof Date ? v.getTime() : Number.NaN) : v;
    if (typeof n !== "number" || !Number.isSafeInteger(n) || (unsigned && n < 0)) return undefined;
    if (perMs === 1n && LITTLE_ENDIAN) {
      const high = Math.floor(n / TWO_32);
      words[2 * i] = n - high * TWO_32;
      words[2 * i + 1] = high;
    } else out[i] = (BigInt(n) * perMs) as never;
  }
  return { length, nullCount, validity, kind: "fixed", values: out };
}

/** One danfo column as buffers for ferry's columnar writer, or undefined for the value path. */
function danfoColumn(field: Field, values: readonly unknown[]): ColumnVector | undefined {
  const type = field.type;
  if ((type.type === "int" && type.bits === 64) || type.type === "timestamp")
    return wideColumn(field, values);
  let nan = false;
  if (type.type !== "float") for (let i = 0; i < values.length && !nan; i++) nan = Number.isNaN(values[i]);
  if (!nan) return valuesToColumn(field, values);
  // NaN stands for a missing value outside float columns (danfo's convention): null for ferry.
  return valuesToColumn(
    field,
    values.map((v) => (isMissing(v, false) ? null : v)),
  );
}

/**
 * A DataFrame as one columnar row group (typed arrays, offsets and UTF-8 bytes, bitmaps) that ferry
 * encodes without a JS value per row; undefined when some column needs the value path (decimals,
 * seconds, a value of the wrong kind: the value path converts or refuses it with its own message).
 */
export function danfoToColumnar(frame: DataFrame): ColumnarSource | undefined {
  const rows = frame.shape[0] as number;
  if (rows === 0) return undefined;
  const { schema, raw } = frameColumns(frame);
  const columns: Record<string, ColumnVector> = {};
  for (const field of schema.fields) {
    const vector = danfoColumn(field, raw[field.name]!);
    if (!vector) return undefined;
    columns[field.name] = vector;
  }
  return { schema, groups: [{ rows, columns }] };
}

function joinChunks(chunks: readonly unknown[][], total: number): unknown[] {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Array<unknown>(total);
  let at = 0;
  for (const chunk of chunks) for (let i = 0; i < chunk.length; i++) out[at++] = chunk[i];
  return out;
}

/** Ferry batches as a DataFrame that remembers their schema. */
export async function batchesToDanfo(source: BatchSource): Promise<DataFrame> {
  const danfo = await loadDanfo();
  // Chunks joined once at the end: spreading a batch into push() overflows the stack past ~100k rows.
  const chunks: Record<string, unknown[][]> = Object.fromEntries(
    source.schema.fields.map((f) => [f.name, [] as unknown[][]]),
  );
  let numRows = 0;
  for await (const batch of source.batches) {
    for (const field of source.schema.fields)
      chunks[field.name]!.push(toDanfoValues(field, batch.columns[field.name] ?? []));
    numRows += batch.numRows;
  }
  const columns = Object.fromEntries(
    source.schema.fields.map((f) => [f.name, joinChunks(chunks[f.name]!, numRows)]),
  );
  // Refusals apply to empty tables too: the type itself cannot be held.
  for (const field of source.schema.fields) toDanfoValues(field, []);
  const names = source.schema.fields.map((f) => f.name);
  const frame =
    numRows === 0
      ? new danfo.DataFrame([], { columns: names })
      : new danfo.DataFrame(columns, { columns: names });
  Object.defineProperty(frame, FERRY_SCHEMA, { value: source.schema, enumerable: false });
  return frame;
}

type Polars = typeof import("nodejs-polars");
type PolarsType = import("nodejs-polars").DataType;

let polarsLoading: Promise<Polars | undefined> | undefined;

/** nodejs-polars when it is installed (an optional peer): danfo has no parquet writer of its own. */
function loadPolars(): Promise<Polars | undefined> {
  polarsLoading ??= import("nodejs-polars").then(
    (module) => ((module as { default?: Polars }).default ?? module) as Polars,
    () => undefined,
  );
  return polarsLoading;
}

const POLARS_CODECS: Record<string, "uncompressed" | "snappy" | "gzip" | "brotli" | "zstd" | "lz4"> = {
  UNCOMPRESSED: "uncompressed",
  SNAPPY: "snappy",
  GZIP: "gzip",
  BROTLI: "brotli",
  ZSTD: "zstd",
  LZ4_RAW: "lz4",
};

/**
 * The polars type whose parquet column ferry reads back as exactly `field`, or undefined. Polars
 * writes every column nullable and no ferry schema, so: nullable fields without metadata, and no
 * seconds unit, named timezone, decimal or null column (those go through ferry's own writer).
 */
function polarsType(pl: Polars, field: Field): PolarsType | undefined {
  if (!field.nullable || field.metadata) return undefined;
  const type = field.type;
  switch (type.type) {
    case "bool":
      return pl.Bool;
    case "string":
      return pl.Utf8;
    case "date":
      return pl.Date;
    case "float":
      return type.bits === 64 ? pl.Float64 : type.bits === 32 ? pl.Float32 : undefined;
    case "int": {
      const signed = { 8: pl.Int8, 16: pl.Int16, 32: pl.Int32, 64: pl.Int64 };
      const unsigned = { 8: pl.UInt8, 16: pl.UInt16, 32: pl.UInt32, 64: pl.UInt64 };
      return (type.signed ? signed : unsigned)[type.bits];
    }
    case "timestamp":
      if (type.unit === "s" || (type.timezone !== undefined && type.timezone !== "UTC")) return undefined;
      return pl.Datetime(type.unit, type.timezone);
    default:
      return undefined;
  }
}

const TYPED_INTS = {
  8: [Int8Array, Uint8Array],
  16: [Int16Array, Uint16Array],
  32: [Int32Array, Uint32Array],
} as const;
const MS_PER_DAY = 86_400_000;

type TypedKind<T> = new (buffer: ArrayBuffer, offset: number, length: number) => T;

/**
 * One column as a polars Series. Without nulls, numbers, booleans and Dates go over as typed arrays (polars
 * takes those without looking at each value: ~10× faster than a JS array of a million values);
 * 64-bit integers as float64 (danfo holds them as safe integers, so exactly) cast by polars, Dates as
 * epoch milliseconds scaled and cast by polars. With nulls, as a JS array. The typed arrays are views
 * of one `scratch` buffer of 8 bytes a row, reused column after column (polars copies what it is
 * given), so a write allocates that once rather than once per column.
 */
function polarsSeries(
  pl: Polars,
  field: Field,
  dtype: PolarsType,
  values: readonly unknown[],
  scratch: ArrayBuffer,
): import("nodejs-polars").Series {
  const type = field.type;
  const float = type.type === "float";
  // Indexed loops: some() and TypedArray set() over a million danfo values took ~6× as long (profiled).
  let nulls = false;
  for (let i = 0; i < values.length && !nulls; i++) nulls = isMissing(values[i], float);
  if (nulls)
    return pl.Series(
      field.name,
      values.map((v) => (isMissing(v, float) ? null : v)),
      dtype,
    );
  const view = <T>(Kind: TypedKind<T>): T => new Kind(scratch, 0, values.length);
  const filled = <T extends { [i: number]: number }>(Kind: TypedKind<T>): T => {
    const out = view(Kind);
    for (let i = 0; i < values.length; i++) out[i] = values[i] as number;
    return out;
  };
  // nodejs-polars takes any typed array at run time; its typings list them one overload each.
  const series = (array: unknown, kind: PolarsType) => pl.Series(field.name, array as number[], kind);
  switch (type.type) {
    case "int":
      if (type.bits === 64) return series(filled(Float64Array), pl.Float64).cast(dtype);
      return series(
        filled<Int32Array>(TYPED_INTS[type.bits][type.signed ? 0 : 1] as TypedKind<Int32Array>),
        dtype,
      );
    case "float":
      return series(type.bits === 32 ? filled(Float32Array) : filled(Float64Array), dtype);
    case "timestamp": {
      const ms = view(Float64Array);
      for (let i = 0; i < values.length; i++) ms[i] = (values[i] as Date).getTime();
      // Milliseconds first, then polars converts the unit in integers (a float product would round ns).
      const asMs = series(ms, pl.Float64).cast(pl.Int64).cast(pl.Datetime("ms", type.timezone));
      return type.unit === "ms" ? asMs : asMs.cast(dtype);
    }
    case "bool": {
      const bits = view(Uint8Array);
      for (let i = 0; i < values.length; i++) bits[i] = values[i] ? 1 : 0;
      return series(bits, pl.UInt8).cast(dtype);
    }
    case "date": {
      const days = view(Int32Array);
      for (let i = 0; i < values.length; i++)
        days[i] = Math.floor((values[i] as Date).getTime() / MS_PER_DAY);
      return series(days, pl.Int32).cast(dtype);
    }
    default:
      return pl.Series(field.name, values as unknown[], dtype);
  }
}

/**
 * The frame encoded by polars' native parquet writer, when every column maps exactly (see
 * polarsType); undefined otherwise, and ferry's writer encodes it. About 10× faster than ferry's
 * writer for a million rows (README).
 */
async function encodeWithPolars(frame: DataFrame, codec: string): Promise<Uint8Array | undefined> {
  const compression = POLARS_CODECS[codec];
  if (compression === undefined || frame.shape[0] === 0) return undefined;
  const pl = await loadPolars();
  if (!pl) return undefined;
  const { schema, raw } = frameColumns(frame);
  if (schema.metadata) return undefined;
  const types = schema.fields.map((field) => polarsType(pl, field));
  if (types.some((type) => type === undefined)) return undefined;
  try {
    const scratch = new ArrayBuffer(8 * (frame.shape[0] as number));
    const series = schema.fields.map((field, i) =>
      polarsSeries(pl, field, types[i]!, raw[field.name]!, scratch),
    );
    const buffer = pl.DataFrame(series).writeParquet({ compression });
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch {
    // A value polars will not take (out of its type's range, a wrong kind): ferry's writer names it.
    return undefined;
  }
}

/**
 * A frame encoded by polars when it is installed and writes every column exactly, else from buffers by
 * ferry's columnar writer (danfoToColumnar); undefined when neither can, and ferry's value path does.
 */
async function encodeFrame(frame: DataFrame, options: ParquetEncodeOptions): Promise<Uint8Array | undefined> {
  const viaPolars = await encodeWithPolars(frame, options.codec);
  if (viaPolars) return viaPolars;
  const columnar = danfoToColumnar(frame);
  if (!columnar || !columnarWritable(columnar.schema)) return undefined;
  return encodeColumnarParquet(columnar.schema, columnar.groups, {
    codec: options.codec as Codec,
    rowGroupSize: options.rowGroupSize,
  });
}

export function danfo(_options: DanfoFlavourOptions = {}): TableFlavour<DataFrame> {
  return {
    name: "danfo",
    detect: isDanfoFrame,
    toBatches: (frame) => {
      if (!isDanfoFrame(frame)) throw errors.invalidInput("the danfo flavour takes a danfojs DataFrame");
      return danfoToBatches(frame);
    },
    fromBatches: batchesToDanfo,
    fromBatch: (batch) => batchesToDanfo({ schema: batch.schema, batches: [batch] }),
    toColumnar: (frame) => (isDanfoFrame(frame) ? danfoToColumnar(frame) : undefined),
    encodeParquet: encodeFrame,
  };
}

export default danfo;
