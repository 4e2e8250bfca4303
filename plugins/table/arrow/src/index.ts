/**
 * @ferry/table-arrow: apache-arrow Tables and RecordBatches as ferry tables.
 *
 *   import { ferry } from "@ferry/core";
import { table } from "@ferry/core";
 *   import arrow from "@ferry/table-arrow";
 *   ferry.use(arrow());
 *   await table(arrowTable, "s3://bucket/t").write();
 */
import { type BatchSource, type ColumnBatch, errors, type TableFlavour } from "@ferry/plugin-kit";
import * as A from "apache-arrow";
import { recordBatchToColumns } from "./from-arrow.ts";
import { columnarToArrow } from "./from-columnar.ts";
import { fromArrowSchema, toArrowSchema } from "./schema.ts";
import { toRecordBatch } from "./to-arrow.ts";
import { arrowToColumnar } from "./to-columnar.ts";

export { fromArrowData, recordBatchToColumns } from "./from-arrow.ts";
export { columnarToArrow, columnToArrowData } from "./from-columnar.ts";
export {
  fromArrowField,
  fromArrowSchema,
  fromArrowType,
  toArrowField,
  toArrowSchema,
  toArrowType,
} from "./schema.ts";
export { toArrowData, toRecordBatch } from "./to-arrow.ts";
export { arrowToColumnar } from "./to-columnar.ts";

/** What the flavour takes: a Table or a single RecordBatch. `fetch()` gives a Table, `stream()` RecordBatches. */
export type ArrowValue = A.Table | A.RecordBatch;

// No options yet: the factory shape is the plugin convention, so options can be added without breaking callers.
export type ArrowFlavourOptions = Record<string, never>;

function isTable(value: unknown): value is A.Table {
  return (
    value instanceof A.Table ||
    (typeof value === "object" &&
      value !== null &&
      value.constructor?.name === "Table" &&
      "batches" in value &&
      "schema" in value)
  );
}

function isRecordBatch(value: unknown): value is A.RecordBatch {
  return (
    value instanceof A.RecordBatch ||
    (typeof value === "object" &&
      value !== null &&
      value.constructor?.name === "RecordBatch" &&
      "data" in value &&
      "schema" in value)
  );
}

/** Batches of an arrow Table or RecordBatch, converted one RecordBatch at a time. */
export function arrowToBatches(value: ArrowValue): BatchSource {
  const schema = fromArrowSchema(value.schema);
  const recordBatches = isTable(value) ? value.batches : [value];
  function* batches(): Iterable<ColumnBatch> {
    for (const batch of recordBatches) yield recordBatchToColumns(batch, schema);
  }
  return { schema, batches: batches() };
}

/** Ferry batches as one arrow Table (one RecordBatch per batch). */
export async function batchesToArrow(source: BatchSource): Promise<A.Table> {
  const recordBatches: A.RecordBatch[] = [];
  for await (const batch of source.batches) recordBatches.push(toRecordBatch(batch, source.schema));
  return recordBatches.length > 0 ? new A.Table(recordBatches) : new A.Table(toArrowSchema(source.schema));
}

/** The apache-arrow flavour. */
export function arrow(_options: ArrowFlavourOptions = {}): TableFlavour<ArrowValue> {
  return {
    name: "arrow",
    detect: (value: unknown): value is ArrowValue => isTable(value) || isRecordBatch(value),
    toBatches: (value) => {
      if (!isTable(value) && !isRecordBatch(value))
        throw errors.invalidInput("the arrow flavour takes an apache-arrow Table or RecordBatch");
      return arrowToBatches(value);
    },
    fromBatches: batchesToArrow,
    fromColumnar: columnarToArrow,
    toColumnar: (value) => (isTable(value) || isRecordBatch(value) ? arrowToColumnar(value) : undefined),
    fromBatch: (batch) => toRecordBatch(batch),
  };
}

export default arrow;
