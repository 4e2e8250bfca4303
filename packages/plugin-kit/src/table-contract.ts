/**
 * ferry's columnar model: the lingua franca between parquet files and every table flavour.
 *
 * JS value of each type (exact round-trips, never a silent precision loss):
 * | type                        | value                                                        |
 * |-----------------------------|--------------------------------------------------------------|
 * | null                        | null                                                         |
 * | bool                        | boolean                                                      |
 * | int 8/16/32 (signed/unsigned)| number                                                      |
 * | int 64 (signed/unsigned)    | bigint                                                       |
 * | float 16/32/64              | number                                                       |
 * | string                      | string                                                       |
 * | binary                      | Uint8Array                                                   |
 * | date                        | Date at UTC midnight                                         |
 * | timestamp s/ms              | Date                                                         |
 * | timestamp us/ns             | bigint: count of the unit since the Unix epoch (exact)       |
 * | time ms                     | number: milliseconds since midnight                          |
 * | time us/ns                  | bigint: count of the unit since midnight                     |
 * | duration s/ms/us/ns         | bigint: count of the unit                                    |
 * | interval                    | { months, days, milliseconds } (parquet's INTERVAL, unsigned)|
 * | decimal(p, s)               | string, e.g. "-12.30" (exact, scale digits after the point)  |
 * | list<item>                  | array of item values                                         |
 * | struct<fields>              | plain object keyed by field name                             |
 * Any value may be null when the field is nullable. A column of a file ferry cannot decode has the
 * type `unreadable` (with the reason): the other columns read, selecting it raises Unsupported.
 */

export type TimeUnit = "s" | "ms" | "us" | "ns";
/** Units of a time of day (parquet has no seconds TIME). */
export type TimeOfDayUnit = "ms" | "us" | "ns";

/** A parquet INTERVAL: three unsigned 32-bit counts, added in this order. */
export interface Interval {
  readonly months: number;
  readonly days: number;
  readonly milliseconds: number;
}

export type DataType =
  | { readonly type: "null" }
  | { readonly type: "bool" }
  | { readonly type: "int"; readonly bits: 8 | 16 | 32 | 64; readonly signed: boolean }
  | { readonly type: "float"; readonly bits: 16 | 32 | 64 }
  | { readonly type: "string" }
  | { readonly type: "binary" }
  | { readonly type: "date" }
  | { readonly type: "timestamp"; readonly unit: TimeUnit; readonly timezone?: string | undefined }
  | { readonly type: "time"; readonly unit: TimeOfDayUnit }
  | { readonly type: "duration"; readonly unit: TimeUnit }
  | { readonly type: "interval" }
  | { readonly type: "decimal"; readonly precision: number; readonly scale: number }
  | { readonly type: "list"; readonly item: Field }
  | { readonly type: "struct"; readonly fields: readonly Field[] }
  /** A column of a file someone else wrote that ferry cannot decode; `reason` says why. */
  | { readonly type: "unreadable"; readonly reason: string };

export interface Field {
  readonly name: string;
  readonly type: DataType;
  readonly nullable: boolean;
  /** Free-form annotations, e.g. a Hugging Face ClassLabel's names as JSON under "hf.class_label". */
  readonly metadata?: Readonly<Record<string, string>> | undefined;
}

export interface Schema {
  readonly fields: readonly Field[];
  readonly metadata?: Readonly<Record<string, string>> | undefined;
}

/** A slice of rows, column-major. Every column array has exactly `numRows` values. */
export interface ColumnBatch {
  readonly schema: Schema;
  readonly columns: Readonly<Record<string, readonly unknown[]>>;
  readonly numRows: number;
}

/** Batches with their schema (known even when there are no batches: an empty table still has columns). */
export interface BatchSource {
  readonly schema: Schema;
  readonly batches: AsyncIterable<ColumnBatch> | Iterable<ColumnBatch>;
}

/**
 * A table flavour converts between ferry's batches and a library's own table type
 * (apache-arrow Table, polars DataFrame, danfo DataFrame, ...).
 */
export interface TableFlavour<T = unknown> {
  /** "arrow", "polars", "danfo", "hf", or a third-party name. Saved in registry entries. */
  readonly name: string;
  /** True when `value` is this flavour's table type (used to pick the flavour of `table(data)`). */
  detect(value: unknown): value is T;
  /** A flavour value as batches. Must not copy the data more than once. */
  toBatches(value: T): BatchSource | Promise<BatchSource>;
  /** Batches back into the flavour's type. */
  fromBatches(source: BatchSource): Promise<T>;
  /** Convert one batch (used by `Table.stream()` to yield flavour-typed batches). */
  fromBatch?(batch: ColumnBatch): T | Promise<T>;
  /**
   * Optional fast path for `write()` of an unpartitioned table: the value encoded as one parquet file by
   * the library itself (e.g. polars' native writer). ferry stores it as a part file as usual.
   * `undefined` when the flavour cannot encode this value exactly: ferry's own writer then does.
   */
  encodeParquet?(
    value: T,
    options: ParquetEncodeOptions,
  ): Uint8Array | undefined | Promise<Uint8Array | undefined>;
  /** Optional fast path for `fetch()` of an unpartitioned table: one part file's bytes decoded by the library. */
  decodeParquet?(bytes: Uint8Array, options: { columns?: readonly string[] | undefined }): T | Promise<T>;
  /**
   * Optional fast path for `fetch()`: the table's row groups in columnar form (typed arrays, offsets and
   * bytes, validity bitmaps) instead of a JS value per row.
   */
  fromColumnar?(source: ColumnarSource): T | Promise<T>;
  /**
   * Optional fast path for `write()` of an unpartitioned table: the value as columnar row groups
   * (buffers, not JS values), or undefined when some column has no such form. ferry encodes the file.
   */
  toColumnar?(value: T): ColumnarSource | undefined;
  /** Join values decoded part by part (required with `decodeParquet`). */
  concat?(values: readonly T[]): T | Promise<T>;
}

