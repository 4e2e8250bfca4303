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
 * | decimal(p, s)               | string, e.g. "-12.30" (exact, scale digits after the point)  |
 * | list<item>                  | array of item values                                         |
 * | struct<fields>              | plain object keyed by field name                             |
 * Any value may be null when the field is nullable.
 */
import type { ColumnarGroup } from "./columnar.ts";

export type TimeUnit = "s" | "ms" | "us" | "ns";

export type DataType =
  | { readonly type: "null" }
  | { readonly type: "bool" }
  | { readonly type: "int"; readonly bits: 8 | 16 | 32 | 64; readonly signed: boolean }
  | { readonly type: "float"; readonly bits: 16 | 32 | 64 }
  | { readonly type: "string" }
  | { readonly type: "binary" }
  | { readonly type: "date" }
  | { readonly type: "timestamp"; readonly unit: TimeUnit; readonly timezone?: string | undefined }
  | { readonly type: "decimal"; readonly precision: number; readonly scale: number }
  | { readonly type: "list"; readonly item: Field }
  | { readonly type: "struct"; readonly fields: readonly Field[] };

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
   */
  encodeParquet?(value: T, options: ParquetEncodeOptions): Uint8Array | Promise<Uint8Array>;
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
  float32: (): DataType => ({ type: "float", bits: 32 }),
  float64: (): DataType => ({ type: "float", bits: 64 }),
  string: (): DataType => ({ type: "string" }),
  binary: (): DataType => ({ type: "binary" }),
  date: (): DataType => ({ type: "date" }),
  timestamp: (unit: TimeUnit, timezone?: string): DataType => ({ type: "timestamp", unit, timezone }),
  decimal: (precision: number, scale: number): DataType => ({ type: "decimal", precision, scale }),
  list: (item: DataType, nullable = true): DataType => ({
    type: "list",
    item: { name: "item", type: item, nullable },
  }),
  struct: (fields: readonly Field[]): DataType => ({ type: "struct", fields }),
  field: (name: string, type: DataType, nullable = true): Field => ({ name, type, nullable }),
};
