/**
 * Checks on one row group's column chunks as they are fetched, before anything is decoded: page CRCs
 * the writer recorded (a corrupt page raises Integrity instead of yielding wrong rows) and page sizes
 * (a corrupt header must not make the decoder allocate whatever it claims).
 */
import { crc32 } from "node:zlib";
import { errors } from "@ferry/plugin-kit";
import type { AsyncBuffer, ColumnChunk, FileMetaData } from "hyparquet";
import { parquetHeader } from "hyparquet/src/column.js";

interface ByteRange {
  start: number;
  end: number;
}

function chunkRange(chunk: ColumnChunk): ByteRange | undefined {
  const meta = chunk.meta_data;
  if (!meta) return undefined;
  // As hyparquet plans it: a dictionary page, when present, comes first.
  const start = Number(meta.dictionary_page_offset || meta.data_page_offset);
  return { start, end: start + Number(meta.total_compressed_size) };
}

/** Page sizes above this must fit the chunk's declared uncompressed size (a guard against corrupt headers). */
const TRUSTED_PAGE_SIZE = 16 * 1024 * 1024;

/**
 * Walk a column chunk's pages: compare each recorded CRC with the bytes, and refuse a page header
 * claiming more uncompressed bytes than the whole chunk declares (it would make the decoder allocate
 * whatever a corrupt header says).
 */
export function verifyPages(
  bytes: Uint8Array,
  chunk: ColumnChunk,
  column: string,
  where: string,
  groupIndex: number,
): void {
  const chunkUncompressed = Number(chunk.meta_data!.total_uncompressed_size);
  const chunkValues = Number(chunk.meta_data!.num_values);
  const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 };
  let page = 0;
  while (reader.offset < bytes.byteLength) {
    let header: ReturnType<typeof parquetHeader>;
    try {
      header = parquetHeader(reader);
    } catch {
      return; // unparseable headers are reported by the decoder with its own message
    }
    const claimed = Number(header.uncompressed_page_size);
    if (claimed < 0 || (claimed > TRUSTED_PAGE_SIZE && claimed > chunkUncompressed)) {
      throw errors.invalidInput(
        `${where}: column ${JSON.stringify(column)}, row group ${groupIndex}: not a readable parquet file (page ${page} claims ${claimed} bytes, more than its column chunk)`,
      );
    }
    // The decoder allocates a page's values up front: a count the chunk cannot hold is a corrupt header.
    const values =
      header.data_page_header?.num_values ??
      header.data_page_header_v2?.num_values ??
      header.dictionary_page_header?.num_values;
    const limit = header.dictionary_page_header ? Math.max(claimed, 1) : chunkValues;
    const v2 = header.data_page_header_v2;
    // Fields thrift requires of a v2 header: without them the decoder's offsets become NaN and never end.
    const levels = v2 ? [v2.definition_levels_byte_length, v2.repetition_levels_byte_length] : [];
    if (
      levels.some((length) => !Number.isInteger(length) || length! < 0) ||
      (v2 && levels[0]! + levels[1]! > claimed)
    ) {
      throw errors.invalidInput(
        `${where}: column ${JSON.stringify(column)}, row group ${groupIndex}: not a readable parquet file (page ${page} has a corrupt v2 header)`,
      );
    }
    if (values !== undefined && (!Number.isInteger(values) || values < 0 || values > limit)) {
      throw errors.invalidInput(
        `${where}: column ${JSON.stringify(column)}, row group ${groupIndex}: not a readable parquet file (page ${page} claims ${values} values, more than its column chunk holds)`,
      );
    }
    const size = header.compressed_page_size;
    if (size < 0 || reader.offset + size > bytes.byteLength) return;
    if (header.crc !== undefined) {
      const actual = crc32(bytes.subarray(reader.offset, reader.offset + size)) | 0;
      if (actual !== header.crc) {
        throw errors.integrity(
          `${where}: column ${JSON.stringify(column)}, row group ${groupIndex}: page ${page} fails its CRC check (the file is corrupt)`,
        );
      }
    }
    reader.offset += size;
    page++;
  }
}

/**
 * The check of one row group's fetched bytes: `bytes` read from file offset `start` are checked against
 * the page CRCs and sizes of every selected column chunk they hold whole, before anything decodes them.
 */
export function chunkVerifier(
  fileLength: number,
  metadata: FileMetaData,
  groupIndex: number,
  columns: readonly string[],
  where: string,
): (bytes: Uint8Array, start: number) => void {
  const group = metadata.row_groups[groupIndex];
  const chunks = (group?.columns ?? [])
    .filter((chunk) => chunk.meta_data && columns.includes(chunk.meta_data.path_in_schema[0]!))
    .map((chunk) => ({ chunk, range: chunkRange(chunk)! }))
    .filter(({ range }) => range.start >= 0 && range.end <= fileLength && range.end >= range.start);
  return (bytes, start) => {
    const stop = start + bytes.byteLength;
    for (const { chunk, range } of chunks) {
      if (range.start < start || range.end > stop) continue;
      verifyPages(
        bytes.subarray(range.start - start, range.end - start),
        chunk,
        chunk.meta_data!.path_in_schema.join("."),
        where,
        groupIndex,
      );
    }
  };
}

/**
 * A view of the file for reading one row group: every range hyparquet fetches is checked, before it
 * is handed over for decoding, against the page CRCs and sizes of the column chunks it contains.
 * The reads are exactly those hyparquet plans (no extra copy of the row group).
 */
export function verifyingBuffer(
  file: AsyncBuffer,
  metadata: FileMetaData,
  groupIndex: number,
  columns: readonly string[],
  where: string,
): AsyncBuffer {
  const verify = chunkVerifier(file.byteLength, metadata, groupIndex, columns, where);
  const verified = async (start: number, end?: number) => {
    const buffer = await file.slice(start, end);
    verify(new Uint8Array(buffer), start);
    return buffer;
  };
  return {
    byteLength: file.byteLength,
    slice(start: number, end?: number) {
      const pending = verified(start, end);
      // hyparquet starts every range of a row group at once and stops awaiting them at the first
      // failure: the others' failures are not lost (they are reported where awaited), only not unhandled.
      pending.catch(() => undefined);
      return pending;
    },
  };
}