/** Row groups in columnar form with their schema (see `TableReader.columnar()`). */
export interface ColumnarSource {
  readonly schema: Schema;
  readonly groups: AsyncIterable<ColumnarGroup> | Iterable<ColumnarGroup>;
}

export interface ParquetEncodeOptions {
  /** Compression codec name, e.g. "SNAPPY", "ZSTD", "UNCOMPRESSED". */
  readonly codec: string;
  /** Rows per row group. */
  readonly rowGroupSize: number;
}

/** Shorthand constructors for schemas. */
export const t = {
  null: (): DataType => ({ type: "null" }),
  bool: (): DataType => ({ type: "bool" }),
  int8: (): DataType => ({ type: "int", bits: 8, signed: true }),
  int16: (): DataType => ({ type: "int", bits: 16, signed: true }),
  int32: (): DataType => ({ type: "int", bits: 32, signed: true }),
  int64: (): DataType => ({ type: "int", bits: 64, signed: true }),
  uint8: (): DataType => ({ type: "int", bits: 8, signed: false }),
  uint16: (): DataType => ({ type: "int", bits: 16, signed: false }),
  uint32: (): DataType => ({ type: "int", bits: 32, signed: false }),
  uint64: (): DataType => ({ type: "int", bits: 64, signed: false }),
  float16: (): DataType => ({ type: "float", bits: 16 }),
  float32: (): DataType => ({ type: "float", bits: 32 }),
  float64: (): DataType => ({ type: "float", bits: 64 }),
  string: (): DataType => ({ type: "string" }),
  binary: (): DataType => ({ type: "binary" }),
  date: (): DataType => ({ type: "date" }),
  timestamp: (unit: TimeUnit, timezone?: string): DataType => ({ type: "timestamp", unit, timezone }),
  time: (unit: TimeOfDayUnit): DataType => ({ type: "time", unit }),
  duration: (unit: TimeUnit): DataType => ({ type: "duration", unit }),
  interval: (): DataType => ({ type: "interval" }),
  decimal: (precision: number, scale: number): DataType => ({ type: "decimal", precision, scale }),
  list: (item: DataType, nullable = true): DataType => ({
    type: "list",
    item: { name: "item", type: item, nullable },
  }),
  struct: (fields: readonly Field[]): DataType => ({ type: "struct", fields }),
  field: (name: string, type: DataType, nullable = true): Field => ({ name, type, nullable }),
};

/** Fixed-width values as Arrow lays them out for the ferry type (float16 as its raw 16 bits). */
export type FixedArray =
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

/**
 * One column of one row group. `validity` is a bitmap (bit i of byte i>>3, 1 = a value) or undefined
 * when there is no null; a null's slot holds zero (fixed), false (bits) or no bytes (bytes).
 * - fixed: one element per row, the Arrow buffer of the ferry type (int, float, date as days,
 *   timestamp ms/us/ns as an int64 count).
 * - bits: booleans as a bitmap.
 * - bytes: string (UTF-8) or binary values, row i at data[offsets[i], offsets[i+1]). When they came
 *   from dictionary pages, `dictionary` may hold the distinct values (the same layout) and each row's
 *   entry (-1 for a null), so a consumer can convert each distinct value once; `offsets`/`data` hold
 *   every row's value all the same.
 * - values: ferry's JS values (the value path), for what the columnar path does not cover.
 */
export type ColumnVector = { length: number; nullCount: number; validity: Uint8Array | undefined } & (
  | { kind: "fixed"; values: FixedArray }
  | { kind: "bits"; values: Uint8Array }
  | { kind: "bytes"; offsets: Int32Array; data: Uint8Array; dictionary?: BytesDictionary | undefined }
  | { kind: "values"; values: unknown[] }
);

/** The distinct values of a text or binary column and the entry of each row (-1 for a null). */
export interface BytesDictionary {
  offsets: Int32Array;
  data: Uint8Array;
  entries: Int32Array;
}

/** Decoded columns of one row group (or a part of the table like it), in columnar form. */
export interface ColumnarGroup {
  rows: number;
  columns: Record<string, ColumnVector>;
}
