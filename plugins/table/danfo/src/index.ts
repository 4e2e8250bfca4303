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
import type { PolarsJob } from "./polars-job.ts";
import { encodeWithPolarsThread } from "./polars-thread.ts";
import { isMissing, LITTLE_ENDIAN, storeWide } from "./values.ts";

export type { DataFrame } from "danfojs-node";
export { polarsThread, stopPolarsThread } from "./polars-thread.ts";

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
    if (perMs === 1n && LITTLE_ENDIAN) storeWide(words, i, n);
    else out[i] = (BigInt(n) * perMs) as never;
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

let polarsInstalled: boolean | undefined;

/** Whether nodejs-polars is installed (an optional peer: danfo has no parquet writer of its own), without loading it. */
function hasPolars(): boolean {
  if (polarsInstalled === undefined) {
    try {
      import.meta.resolve("nodejs-polars");
      polarsInstalled = true;
    } catch {
      polarsInstalled = false;
    }
  }
  return polarsInstalled;
}

const POLARS_CODECS: Record<string, PolarsJob["compression"]> = {
  UNCOMPRESSED: "uncompressed",
  SNAPPY: "snappy",
  GZIP: "gzip",
  BROTLI: "brotli",
  ZSTD: "zstd",
  LZ4_RAW: "lz4",
};

/**
 * The frame encoded by polars' native parquet writer when every column maps exactly (jobType in
 * polars-thread.ts), off the calling thread when it is big; undefined otherwise, and ferry's writer
 * encodes it.
 */
async function encodeWithPolars(frame: DataFrame, codec: string): Promise<Uint8Array | undefined> {
  const compression = POLARS_CODECS[codec];
  const rows = frame.shape[0] as number;
  if (compression === undefined || rows === 0 || !hasPolars()) return undefined;
  const { schema, raw } = frameColumns(frame);
  if (schema.metadata) return undefined;
  return encodeWithPolarsThread(rows, schema.fields, raw, compression);
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
