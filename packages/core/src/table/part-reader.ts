/**
 * Reading one parquet part through range reads of a storage: the footer (a bounded tail read) and one
 * row group at a time. hyparquet does the decoding; every failure becomes a FerryError naming the file.
 */
import type { AsyncBuffer, FileMetaData, ParquetParsers, SchemaElement } from "hyparquet";
import { parquetMetadataAsync, parquetRead } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { errors, FerryError } from "../errors.ts";
import type { Storage } from "../storage.ts";
import type { PartFile } from "./layout.ts";
import { fromParquetSchema } from "./parquet-schema.ts";
import { verifyingBuffer } from "./row-group-bytes.ts";
import type { Schema } from "./types.ts";
import { decodeColumn } from "./values.ts";

/** Footer reads start with this many bytes from the end (a second read fetches the rest of a bigger footer). */
const FOOTER_FETCH = 64 * 1024;

const utf8 = new TextDecoder();

/** Timestamps stay raw bigints in the file's unit (converted exactly in values.ts); JSON stays text. */
const PARSERS: Partial<ParquetParsers> = {
  timestampFromMilliseconds: (v) => v,
  timestampFromMicroseconds: (v) => v,
  timestampFromNanoseconds: (v) => v,
  jsonFromBytes: (bytes) => bytes && utf8.decode(bytes),
  geometryFromBytes: (bytes) => bytes,
  geographyFromBytes: (bytes) => bytes,
};

type Decompressor = (input: Uint8Array, outputLength: number) => Uint8Array;

/**
 * hyparquet-compressors' codecs, made to accept the zero-byte page a v2 data page holds when all its
 * values are null (the spec says such a page must not be decompressed; hysnappy rejects it).
 */
export const DECOMPRESSORS: Record<string, Decompressor> = Object.fromEntries(
  Object.entries(compressors as Record<string, Decompressor>).map(([codec, decompress]) => [
    codec,
    (input: Uint8Array, outputLength: number) =>
      input.byteLength === 0 && outputLength === 0 ? new Uint8Array(0) : decompress(input, outputLength),
  ]),
);

/** Counts bytes fetched, so callers (and tests) can see what a read cost. */
export interface ReadStats {
  bytesRead: number;
  requests: number;
  /** Bytes of the largest single range read. */
  largestRead: number;
}

/** hyparquet's AsyncBuffer over ranged storage reads. */
export function storageBuffer(
  storage: Storage,
  path: string,
  size: number,
  signal?: AbortSignal,
  stats?: ReadStats,
): AsyncBuffer {
  return {
    byteLength: size,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      const stop = Math.min(end ?? size, size);
      if (stop <= start) return new ArrayBuffer(0);
      // Streamed into one buffer of the known size: no list of chunks joined afterwards (half the peak).
      const out = new Uint8Array(stop - start);
      let filled = 0;
      for await (const chunk of await storage.read(path, {
        range: { offset: start, length: stop - start },
        signal,
      })) {
        const bytes = chunk as Uint8Array;
        if (filled + bytes.byteLength > out.byteLength)
          throw errors.invalidInput(`${path}: the storage returned more bytes than the range asked`);
        out.set(bytes, filled);
        filled += bytes.byteLength;
      }
      if (stats) {
        stats.bytesRead += filled;
        stats.requests++;
        stats.largestRead = Math.max(stats.largestRead, filled);
      }
      return filled === out.byteLength ? out.buffer : out.buffer.slice(0, filled);
    },
  };
}

/** An opened part: its footer, the ferry schema its columns have, and the metadata handed to hyparquet. */
export interface OpenPart {
  part: PartFile;
  file: AsyncBuffer;
  metadata: FileMetaData;
  fileSchema: Schema;
  /** Row count of each row group. */
  rowGroups: number[];
  numRows: number;
  /** Metadata with DECIMAL annotations removed, so hyparquet hands over raw unscaled values (no float rounding). */
  readMetadata: FileMetaData;
}

