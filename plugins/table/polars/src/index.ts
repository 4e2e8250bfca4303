/**
 * @ferry/table-polars: nodejs-polars DataFrames as ferry tables.
 *
 * Batches cross between ferry and polars as Arrow IPC (no per-value JS conversion on the polars side).
 * Unpartitioned tables are written and fetched with polars' own parquet writer and reader, which are
 * much faster than the JS codec; partitioned tables, streaming and counting go through ferry's reader.
 */
import {
  type BatchSource,
  type ColumnBatch,
  errors,
  FerryError,
  type ParquetEncodeOptions,
  type TableFlavour,
} from "@ferry/plugin-kit";
import { arrowToBatches, batchesToArrow } from "@ferry/table-arrow";
import * as A from "apache-arrow";
import pl from "nodejs-polars";

export type DataFrame = pl.DataFrame;

export interface PolarsFlavourOptions {
  /**
   * Use polars' native parquet writer/reader for unpartitioned `write()` and `fetch()` (default true).
   * The files are plain parquet either way; false routes everything through ferry's JS codec.
   */
  nativeParquet?: boolean;
}

const CODECS: Record<string, "uncompressed" | "snappy" | "gzip" | "brotli" | "zstd" | "lz4"> = {
  UNCOMPRESSED: "uncompressed",
  SNAPPY: "snappy",
  GZIP: "gzip",
  BROTLI: "brotli",
  ZSTD: "zstd",
  LZ4_RAW: "lz4",
};

/** nodejs-polars' DataFrame is a factory, not a class, so it is recognised by its methods. */
export function isDataFrame(value: unknown): value is DataFrame {
  if (typeof value !== "object" || value === null) return false;
  const frame = value as Record<string, unknown>;
  return (
    typeof frame.writeIPCStream === "function" &&
    typeof frame.toRecords === "function" &&
    typeof frame.height === "number"
  );
}

function wrap<R>(what: string, run: () => R): R {
  try {
    return run();
  } catch (error) {
    if (FerryError.isInstance(error)) throw error;
    throw errors.invalidInput(`polars could not ${what}: ${(error as Error).message}`, { cause: error });
  }
}

/** A DataFrame as ferry batches, through Arrow IPC. */
export function dataFrameToBatches(frame: DataFrame): BatchSource {
  const ipc = wrap("export the DataFrame as Arrow IPC", () => frame.writeIPCStream());
  return arrowToBatches(A.tableFromIPC(ipc));
}

function arrowToDataFrame(table: A.Table): DataFrame {
  const ipc = A.tableToIPC(table, "stream");
  return wrap("read the Arrow IPC stream", () =>
    pl.readIPCStream(Buffer.from(ipc.buffer, ipc.byteOffset, ipc.byteLength)),
  );
}

export function polars(options: PolarsFlavourOptions = {}): TableFlavour<DataFrame> {
  const native = options.nativeParquet !== false;
  const flavour: TableFlavour<DataFrame> = {
    name: "polars",
    detect: isDataFrame,
    toBatches: (frame) => {
      if (!isDataFrame(frame))
        throw errors.invalidInput("the polars flavour takes a nodejs-polars DataFrame");
      return dataFrameToBatches(frame);
    },
    fromBatches: async (source) => arrowToDataFrame(await batchesToArrow(source)),
    fromBatch: async (batch: ColumnBatch) =>
      arrowToDataFrame(await batchesToArrow({ schema: batch.schema, batches: [batch] })),
  };
  if (!native) return flavour;
  return {
    ...flavour,
    encodeParquet: (frame: DataFrame, { codec }: ParquetEncodeOptions) => {
      const compression = CODECS[codec];
      if (!compression) throw errors.unsupported(`polars cannot write parquet with codec ${codec}`);
      const buffer = wrap("write parquet", () => frame.writeParquet({ compression }));
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    },
    decodeParquet: (bytes, { columns }) =>
      wrap("read parquet", () =>
        pl.readParquet(
          Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
          columns ? { columns: [...columns] } : {},
        ),
      ),
    concat: (frames) => (frames.length === 1 ? frames[0]! : pl.concat([...frames], { how: "vertical" })),
  };
}

export default polars;
