/**
 * The built-in flavour for plain JS data: a column object `{ col: [..] }` (arrays or typed arrays) or
 * an array of row objects. The schema is given or inferred:
 *
 * | JS values                                  | inferred type                                     |
 * |--------------------------------------------|---------------------------------------------------|
 * | numbers, all integers in −2³¹..2³¹−1       | int32 (read back as numbers, unchanged)           |
 * | any other numbers                          | float64 (exact for every JS number)               |
 * | bigint                                     | int64                                             |
 * | string / boolean / Uint8Array              | string / bool / binary                            |
 * | Date                                       | timestamp[ms, UTC]                                |
 * | arrays                                     | list of the items' inferred type                  |
 * | plain objects                              | struct of the union of their keys (first-seen order) |
 * | only null/undefined                        | null                                              |
 * | typed array column (Int8Array…Float64Array, BigInt64Array) | its element type                  |
 * Numbers never become int64 by inference: int64 reads back as bigint, which would change the values'
 * JS type; pass an explicit schema (or bigints) for int64. Inferred fields are nullable.
 */
import type {
  BatchSource,
  ColumnarSource,
  ColumnBatch,
  DataType,
  Field,
  Schema,
  TableFlavour,
} from "@ferry/plugin-kit";
import { errors, type FixedArray } from "@ferry/plugin-kit";
import type { ColumnVector } from "./columnar.ts";
import { valuesToColumn } from "./columnar-values.ts";
import { concatChunks } from "./concat.ts";
import { describeType } from "./parquet-schema.ts";

/** A column held in a typed array: the fixed-width layouts of the columnar contract. */
export type TypedColumn = FixedArray;

/** `{ column: values }`. */
export type ColumnData = Readonly<Record<string, readonly unknown[] | TypedColumn>>;
/** `[{ column: value, ... }, ...]`. */
export type RowData = readonly Readonly<Record<string, unknown>>[];
export type PlainData = ColumnData | RowData;

/**
 * Column objects returned by `fetch()` carry their schema under this (non-enumerable) key, so writing
 * them again keeps the exact types instead of re-inferring them.
 */
export const PLAIN_SCHEMA: unique symbol = Symbol.for("ferry.table.schema") as never;

/** Rows per batch when plain data is handed to the writer. */
const PLAIN_BATCH_ROWS = 65_536;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function isColumn(value: unknown): value is readonly unknown[] | TypedColumn {
  return Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView));
}

export function isColumnData(value: unknown): value is ColumnData {
  return isPlainObject(value) && Object.values(value).every(isColumn);
}

export function isRowData(value: unknown): value is RowData {
  return Array.isArray(value) && value.every(isPlainObject);
}

const TYPED: [new (...args: never[]) => TypedColumn, DataType][] = [
  [Int8Array, { type: "int", bits: 8, signed: true }],
  [Int16Array, { type: "int", bits: 16, signed: true }],
  [Int32Array, { type: "int", bits: 32, signed: true }],
  [Uint8Array, { type: "int", bits: 8, signed: false }],
  [Uint16Array, { type: "int", bits: 16, signed: false }],
  [Uint32Array, { type: "int", bits: 32, signed: false }],
  [Float32Array, { type: "float", bits: 32 }],
  [Float64Array, { type: "float", bits: 64 }],
  [BigInt64Array, { type: "int", bits: 64, signed: true }],
  [BigUint64Array, { type: "int", bits: 64, signed: false }],
];

type Kind = "number" | "bigint" | "string" | "bool" | "date" | "binary" | "list" | "struct";

function kindOf(value: unknown, column: string): Kind {
  if (typeof value === "number") return "number";
  if (typeof value === "bigint") return "bigint";
  if (typeof value === "string") return "string";
  if (typeof value === "boolean") return "bool";
  if (value instanceof Date) return "date";
  if (value instanceof Uint8Array) return "binary";
  if (Array.isArray(value)) return "list";
  if (isPlainObject(value)) return "struct";
  throw errors.invalidInput(
    `column "${column}": cannot store a value of type ${value?.constructor?.name ?? typeof value}`,
  );
}

