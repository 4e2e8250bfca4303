/**
 * Reading one parquet part through range reads of a storage: the footer (a bounded tail read) and one
 * row group at a time. hyparquet does the decoding; every failure becomes a FerryError naming the file.
 */
import { type FileHandle, open } from "node:fs/promises";
import * as zlib from "node:zlib";
import type { Schema, Storage } from "@ferry/plugin-kit";
import { errors, FerryError } from "@ferry/plugin-kit";
import type { AsyncBuffer, FileMetaData, ParquetParsers, SchemaElement } from "hyparquet";
import { parquetMetadata, parquetRead } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { type DecimalStatistics, decimalStatistics } from "./decimal-stats.ts";
import type { PartFile } from "./layout.ts";
import { fromParquetSchema } from "./parquet-schema.ts";
import { verifyingBuffer } from "./row-group-bytes.ts";
import { snappyDecompress } from "./snappy.ts";
import { decodeColumn } from "./values.ts";

/** Footer reads start with this many bytes from the end (a second read fetches the rest of a bigger footer). */
const FOOTER_FETCH = 64 * 1024;

const utf8 = new TextDecoder();

/** Timestamps stay raw bigints in the file's unit (converted exactly in values.ts); JSON stays text. */
export const PARSERS: Partial<ParquetParsers> = {
  timestampFromMilliseconds: (v) => v,
  timestampFromMicroseconds: (v) => v,
  timestampFromNanoseconds: (v) => v,
  jsonFromBytes: (bytes) => bytes && utf8.decode(bytes),
  geometryFromBytes: (bytes) => bytes,
  geographyFromBytes: (bytes) => bytes,
};

/**
 * A codec's decompression of one page. `target`, when given, may receive the bytes (the result is then
 * a view of it, good until the caller's next page); codecs that cannot write into it return their own.
 */
type Decompressor = (input: Uint8Array, outputLength: number, target?: Uint8Array) => Uint8Array;

/** A codec name → its (bounded) decompressor. */
export type Decompressors = Record<string, Decompressor>;

/** A page may decompress to this many times its compressed size (or to EXPANSION_FLOOR, whichever is more). */
export const DEFAULT_MAX_PAGE_EXPANSION = 1000;
/** Pages up to this size are never refused for their expansion (writers' pages are about 1 MiB). */
export const EXPANSION_FLOOR = 64 * 1024 * 1024;

/** A page refused before it is decompressed: `readRowGroup` names its column and row group. */
export class DecompressionLimit extends Error {}

type ZstdDecompress = (input: Uint8Array, options: { maxOutputLength: number }) => Buffer;

/** Node's zstd, looked up at run time: a named import of it fails to load on Node before 22.15. */
function zstdOf(module: object): ((input: Uint8Array, limit: number) => Uint8Array) | undefined {
  const decompress = (module as { zstdDecompressSync?: ZstdDecompress }).zstdDecompressSync;
  return decompress && ((input, limit) => decompress(input, { maxOutputLength: Math.max(limit, 1) }));
}

/**
 * Codecs that honour an output limit as they go (hyparquet-compressors' brotli grows its buffer as the
 * stream says, zstd ignores the length), and ferry's own snappy decoder (snappy.ts).
 */
const NATIVE: Record<string, Decompressor | undefined> = {
  SNAPPY: snappyDecompress,
  BROTLI: (input, limit) => zlib.brotliDecompressSync(input, { maxOutputLength: Math.max(limit, 1) }),
  // zstd joined node:zlib in Node 22.15; on older Nodes (engines allow 22.12) hyparquet's codec is bounded alone.
  ZSTD: zstdOf(zlib),
};

/**
 * hyparquet-compressors' codecs, bounded: a page whose header claims more than `maxExpansion` times
 * its compressed bytes (above EXPANSION_FLOOR) is refused before anything is allocated, and no codec
 * writes past the size the header claims (a decompression bomb costs nothing). They also accept the
 * zero-byte page a v2 data page holds when all its values are null (the spec says such a page must
 * not be decompressed; hysnappy rejects it).
 */
