/**
 * @ferry/parquet — ferry's parquet codec: partitioned tables written and read over any ferry storage,
 * with ranged reads, on hyparquet. `@ferry/core` loads it on the first Table operation, so a program
 * that only moves folders never loads it.
 */

export {
  codecThreads,
  codecThreadsReady,
  startWorker,
  stopCodecThreads,
  threadCount,
} from "./codec-threads.ts";
export {
  type ColumnarGroup,
  type ColumnVector,
  columnValues,
  type FixedArray,
  valuesColumn,
} from "./columnar.ts";
export { valuesToColumn } from "./columnar-values.ts";
export { columnarWritable, encodeColumnarParquet } from "./columnar-writer.ts";
export { concatChunks } from "./concat.ts";
export {
  type CompiledFilter,
  compileFilter,
  type Filter,
  type FilterComparison,
  type FilterValue,
  filterBatch,
  parseFilter,
} from "./filter.ts";
export { isParquetFileKey, listParts, type PartFile } from "./layout.ts";
export { describeType, fromParquetSchema, toParquetSchema } from "./parquet-schema.ts";
export { type OpenPart, openPart, type ReadStats, readRowGroup, storageBuffer } from "./part-reader.ts";
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
  plainColumnar,
  plainFlavour,
  type RowData,
  rowsToColumns,
} from "./plain.ts";
export { createRandom, shuffleInPlace } from "./random.ts";
export type { Group, ShuffleOptions, StreamOptions } from "./reader.ts";
export { orderedBatches, READ_AHEAD_BYTES, shuffledBatches, TableReader } from "./reader.ts";
export { pickFields } from "./select.ts";
export { csvBatches, jsonLinesBatches, TEXT_BATCH_ROWS } from "./text-rows.ts";
export type { WriteMode, WriteResult, WriteTableOptions } from "./writer.ts";
export { writeEncodedPart, writeTable } from "./writer.ts";