/** The type of a column's values (see the table above). */
export function inferType(values: Iterable<unknown>, column: string): DataType {
  let kind: Kind | undefined;
  let allInt32 = true;
  const present: unknown[] = [];
  for (const value of values) {
    if (value === null || value === undefined) continue;
    const k = kindOf(value, column);
    if (kind !== undefined && k !== kind)
      throw errors.invalidInput(
        `column "${column}" mixes ${kind} and ${k} values; give a schema or make them one type`,
      );
    kind = k;
    if (k === "number" && allInt32)
      allInt32 =
        Number.isInteger(value) && (value as number) >= -2147483648 && (value as number) <= 2147483647;
    if (k === "list" || k === "struct") present.push(value);
  }
  switch (kind) {
    case undefined:
      return { type: "null" };
    case "number":
      return allInt32 ? { type: "int", bits: 32, signed: true } : { type: "float", bits: 64 };
    case "bigint":
      return { type: "int", bits: 64, signed: true };
    case "string":
      return { type: "string" };
    case "bool":
      return { type: "bool" };
    case "date":
      return { type: "timestamp", unit: "ms", timezone: "UTC" };
    case "binary":
      return { type: "binary" };
    case "list":
      return {
        type: "list",
        item: {
          name: "element",
          type: inferType((present as unknown[][]).flat(), `${column}[]`),
          nullable: true,
        },
      };
    case "struct": {
      const keys: string[] = [];
      const seen = new Set<string>();
      for (const record of present as Record<string, unknown>[]) {
        for (const key of Object.keys(record)) {
          if (seen.has(key)) continue;
          seen.add(key);
          keys.push(key);
        }
      }
      const fields: Field[] = keys.map((key) => ({
        name: key,
        type: inferType(
          (present as Record<string, unknown>[]).map((r) => r[key]),
          `${column}.${key}`,
        ),
        nullable: true,
      }));
      if (fields.length === 0)
        throw errors.invalidInput(`column "${column}": objects with no keys cannot be stored`);
      return { type: "struct", fields };
    }
  }
}

function columnType(values: readonly unknown[] | TypedColumn, column: string): DataType {
  for (const [ctor, type] of TYPED) if (values instanceof ctor) return type;
  return inferType(values as readonly unknown[], column);
}

/** Row objects → one column object (union of keys, first-seen order; a missing key is null). */
export function rowsToColumns(rows: RowData): Record<string, unknown[]> {
  const columns: Record<string, unknown[]> = {};
  rows.forEach((row, index) => {
    for (const key of Object.keys(row)) {
      if (!(key in columns)) columns[key] = new Array(index).fill(null);
    }
    for (const key of Object.keys(columns)) columns[key]!.push(row[key] ?? null);
  });
  return columns;
}

function columnsOf(data: PlainData): ColumnData {
  if (isRowData(data)) return rowsToColumns(data);
  if (isColumnData(data)) return data;
  throw errors.invalidInput("plain table data must be { column: array } or an array of row objects");
}

export function inferSchema(data: PlainData): Schema {
  const columns = columnsOf(data);
  return {
    fields: Object.entries(columns).map(([name, values]) => ({
      name,
      type: columnType(values, name),
      nullable: true,
    })),
  };
}

