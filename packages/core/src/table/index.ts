export {
  type ColumnarGroup,
  type ColumnVector,
  type FixedArray,
  valuesColumn,
} from "./columnar.ts";
export { listParts, type PartFile } from "./layout.ts";
export { describeType, fromParquetSchema, toParquetSchema } from "./parquet-schema.ts";
export { type OpenPart, openPart, type ReadStats, storageBuffer } from "./part-reader.ts";
export type { Codec } from "./part-writer.ts";
export { HIVE_NULL } from "./partition.ts";
export {
  batchesToColumns,
  batchToColumns,
  type ColumnData,
  columnsToRows,
  inferSchema,
  inferType,
  PLAIN_SCHEMA,
  type PlainData,
  plainBatches,
  plainFlavour,
  type RowData,
  rowsToColumns,
} from "./plain.ts";
export { createRandom, shuffleInPlace } from "./random.ts";
export type { Group, ShuffleOptions, StreamOptions } from "./reader.ts";
export { orderedBatches, shuffledBatches, TableReader } from "./reader.ts";
export { Table, type TableConfig, type TableOptions, table } from "./table.ts";
export * from "./types.ts";
export type { WriteMode, WriteResult, WriteTableOptions } from "./writer.ts";
export { writeTable } from "./writer.ts";
