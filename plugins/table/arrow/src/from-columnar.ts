/**
 * ferry's columnar row groups → arrow Data without a JS value per row: the typed arrays, offsets,
 * bytes and validity bitmaps the parquet reader decoded become the arrow buffers as they are. A
 * column handed over as values (a type the columnar path does not decode) is built as before.
 */
import type { ColumnarSource, ColumnVector, Field, Schema } from "@ferry/plugin-kit";
import * as A from "apache-arrow";
import { toArrowField, toArrowSchema, toArrowType } from "./schema.ts";
import { toArrowData } from "./to-arrow.ts";

/** One column of one row group as arrow Data of the field's type. */
export function columnToArrowData(field: Field, column: ColumnVector): A.Data {
  if (column.kind === "values") return toArrowData(field.type, column.values, field.name);
  const type = toArrowType(field.type, field.name);
  const { length, nullCount } = column;
  const nullBitmap = column.validity;
  if (column.kind === "bytes") {
    return A.makeData({
      type: type as A.Utf8,
      length,
      nullCount,
      nullBitmap,
      valueOffsets: column.offsets,
      data: column.data,
    });
  }
  return A.makeData({
    type: type as A.Int32,
    length,
    nullCount,
    nullBitmap,
    data: column.values as Int32Array,
  });
}

/** Columnar row groups as one arrow Table, one RecordBatch per row group. */
export async function columnarToArrow(source: ColumnarSource): Promise<A.Table> {
  const schema: Schema = source.schema;
  const arrowSchema = toArrowSchema(schema);
  const structType = new A.Struct(schema.fields.map((f) => toArrowField(f)));
  const batches: A.RecordBatch[] = [];
  for await (const group of source.groups) {
    if (group.rows === 0) continue;
    const children = schema.fields.map((field) => columnToArrowData(field, group.columns[field.name]!));
    const data = A.makeData({ type: structType, length: group.rows, nullCount: 0, children });
    batches.push(new A.RecordBatch(arrowSchema, data));
  }
  return batches.length > 0 ? new A.Table(batches) : new A.Table(arrowSchema);
}
