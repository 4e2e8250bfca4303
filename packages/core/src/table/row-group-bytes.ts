/**
 * The bytes of one row group's column chunks, fetched by ferry (a few coalesced range reads) and
 * checked against the page CRCs the writer recorded before anything is decoded: a corrupted page
 * raises Integrity instead of yielding wrong rows. hyparquet then decodes from these bytes.
 */
import { crc32 } from "node:zlib";
import type { AsyncBuffer, ColumnChunk, FileMetaData } from "hyparquet";
import { parquetHeader } from "hyparquet/src/column.js";
import { errors } from "../errors.ts";

/** Column chunks closer than this are fetched in one read (the gap is read and dropped). */
const COALESCE_GAP = 64 * 1024;

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
function verifyPages(bytes: Uint8Array, chunkUncompressed: number, column: string, where: string): void {
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
        `${where}: not a readable parquet file (page ${page} of column "${column}" claims ${claimed} bytes, more than its column chunk)`,
      );
    }
    const size = header.compressed_page_size;
    if (size < 0 || reader.offset + size > bytes.byteLength) return;
    if (header.crc !== undefined) {
      const actual = crc32(bytes.subarray(reader.offset, reader.offset + size)) | 0;
      if (actual !== header.crc) {
        throw errors.integrity(
          `${where}: page ${page} of column "${column}" fails its CRC check (the file is corrupt)`,
        );
      }
    }
    reader.offset += size;
    page++;
  }
}

/**
 * Fetch the selected columns' chunks of one row group, verify their page CRCs, and serve them to
 * hyparquet; anything else it asks for falls through to the file.
 */
export async function fetchRowGroup(
  file: AsyncBuffer,
  metadata: FileMetaData,
  groupIndex: number,
  columns: readonly string[],
  where: string,
): Promise<AsyncBuffer> {
  const group = metadata.row_groups[groupIndex];
  if (!group) return file;
  const chunks = group.columns
    .filter((chunk) => chunk.meta_data && columns.includes(chunk.meta_data.path_in_schema[0]!))
    .map((chunk) => ({ chunk, range: chunkRange(chunk)! }))
    .filter(({ range }) => range.start >= 0 && range.end <= file.byteLength && range.end >= range.start)
    .sort((a, b) => a.range.start - b.range.start);
  const merged: ByteRange[] = [];
  for (const { range } of chunks) {
    const last = merged.at(-1);
    if (last && range.start <= last.end + COALESCE_GAP) last.end = Math.max(last.end, range.end);
    else merged.push({ ...range });
  }
  const fetched = await Promise.all(
    merged.map(async (range) => ({
      ...range,
      bytes: new Uint8Array(await file.slice(range.start, range.end)),
    })),
  );
  for (const { chunk, range } of chunks) {
    const holder = fetched.find((f) => f.start <= range.start && range.end <= f.end)!;
    verifyPages(
      holder.bytes.subarray(range.start - holder.start, range.end - holder.start),
      Number(chunk.meta_data!.total_uncompressed_size),
      chunk.meta_data!.path_in_schema.join("."),
      where,
    );
  }
  return {
    byteLength: file.byteLength,
    slice(start: number, end?: number) {
      const stop = end ?? file.byteLength;
      const holder = fetched.find((f) => f.start <= start && stop <= f.end);
      if (!holder) return file.slice(start, end);
      const { bytes } = holder;
      if (
        start === holder.start &&
        stop === holder.end &&
        bytes.byteOffset === 0 &&
        bytes.byteLength === bytes.buffer.byteLength
      ) {
        return bytes.buffer as ArrayBuffer;
      }
      return bytes.slice(start - holder.start, stop - holder.start).buffer as ArrayBuffer;
    },
  };
}