/** Plain data as batches; with `schema`, columns are taken in its order and validated by the writer. */
export function plainBatches(data: PlainData, schema?: Schema): BatchSource {
  const columns = columnsOf(data);
  const carried = (data as { [PLAIN_SCHEMA]?: Schema })[PLAIN_SCHEMA];
  const resolved = schema ?? carried ?? inferSchema(columns);
  const lengths = new Set(Object.values(columns).map((c) => c.length));
  if (lengths.size > 1)
    throw errors.invalidInput(`columns have different lengths (${[...lengths].join(", ")})`);
  for (const field of resolved.fields) {
    if (!(field.name in columns))
      throw errors.invalidInput(
        `column "${field.name}" (${describeType(field.type)}) is in the schema but not in the data`,
      );
  }
  const numRows = lengths.values().next().value ?? 0;
  function* batches(): Iterable<ColumnBatch> {
    for (let start = 0; start < numRows; start += PLAIN_BATCH_ROWS) {
      const end = Math.min(start + PLAIN_BATCH_ROWS, numRows);
      const slice: Record<string, unknown[]> = {};
      for (const field of resolved.fields)
        slice[field.name] = Array.from(columns[field.name]!.slice(start, end) as ArrayLike<unknown>);
      yield { schema: resolved, columns: slice, numRows: end - start };
    }
  }
  return { schema: resolved, batches: batches() };
}

/**
 * Plain data as one columnar group (buffers, for the columnar writer), or undefined when a column needs
 * the value path (a type or a value it does not take as is). Same checks as `plainBatches` first.
 */
export function plainColumnar(data: PlainData, schema?: Schema): ColumnarSource | undefined {
  const source = plainBatches(data, schema);
  const columns = columnsOf(data);
  const numRows = columns[source.schema.fields[0]?.name ?? ""]?.length ?? 0;
  const vectors: Record<string, ColumnVector> = {};
  for (const field of source.schema.fields) {
    const vector = valuesToColumn(field, columns[field.name]! as ArrayLike<unknown>);
    if (!vector) return undefined;
    vectors[field.name] = vector;
  }
  return { schema: source.schema, groups: [{ rows: numRows, columns: vectors }] };
}

/** Batches → one column object `{ column: values }`. */
export async function batchesToColumns(source: BatchSource): Promise<Record<string, unknown[]>> {
  const chunks: Record<string, (readonly unknown[])[]> = Object.fromEntries(
    source.schema.fields.map((f) => [f.name, []]),
  );
  for await (const batch of source.batches) {
    for (const field of source.schema.fields) chunks[field.name]!.push(batch.columns[field.name] ?? []);
  }
  // Always a fresh array: the caller owns the result, whatever the batches still reference.
  const out: Record<string, unknown[]> = Object.fromEntries(
    source.schema.fields.map((f) => [f.name, concatChunks([[], ...chunks[f.name]!])]),
  );
  Object.defineProperty(out, PLAIN_SCHEMA, { value: source.schema, enumerable: false });
  return out;
}

/** Column object → array of row objects. */
export function columnsToRows(
  columns: Readonly<Record<string, readonly unknown[]>>,
): Record<string, unknown>[] {
  const names = Object.keys(columns);
  const numRows = names.length === 0 ? 0 : columns[names[0]!]!.length;
  const rows: Record<string, unknown>[] = new Array(numRows);
  for (let i = 0; i < numRows; i++) {
    const row: Record<string, unknown> = {};
    for (const name of names) row[name] = columns[name]![i];
    rows[i] = row;
  }
  return rows;
}

/** One batch as a column object carrying its schema (what `stream()` yields for plain tables). */
export function batchToColumns(batch: ColumnBatch): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = Object.fromEntries(
    batch.schema.fields.map((f) => [f.name, [...(batch.columns[f.name] ?? [])]]),
  );
  Object.defineProperty(out, PLAIN_SCHEMA, { value: batch.schema, enumerable: false });
  return out;
}

/**
 * The built-in flavour: plain JS data in; a column object `{ column: values }` out, from `fetch()` and
 * for each batch of `stream()` alike.
 */
export const plainFlavour: TableFlavour<PlainData> = {
  name: "plain",
  detect: (value: unknown): value is PlainData => isColumnData(value) || isRowData(value),
  toBatches: (value) => plainBatches(value),
  fromBatches: (source) => batchesToColumns(source),
  fromBatch: batchToColumns,
};