function boundedDecompressors(maxExpansion: number): Record<string, Decompressor> {
  return Object.fromEntries(
    Object.entries(compressors as Record<string, Decompressor>).map(([codec, decompress]) => [
      codec,
      (input: Uint8Array, outputLength: number, target?: Uint8Array) => {
        if (input.byteLength === 0 && outputLength === 0) return new Uint8Array(0);
        if (outputLength > EXPANSION_FLOOR && outputLength > input.byteLength * maxExpansion) {
          throw new DecompressionLimit(
            `a ${codec} page of ${input.byteLength} bytes claims ${outputLength} bytes decompressed, more than maxPageExpansion (${maxExpansion}) times its size`,
          );
        }
        const native = NATIVE[codec];
        let output: Uint8Array;
        try {
          output = native ? native(input, outputLength, target) : decompress(input, outputLength);
        } catch (error) {
          if ((error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE")
            throw new DecompressionLimit(
              `a ${codec} page decompresses to more than the ${outputLength} bytes its header claims`,
            );
          throw error;
        }
        if (output.byteLength > outputLength)
          throw new DecompressionLimit(
            `a ${codec} page decompresses to more than the ${outputLength} bytes its header claims`,
          );
        return output;
      },
    ]),
  );
}

const decompressorsByLimit = new Map<number, Record<string, Decompressor>>();

export function decompressorsFor(maxExpansion: number): Record<string, Decompressor> {
  let found = decompressorsByLimit.get(maxExpansion);
  if (!found) {
    found = boundedDecompressors(maxExpansion);
    decompressorsByLimit.set(maxExpansion, found);
  }
  return found;
}

/** Counts bytes fetched, so callers (and tests) can see what a read cost. */
export interface ReadStats {
  bytesRead: number;
  requests: number;
  /** Bytes of the largest single range read. */
  largestRead: number;
}

/** hyparquet's AsyncBuffer over ranged storage reads, and the same reads into a buffer the caller owns. */
export interface RangeReader extends AsyncBuffer {
  /**
   * The bytes from `start` into `target` (as many as it holds, fewer at the end of the file), streamed
   * straight into it; the number of bytes read.
   */
  readInto(start: number, target: Uint8Array): Promise<number>;
}

/** The file on this machine's disk behind `path`, when the storage names one. */
function localPathOf(storage: Storage, path: string): string | undefined {
  if (!storage.capabilities.localPaths) return undefined;
  try {
    return storage.localPath(path);
  } catch {
    return undefined; // a driver that declares the capability but cannot name this file: read as any other
  }
}

/**
 * A local file's bytes read straight into `target` (no stream of 64 KiB chunks to copy and collect):
 * the number read, or 0 when the file cannot be read this way (then the storage's own read runs, and
 * reports the failure in its words).
 */
async function readLocal(
  file: string,
  start: number,
  target: Uint8Array,
  signal: AbortSignal | undefined,
): Promise<number> {
  signal?.throwIfAborted();
  let handle: FileHandle | undefined;
  try {
    handle = await open(file, "r");
    let filled = 0;
    while (filled < target.byteLength) {
      const { bytesRead } = await handle.read(target, filled, target.byteLength - filled, start + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return filled === target.byteLength ? filled : 0;
  } catch {
    return 0;
  } finally {
    await handle?.close();
  }
}

export function storageBuffer(
  storage: Storage,
  path: string,
  size: number,
  signal?: AbortSignal,
  stats?: ReadStats,
): RangeReader {
  const local = localPathOf(storage, path);
  const readInto = async (start: number, target: Uint8Array): Promise<number> => {
    const length = Math.min(target.byteLength, size - start);
    if (length <= 0) return 0;
    let filled = (local && (await readLocal(local, start, target.subarray(0, length), signal))) || 0;
    if (filled === 0) {
      for await (const chunk of await storage.read(path, { range: { offset: start, length }, signal })) {
        const bytes = chunk as Uint8Array;
        if (filled + bytes.byteLength > length)
          throw errors.invalidInput(`${path}: the storage returned more bytes than the range asked`);
        target.set(bytes, filled);
        filled += bytes.byteLength;
      }
    }
    if (stats) {
      stats.bytesRead += filled;
      stats.requests++;
      stats.largestRead = Math.max(stats.largestRead, filled);
    }
    return filled;
  };
  return {
    byteLength: size,
    readInto,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      const stop = Math.min(end ?? size, size);
      if (stop <= start) return new ArrayBuffer(0);
      // Streamed into one buffer of the known size: no list of chunks joined afterwards (half the peak).
      const out = new Uint8Array(stop - start);
      const filled = await readInto(start, out);
      return filled === out.byteLength ? out.buffer : out.buffer.slice(0, filled);
    },
  };
}

/** An opened part: its footer, the ferry schema its columns have, and the metadata handed to hyparquet. */
export interface OpenPart {
  part: PartFile;
  file: RangeReader;
  metadata: FileMetaData;
  fileSchema: Schema;
  /** Row count of each row group. */
  rowGroups: number[];
  numRows: number;
  /** The metadata as hyparquet reads it: raw values for the types ferry decodes itself (see rawElement). */
  readMetadata: FileMetaData;
  /** The statistics of decimal columns as stored (hyparquet rounds them through floats). */
  decimalStatistics: DecimalStatistics;
}

/**
 * JavaScript's own errors (a TypeError from a corrupt offset, "Cannot mix BigInt…") say nothing to a
 * user: they become "its data is corrupt", the original kept as the cause. hyparquet's own messages
 * name the parquet problem and are kept.
 */
function corruptionOf(error: unknown, part: string): string {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof TypeError || error instanceof RangeError || error instanceof SyntaxError)
    return `its ${part} is corrupt`;
  return /^parquet|invalid|unsupported|unknown|expected|too large/i.test(message)
    ? message
    : `its ${part} is corrupt`;
}

/** `part`: what was being read when it failed ("footer" or "data"), for errors that say nothing themselves. */
export function describeFailure(error: unknown, where: string, part = "data"): FerryError {
  if (FerryError.isInstance(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/Cannot create a string longer/.test(message)) {
    return errors.unsupported(`${where}: a value is larger than a JavaScript string can hold (${message})`, {
      cause: error,
    });
  }
  if (/unsupported compression codec|not supported|no compressor/i.test(message)) {
    return errors.unsupported(`${where}: ${message}`, { cause: error });
  }
  return errors.invalidInput(`${where}: not a readable parquet file (${corruptionOf(error, part)})`, {
    cause: error,
  });
}

/** A failure decoding `column` of row group `groupIndex`, in one line naming all three. */
export function describeColumnFailure(
  error: unknown,
  where: string,
  column: string,
  groupIndex: number,
): FerryError {
  const place = `column ${JSON.stringify(column)}, row group ${groupIndex}`;
  if (FerryError.isInstance(error)) {
    if (/column ".*", row group \d+/.test(error.message)) return error;
    return new FerryError(error.code, `${error.message.replace(`${where}: `, `${where}: ${place}: `)}`, {
      cause: error,
    });
  }
  if (error instanceof DecompressionLimit) {
    return errors.invalidInput(
      `${where}: ${place}: refused, ${error.message} (a decompression bomb? raise the table option maxPageExpansion to read it)`,
      { cause: error },
    );
  }
  const described = describeFailure(error, where);
  return new FerryError(described.code, described.message.replace(`${where}: `, `${where}: ${place}: `), {
    cause: error,
  });
}

/**
 * The footer's bytes (its thrift metadata, their length and the magic): one read of the file's tail,
 * which holds the footer of most files, and for a bigger footer one read of the rest.
 */
async function readFooter(file: AsyncBuffer, where: string): Promise<Uint8Array> {
  if (file.byteLength < 12)
    throw errors.invalidInput(`${where}: not a parquet file (only ${file.byteLength} bytes)`);
  const tailStart = Math.max(0, file.byteLength - FOOTER_FETCH);
  const tail = new Uint8Array(await file.slice(tailStart, file.byteLength));
  const magic = utf8.decode(tail.subarray(tail.byteLength - 4));
  if (magic === "PARE") {
    throw errors.unsupported(`${where}: encrypted parquet (Parquet Modular Encryption) is not supported`);
  }
  if (magic !== "PAR1") throw errors.invalidInput(`${where}: not a parquet file (no PAR1 footer)`);
  const length = new DataView(tail.buffer, tail.byteOffset, tail.byteLength).getUint32(
    tail.byteLength - 8,
    true,
  );
  if (length > file.byteLength - 8)
    throw new Error(`parquet metadata length ${length} exceeds available buffer ${file.byteLength - 8}`);
  const start = file.byteLength - 8 - length;
  if (start >= tailStart) return tail.subarray(start - tailStart);
  const footer = new Uint8Array(length + 8);
  footer.set(new Uint8Array(await file.slice(start, tailStart)));
  footer.set(tail, tailStart - start);
  return footer;
}

/** A footer number that must be a count or an offset: a whole number, 0 or more. */
function isCount(value: number | bigint | undefined): boolean {
  return (
    (typeof value === "bigint" && value >= 0n) ||
    (typeof value === "number" && Number.isSafeInteger(value) && value >= 0)
  );
}

/** Paths of the schema's leaf columns, as column chunks name them. */
function leafPaths(metadata: FileMetaData): Set<string> {
  const leaves = new Set<string>();
  let index = 1;
  const walk = (prefix: readonly string[], children: number): void => {
    for (let i = 0; i < children && index < metadata.schema.length; i++) {
      const element = metadata.schema[index++]!;
      const path = [...prefix, element.name];
      if (element.num_children) walk(path, element.num_children);
      else leaves.add(path.join("\u0000"));
    }
  };
  walk([], metadata.schema[0]?.num_children ?? 0);
  return leaves;
}

function checkMetadata(metadata: FileMetaData, where: string, fileSize: number): void {
  let total = 0n;
  const leaves = leafPaths(metadata);
  for (const group of metadata.row_groups) {
    for (const column of group.columns) {
      const meta = column.meta_data;
      // A chunk the footer places outside the file (or nowhere) is a corrupt footer, refused before any read.
      const start = meta ? Number(meta.dictionary_page_offset || meta.data_page_offset) : Number.NaN;
      if (
        !meta ||
        !isCount(meta.data_page_offset) ||
        (meta.dictionary_page_offset !== undefined && !isCount(meta.dictionary_page_offset)) ||
        !isCount(meta.total_compressed_size) ||
        !isCount(meta.total_uncompressed_size) ||
        !isCount(meta.num_values) ||
        start + Number(meta.total_compressed_size) > fileSize ||
        !leaves.has(meta.path_in_schema.join("\u0000"))
      ) {
        throw errors.invalidInput(
          `${where}: not a readable parquet file (the footer's column chunk ${JSON.stringify(meta?.path_in_schema?.join(".") ?? "?")} is not in its schema or lies outside the file)`,
        );
      }
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
    if (!isCount(group.num_rows))
      throw errors.invalidInput(`${where}: not a readable parquet file (negative row count)`);
    total += group.num_rows;
  }
  if (total > BigInt(Number.MAX_SAFE_INTEGER))
    throw errors.invalidInput(`${where}: not a readable parquet file (row count overflow)`);
}

/** Annotations whose values ferry decodes itself from the raw values (values.ts). */
const RAW_ANNOTATIONS = new Set(["DECIMAL", "INTERVAL", "BSON"]);

/**
 * The schema element as hyparquet should read it: DECIMAL, INTERVAL and BSON as their raw values
 * (hyparquet rounds decimals through floats and refuses the other two), INT96 as its 12 raw bytes
 * (hyparquet's own INT96 parsing loses the day when the time of day is negative).
 */
function rawElement(element: SchemaElement): SchemaElement {
  let out = element;
  if (
    RAW_ANNOTATIONS.has(element.converted_type ?? "") ||
    RAW_ANNOTATIONS.has(element.logical_type?.type ?? "")
  ) {
    const { converted_type: _converted, logical_type: _logical, ...rest } = element;
    out = rest;
  }
  if (out.type === "INT96") out = { ...out, type: "FIXED_LEN_BYTE_ARRAY", type_length: 12 };
  return out;
}

function rawMetadata(metadata: FileMetaData): FileMetaData {
  const int96 = metadata.schema.some((element) => element.type === "INT96");
  return {
    ...metadata,
    schema: metadata.schema.map(rawElement),
    row_groups: !int96
      ? metadata.row_groups
      : metadata.row_groups.map((group) => ({
          ...group,
          columns: group.columns.map((chunk) =>
            chunk.meta_data?.type === "INT96"
              ? { ...chunk, meta_data: { ...chunk.meta_data, type: "FIXED_LEN_BYTE_ARRAY" as const } }
              : chunk,
          ),
        })),
  };
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
    const footer = await readFooter(file, where);
    const metadata = parquetMetadata(footer, { parsers: PARSERS });
    checkMetadata(metadata, where, part.size);
    const fileSchema = fromParquetSchema(metadata, where);
    const rowGroups = metadata.row_groups.map((group) => Number(group.num_rows));
    return {
      part,
      file,
      metadata,
      fileSchema,
      rowGroups,
      numRows: rowGroups.reduce((a, b) => a + b, 0),
      readMetadata: rawMetadata(metadata),
      decimalStatistics: decimalStatistics(metadata, footer.subarray(0, footer.byteLength - 8)),
    };
  } catch (error) {
    throw describeFailure(error, where, "footer");
  }
}

/** Decoded values of `columns` for one row group, each array exactly the group's row count. */
export async function readRowGroup(
  open: OpenPart,
  groupIndex: number,
  columns: readonly string[],
  where: string,
  maxPageExpansion = DEFAULT_MAX_PAGE_EXPANSION,
): Promise<Record<string, unknown[]>> {
  try {
    return await decodeRowGroup(open, groupIndex, columns, where, maxPageExpansion);
  } catch (error) {
    // Storage failures (Transient, Aborted, …) and ferry's own page checks already say what they are.
    if (FerryError.isInstance(error)) throw error;
    // Which column failed: each is decoded alone (only on this failure path) until one fails.
    let culprit = columns.length === 1 ? columns[0] : undefined;
    let culpritError = error;
    for (const name of culprit === undefined ? columns : []) {
      const alone = await decodeRowGroup(open, groupIndex, [name], where, maxPageExpansion).then(
        () => undefined,
        (e: unknown) => e ?? new Error("failed"),
      );
      if (alone !== undefined) {
        culprit = name;
        culpritError = alone;
        break;
      }
    }
    if (culprit === undefined) throw describeFailure(error, where);
    throw describeColumnFailure(culpritError, where, culprit, groupIndex);
  }
}

async function decodeRowGroup(
  open: OpenPart,
  groupIndex: number,
  columns: readonly string[],
  where: string,
  maxPageExpansion: number,
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
  await parquetRead({
    file: verifyingBuffer(open.file, open.metadata, groupIndex, columns, where),
    metadata: open.readMetadata,
    columns: [...columns],
    rowStart,
    rowEnd,
    utf8: false,
    parsers: PARSERS,
    compressors: decompressorsFor(maxPageExpansion),
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
      const decoded = decodeColumn(field, chunk.data, from, to);
      if (values.length === 0) values = decoded;
      else for (const value of decoded) values.push(value);
    }
    if (values.length !== groupRows) {
      throw errors.invalidInput(
        `${where}: column ${JSON.stringify(name)}, row group ${groupIndex}: not a readable parquet file (${values.length} values, the footer says ${groupRows})`,
      );
    }
    out[name] = values;
  }
  return out;
}
