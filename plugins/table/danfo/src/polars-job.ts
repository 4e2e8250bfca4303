/**
 * A frame's columns as Arrow buffers, encoded to parquet by polars (nodejs-polars): each column's
 * buffers become an Arrow IPC stream that polars reads natively, so no JS value crosses into polars
 * one at a time. Runs on the danfo flavour's polars thread (polars-thread.ts) column by column as the
 * calling thread fills them, or, without one, on the calling thread.
 */
import type { TimeUnit } from "@ferry/plugin-kit";

/** A column's type as polars writes it exactly (polars-thread.ts's jobType decides which). */
export type JobType =
  | { type: "int"; bits: 8 | 16 | 32 | 64; signed: boolean }
  | { type: "float"; bits: 32 | 64 }
  | { type: "string" }
  | { type: "bool" }
  | { type: "date" }
  /** Held as epoch milliseconds; polars converts to `unit`. */
  | { type: "timestamp"; unit: Exclude<TimeUnit, "s">; timezone: string | undefined };

export interface JobColumn {
  name: string;
  type: JobType;
  nullCount: number;
  /** Arrow's validity bitmap (bit set: a value), present when nullCount > 0. */
  validity: Uint8Array | undefined;
  /** Fixed-width values, or a boolean column's packed bits. */
  values?: ArrayBufferView;
  /** A string column's UTF-8 bytes behind their offsets. */
  offsets?: Int32Array;
  data?: Uint8Array;
}

export interface PolarsJob {
  rows: number;
  compression: "uncompressed" | "snappy" | "gzip" | "brotli" | "zstd" | "lz4";
  columns: JobColumn[];
}

type Arrow = typeof import("apache-arrow");
type Polars = typeof import("nodejs-polars");

let loading: Promise<[Arrow, Polars]> | undefined;

function load(): Promise<[Arrow, Polars]> {
  const modules = async (): Promise<[Arrow, Polars]> => {
    const [arrow, polars] = await Promise.all([import("apache-arrow"), import("nodejs-polars")]);
    return [arrow, ((polars as { default?: Polars }).default ?? polars) as Polars];
  };
  loading ??= modules().catch((error: unknown) => {
    loading = undefined;
    throw error;
  });
  return loading;
}

function arrowType(A: Arrow, type: JobType): import("apache-arrow").DataType {
  switch (type.type) {
    case "int": {
      const kinds = {
        8: [A.Int8, A.Uint8],
        16: [A.Int16, A.Uint16],
        32: [A.Int32, A.Uint32],
        64: [A.Int64, A.Uint64],
      } as const;
      return new kinds[type.bits][type.signed ? 0 : 1]();
    }
    case "float":
      return type.bits === 32 ? new A.Float32() : new A.Float64();
    case "string":
      return new A.Utf8();
    case "bool":
      return new A.Bool();
    case "date":
      return new A.DateDay();
    case "timestamp":
      return new A.TimestampMillisecond(type.timezone ?? null);
  }
}

type Series = import("nodejs-polars").Series;

/**
 * One column as a polars Series: its buffers framed as a one-column Arrow IPC stream that polars reads
 * natively (a copy into polars' memory; the buffers can be reused once this returns).
 */
export async function columnSeries(rows: number, column: JobColumn): Promise<Series> {
  const [A, pl] = await load();
  const data = A.makeData({
    type: arrowType(A, column.type),
    length: rows,
    nullCount: column.nullCount,
    nullBitmap: column.validity,
    ...(column.offsets ? { valueOffsets: column.offsets, data: column.data } : { data: column.values }),
  } as Parameters<typeof A.makeData>[0]);
  const ipc = A.tableToIPC(new A.Table({ [column.name]: A.makeVector(data) }), "stream");
  const frame = pl.readIPCStream(Buffer.from(ipc.buffer, ipc.byteOffset, ipc.byteLength));
  return frame.getColumn(column.name);
}

/** The columns' Series (in order) encoded by polars' parquet writer. Throws what polars throws. */
export async function encodeSeries(
  series: readonly Series[],
  columns: readonly Pick<JobColumn, "name" | "type">[],
  compression: PolarsJob["compression"],
): Promise<Uint8Array> {
  const [, pl] = await load();
  let frame = pl.DataFrame([...series]);
  // Milliseconds in, the column's own unit out: polars scales in integers (a float product would round ns).
  const casts = columns.flatMap(({ name, type }) =>
    type.type === "timestamp" && type.unit !== "ms"
      ? [pl.col(name).cast(pl.Datetime(type.unit, type.timezone))]
      : [],
  );
  if (casts.length > 0) frame = frame.withColumns(...casts);
  const written = frame.writeParquet({ compression });
  // A copy of its own: the answer crosses threads by transfer, which polars' buffer may not allow.
  return new Uint8Array(written);
}

/** A whole job encoded here, column after column. */
export async function encodeJob(job: PolarsJob): Promise<Uint8Array> {
  const series: Series[] = [];
  for (const column of job.columns) series.push(await columnSeries(job.rows, column));
  return encodeSeries(series, job.columns, job.compression);
}