export function describeFailure(error: unknown, where: string): FerryError {
  if (FerryError.isInstance(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/Cannot create a string longer/.test(message)) {
    return errors.unsupported(`${where}: a value is larger than a JavaScript string can hold (${message})`, {
      cause: error,
    });
  }
  if (error instanceof RangeError || /out of memory|allocation|invalid array length/i.test(message)) {
    return errors.invalidInput(`${where}: not a readable parquet file (corrupt sizes: ${message})`, {
      cause: error,
    });
  }
  if (/unsupported compression codec|not supported|no compressor/i.test(message)) {
    return errors.unsupported(`${where}: ${message}`, { cause: error });
  }
  return errors.invalidInput(`${where}: not a readable parquet file (${message})`, { cause: error });
}

/**
 * Read the file's tail once (it holds the footer of most files), check the magic, and hand hyparquet
 * a buffer that serves the footer from that read instead of fetching it again.
 */
async function readTail(file: AsyncBuffer, where: string): Promise<AsyncBuffer> {
  if (file.byteLength < 12)
    throw errors.invalidInput(`${where}: not a parquet file (only ${file.byteLength} bytes)`);
  const tailStart = Math.max(0, file.byteLength - FOOTER_FETCH);
  const tail = new Uint8Array(await file.slice(tailStart, file.byteLength));
  const magic = utf8.decode(tail.subarray(tail.byteLength - 4));
  if (magic === "PARE") {
    throw errors.unsupported(`${where}: encrypted parquet (Parquet Modular Encryption) is not supported`);
  }
  if (magic !== "PAR1") throw errors.invalidInput(`${where}: not a parquet file (no PAR1 footer)`);
  return {
    byteLength: file.byteLength,
    slice(start: number, end?: number) {
      const stop = end ?? file.byteLength;
      if (start < tailStart || stop > file.byteLength) return file.slice(start, end);
      return tail.slice(start - tailStart, stop - tailStart).buffer as ArrayBuffer;
    },
  };
}

function checkMetadata(metadata: FileMetaData, where: string): void {
  let total = 0n;
  for (const group of metadata.row_groups) {
    for (const column of group.columns) {
      if (column.crypto_metadata || column.encrypted_column_metadata) {
        throw errors.unsupported(
          `${where}: encrypted parquet columns (Parquet Modular Encryption) are not supported`,
        );
      }
      if (column.file_path) {
        throw errors.unsupported(
          `${where}: column chunks stored in another file (${column.file_path}) are not supported`,
        );
      }
    }
    if (group.num_rows < 0n)
      throw errors.invalidInput(`${where}: not a readable parquet file (negative row count)`);
    total += group.num_rows;
  }
  if (total > BigInt(Number.MAX_SAFE_INTEGER))
    throw errors.invalidInput(`${where}: not a readable parquet file (row count overflow)`);
}

function stripDecimal(element: SchemaElement): SchemaElement {
  if (element.converted_type !== "DECIMAL" && element.logical_type?.type !== "DECIMAL") return element;
  const { converted_type: _converted, logical_type: _logical, ...rest } = element;
  return rest;
}

export async function openPart(
  storage: Storage,
  part: PartFile,
  where: string,
  signal?: AbortSignal,
  stats?: ReadStats,
): Promise<OpenPart> {
  const file = storageBuffer(storage, part.path, part.size, signal, stats);
  try {
    const footer = await readTail(file, where);
    const metadata = await parquetMetadataAsync(footer, { parsers: PARSERS, initialFetchSize: FOOTER_FETCH });
    checkMetadata(metadata, where);
    const fileSchema = fromParquetSchema(metadata, where);
    const rowGroups = metadata.row_groups.map((group) => Number(group.num_rows));
    return {
      part,
      file,
      metadata,
      fileSchema,
      rowGroups,
      numRows: rowGroups.reduce((a, b) => a + b, 0),
      readMetadata: { ...metadata, schema: metadata.schema.map(stripDecimal) },
    };
  } catch (error) {
    throw describeFailure(error, where);
  }
}

/** Decoded values of `columns` for one row group, each array exactly the group's row count. */
export async function readRowGroup(
  open: OpenPart,
  groupIndex: number,
  columns: readonly string[],
  where: string,
): Promise<Record<string, unknown[]>> {
  const rowStart = open.rowGroups.slice(0, groupIndex).reduce((a, b) => a + b, 0);
  const groupRows = open.rowGroups[groupIndex] ?? 0;
  const rowEnd = rowStart + groupRows;
  const out: Record<string, unknown[]> = {};
  if (columns.length === 0 || groupRows === 0) {
    for (const name of columns) out[name] = [];
    return out;
  }
  const chunks = new Map<string, { rowStart: number; data: ArrayLike<unknown> }[]>();
  try {
    await parquetRead({
      file: verifyingBuffer(open.file, open.metadata, groupIndex, columns, where),
      metadata: open.readMetadata,
      columns: [...columns],
      rowStart,
      rowEnd,
      utf8: false,
      parsers: PARSERS,
      compressors: DECOMPRESSORS,
      onChunk: ({ columnName, columnData, rowStart: chunkStart }) => {
        let list = chunks.get(columnName);
        if (!list) {
          list = [];
          chunks.set(columnName, list);
        }
        list.push({ rowStart: chunkStart, data: columnData as ArrayLike<unknown> });
      },
    });
    for (const name of columns) {
      const field = open.fileSchema.fields.find((f) => f.name === name)!;
      const list = (chunks.get(name) ?? []).sort((a, b) => a.rowStart - b.rowStart);
      let values: unknown[] = [];
      for (const chunk of list) {
        // A chunk may start before or run past the group (page granularity): keep only this group's rows.
        const from = Math.max(rowStart - chunk.rowStart, 0);
        const to = Math.min(rowEnd - chunk.rowStart, chunk.data.length);
        if (to <= from) continue;
        const decoded = decodeColumn(field.type, chunk.data, from, to);
        if (values.length === 0) values = decoded;
        else for (const value of decoded) values.push(value);
      }
      if (values.length !== groupRows) {
        throw errors.invalidInput(
          `${where}: not a readable parquet file (column "${name}" has ${values.length} values in row group ${groupIndex}, the footer says ${groupRows})`,
        );
      }
      out[name] = values;
    }
    return out;
  } catch (error) {
    throw describeFailure(error, where);
  }
}
