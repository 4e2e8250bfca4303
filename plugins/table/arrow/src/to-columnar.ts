/**
 * arrow Tables and RecordBatches → ferry's columnar row groups, sharing arrow's buffers (no copy, no JS
 * value per row), so that `write()` encodes parquet straight from them. Undefined when some column has
 * a layout that needs converting (a slice with an offset, dictionaries, views, dates in ms, seconds,
 * decimals, nested types): the value path writes those.
 */
import type { ColumnarGroup, ColumnarSource, ColumnVector } from "@ferry/plugin-kit";
import * as A from "apache-arrow";
import { fromArrowSchema } from "./schema.ts";

function vectorOf(data: A.Data): ColumnVector | undefined {
  const { type, length, nullCount } = data;
  if (data.offset !== 0) return undefined;
  const validity = nullCount > 0 ? data.nullBitmap : undefined;
  if (nullCount > 0 && (!validity || validity.byteLength < Math.ceil(length / 8))) return undefined;
  const common = { length, nullCount, validity };
  if (A.DataType.isBool(type)) return { ...common, kind: "bits", values: data.values as Uint8Array };
  if (
    A.DataType.isInt(type) ||
    A.DataType.isFloat(type) ||
    (A.DataType.isDate(type) && type.unit === A.DateUnit.DAY) ||
    (A.DataType.isTimestamp(type) && type.unit !== A.TimeUnit.SECOND)
  ) {
    const values = data.values as Int32Array;
    if (values.length < length) return undefined;
    return { ...common, kind: "fixed", values: values.subarray(0, length) };
  }
  if (A.DataType.isUtf8(type) || A.DataType.isBinary(type)) {
    const offsets = data.valueOffsets as Int32Array;
    if (offsets[0] !== 0) return undefined;
    return {
      ...common,
      kind: "bytes",
      offsets: offsets.subarray(0, length + 1),
      data: data.values as Uint8Array,
    };
  }
  return undefined;
}

/** The value's record batches as columnar groups, or undefined when a column needs the value path. */
export function arrowToColumnar(value: A.Table | A.RecordBatch): ColumnarSource | undefined {
  const schema = fromArrowSchema(value.schema);
  const batches =
    value instanceof A.RecordBatch || !("batches" in value) ? [value as A.RecordBatch] : value.batches;
  const groups: ColumnarGroup[] = [];
  for (const batch of batches) {
    const columns: Record<string, ColumnVector> = {};
    for (let c = 0; c < schema.fields.length; c++) {
      const vector = vectorOf(batch.data.children[c]!);
      if (!vector) return undefined;
      columns[schema.fields[c]!.name] = vector;
    }
    groups.push({ rows: batch.numRows, columns });
  }
  return { schema, groups };
}
