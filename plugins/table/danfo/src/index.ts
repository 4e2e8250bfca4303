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
  type BatchSource,
  type ColumnBatch,
  type DataType,
  describeType,
  errors,
  type Field,
  inferType,
  type Schema,
  type TableFlavour,
} from "@ferry/core";
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

/** danfo values → ferry values of `type` (inverse of toDanfoValues). */
function fromDanfoValues(type: DataType, values: readonly unknown[]): unknown[] {
  const perMs = type.type === "timestamp" ? { s: 0n, ms: 0n, us: 1_000n, ns: 1_000_000n }[type.unit] : 0n;
  return values.map((v) => {
    if (v === null || v === undefined || (typeof v === "number" && Number.isNaN(v) && type.type !== "float"))
      return null;
    if (type.type === "int" && type.bits === 64) return BigInt(v as number);
    if (perMs > 0n) return BigInt((v as Date).getTime()) * perMs;
    return v;
  });
}

function columnValues(frame: DataFrame, name: string): unknown[] {
  if (frame.shape[0] === 0) return [];
  return [...(frame.column(name).values as unknown[])];
}

/** A DataFrame as one ferry batch (danfo frames live in memory already). */
export function danfoToBatches(frame: DataFrame): BatchSource {
  const carried = (frame as unknown as { [FERRY_SCHEMA]?: Schema })[FERRY_SCHEMA];
  const names = frame.columns as string[];
  const usable =
    carried && carried.fields.length === names.length && carried.fields.every((f, i) => f.name === names[i]);
  const raw = Object.fromEntries(names.map((name) => [name, columnValues(frame, name)]));
  const schema: Schema = usable
    ? carried
    : { fields: names.map((name) => ({ name, type: inferType(raw[name]!, name), nullable: true })) };
  const columns = Object.fromEntries(
    schema.fields.map((f) => [f.name, fromDanfoValues(f.type, raw[f.name]!)]),
  );
  const batch: ColumnBatch = { schema, columns, numRows: frame.shape[0] as number };
  return { schema, batches: batch.numRows > 0 ? [batch] : [] };
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
  };
}

export default danfo;
