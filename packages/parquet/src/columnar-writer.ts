/**
 * Columnar writing: a parquet file encoded straight from column buffers (typed arrays, offsets and
 * bytes, validity bitmaps — Arrow's layout, see columnar.ts) into data pages, without a JS value per
 * row: text and binary dictionary-encoded where that pays (columnar-dictionary.ts), the rest plain.
 * Covers flat columns of the types the columnar reader decodes (ints, floats, float16, bool, date,
 * timestamp ms/us/ns, string, binary); `columnarWritable` says whether a schema qualifies.
 */

import type { DataType, Field, Schema } from "@ferry/plugin-kit";
import { errors } from "@ferry/plugin-kit";
import type { Encoding, OffsetIndex, PageHeader, SchemaElement } from "hyparquet";
import { ByteWriter, ParquetWriter } from "hyparquet-writer";
import { writePageHeader } from "hyparquet-writer/src/datapage.js";
import { writeRleBitPackedHybrid } from "hyparquet-writer/src/encoding.js";
import type { PageColumnIndex } from "hyparquet-writer/src/types.js";
import { unconvertMinMax } from "hyparquet-writer/src/unconvert.js";
import { buffersOf, offThreadFor, runOffThread, shareHere } from "./codec-threads.ts";
import type { ColumnarGroup, ColumnVector, FixedArray } from "./columnar.ts";
import {
  type Dictionary,
  dictionaryOf,
  dictionaryOrder,
  dictionaryPage,
  pageEntries,
} from "./columnar-dictionary.ts";
import { SCHEMA_METADATA_KEY, schemaToJson, toParquetSchema } from "./parquet-schema.ts";
import { type Codec, writeCompressors } from "./part-writer.ts";
import { positiveInteger } from "./writer.ts";

type Compress = (input: Uint8Array) => Uint8Array;
type BytesColumn = ColumnVector & { kind: "bytes" };
type Physical = "BOOLEAN" | "INT32" | "INT64" | "FLOAT" | "DOUBLE" | "BYTE_ARRAY" | "FIXED_LEN_BYTE_ARRAY";

/** The physical type a ferry type is written as (as toParquetSchema spells it), or undefined when not columnar. */
function physicalOf(type: DataType): Physical | undefined {
  switch (type.type) {
    case "bool":
      return "BOOLEAN";
    case "int":
      return type.bits === 64 ? "INT64" : "INT32";
    case "float":
      return type.bits === 16 ? "FIXED_LEN_BYTE_ARRAY" : type.bits === 32 ? "FLOAT" : "DOUBLE";
    case "date":
      return "INT32";
    case "timestamp":
      // Seconds are stored as milliseconds: a conversion the value path does.
      return type.unit === "s" ? undefined : "INT64";
    case "string":
    case "binary":
      return "BYTE_ARRAY";
    default:
      return undefined;
  }
}

/** Whether every column of `schema` can be written from column buffers (the value path says what is wrong otherwise). */
export function columnarWritable(schema: Schema): boolean {
  const names = new Set(schema.fields.map((f) => f.name));
  return (
    schema.fields.length > 0 &&
    names.size === schema.fields.length &&
    schema.fields.every((f) => physicalOf(f.type) !== undefined)
  );
}

/** Rows per data page: about `pageSize` bytes of values, a multiple of 8 (validity bytes copy whole). */
function pageRows(column: ColumnVector, start: number, pageSize: number): number {
  const rows = column.length - start;
  let take: number;
  if (column.kind === "bytes") {
    const { offsets } = column;
    const base = offsets[start]!;
    // Binary search the last row whose bytes end within the page.
    let lo = start + 1;
    let hi = column.length;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (offsets[mid]! - base + 4 * (mid - start) <= pageSize) lo = mid;
      else hi = mid - 1;
    }
    take = lo - start;
  } else if (column.kind === "bits") {
    take = pageSize * 8;
  } else {
    take = Math.floor(pageSize / (column.values as FixedArray).BYTES_PER_ELEMENT);
  }
  take = Math.max(8, take - (take % 8));
  return Math.min(rows, take);
}

function isValid(validity: Uint8Array | undefined, row: number): boolean {
  return validity === undefined || ((validity[row >> 3]! >> (row & 7)) & 1) === 1;
}

/** Definition levels of rows [start, start + n) (start a multiple of 8), with their 4-byte length. */
function definitionLevels(out: ByteWriter, validity: Uint8Array | undefined, start: number, n: number): void {
  const levels = new ByteWriter(16);
  if (!validity) {
    levels.appendVarInt(n << 1); // one run of "defined"
    levels.appendUint8(1);
  } else {
    const bytes = Math.ceil(n / 8);
    levels.appendVarInt((bytes << 1) | 1); // bit-packed groups of 8: the validity bits as they are
    levels.appendBytes(validity.subarray(start >> 3, (start >> 3) + bytes));
  }
  out.appendUint32(levels.offset);
  out.appendBytes(levels.getBytes());
}

/** Plain values of the valid rows among [start, end). */
function plainValues(
  out: ByteWriter,
  column: ColumnVector,
  physical: Physical,
  start: number,
  end: number,
): number {
  const validity = column.validity;
  let count = 0;
  if (column.kind === "bits") {
    const bits = new Uint8Array(Math.ceil((end - start) / 8));
    const source = column.values;
    for (let row = start; row < end; row++) {
      if (!isValid(validity, row)) continue;
      if ((source[row >> 3]! >> (row & 7)) & 1) bits[count >> 3]! |= 1 << (count & 7);
      count++;
    }
    out.appendBytes(bits.subarray(0, Math.ceil(count / 8)));
    return count;
  }
  if (column.kind === "bytes") {
    const { offsets, data } = column;
    let total = 0;
    for (let row = start; row < end; row++)
      if (isValid(validity, row)) total += 4 + offsets[row + 1]! - offsets[row]!;
    const page = new Uint8Array(total);
    const view = new DataView(page.buffer);
    let at = 0;
    for (let row = start; row < end; row++) {
      if (!isValid(validity, row)) continue;
      const from = offsets[row]!;
      const n = offsets[row + 1]! - from;
      view.setUint32(at, n, true);
      at += 4;
      if (n < 32) for (let k = 0; k < n; k++) page[at + k] = data[from + k]!;
      else page.set(data.subarray(from, from + n), at);
      at += n;
      count++;
    }
    out.appendBytes(page);
    return count;
  }
  if (column.kind !== "fixed") throw new Error("a column given as values has no buffers");
  const values = column.values;
  // 8/16-bit ints are stored as INT32; every other type's buffer is its stored form (same bits).
  const widen = physical === "INT32" && values.BYTES_PER_ELEMENT < 4;
  let dense: FixedArray;
  if (!validity) {
    dense = values.subarray(start, end);
    count = end - start;
  } else {
    dense = new (values.constructor as new (n: number) => FixedArray)(end - start);
    for (let row = start; row < end; row++)
      if (isValid(validity, row)) (dense as Float64Array)[count++] = (values as Float64Array)[row]!;
    dense = dense.subarray(0, count);
  }
  if (widen) dense = Int32Array.from(dense as Int32Array);
  out.appendBytes(new Uint8Array(dense.buffer, dense.byteOffset, dense.byteLength));
  return count;
}

/** Null count, and the column's nulls checked against the field. */
function nullsOf(field: Field, column: ColumnVector, group: number): number {
  if (column.nullCount > 0 && !field.nullable) {
    let row = 0;
    while (isValid(column.validity, row)) row++;
    throw errors.invalidInput(
      `column "${field.name}" (${field.type.type}), row ${group + row}: null in a non-nullable column`,
    );
  }
  return column.nullCount;
}

export interface ColumnarWriteOptions {
  codec?: Codec | undefined;
  rowGroupSize?: number | undefined;
  pageSize?: number | undefined;
}

interface ChunkOptions {
  codec: Codec;
  compress: Compress | undefined;
}

/**
 * One parquet file (its bytes) from columnar row groups; groups longer than `rowGroupSize` are split.
 * Every column must be of a type `columnarWritable` accepts and given as buffers, not values.
 */
export async function encodeColumnarParquet(
  schema: Schema,
  groups: AsyncIterable<ColumnarGroup> | Iterable<ColumnarGroup>,
  options: ColumnarWriteOptions,
): Promise<Uint8Array> {
  const rowGroupSize = positiveInteger(options.rowGroupSize, "rowGroupSize", 100_000);
  const pageSize = positiveInteger(options.pageSize, "pageSize", 1024 * 1024);
  const codec = options.codec ?? "SNAPPY";
  const chunkOptions: ChunkOptions = { codec, compress: (await writeCompressors(codec))[codec] };
  const file = new PartsWriter();
  const writer = new ParquetWriter({
    writer: file,
    schema: toParquetSchema(schema.fields),
    codec,
    kvMetadata: [{ key: SCHEMA_METADATA_KEY, value: schemaToJson(schema) }],
    createdBy: "ferry (columnar)",
  });
  const physicals = schema.fields.map((f) => physicalOf(f.type)!);
  // Flat columns only: each field is one leaf element, named as the field.
  const elements = schema.fields.map((f) => writer.schema.find((e) => e.name === f.name && !e.num_children)!);
  // Row groups whose chunks are being encoded (on worker threads where they are big), appended in order.
  const queue: { rows: number; bytes: number; chunks: Promise<EncodedChunk>[] }[] = [];
  let queued = 0;
  const flush = async () => {
    const { rows, bytes, chunks } = queue.shift()!;
    queued -= bytes;
    const groupStart = file.offset;
    const columns = [];
    for (const pending of chunks) {
      const { chunk, pageIndex } = appendChunk(file, await pending);
      // Written by writer.finish() before the footer, as hyparquet-writer does for its own chunks.
      if (pageIndex) writer.pendingIndexes.push({ chunk, ...pageIndex });
      columns.push(chunk);
    }
    writer.row_groups.push({
      columns,
      total_byte_size: columns.reduce((sum, c) => sum + c.meta_data!.total_uncompressed_size, 0n),
      num_rows: BigInt(rows),
      total_compressed_size: BigInt(file.offset - groupStart),
    });
    writer.num_rows += BigInt(rows);
  };
  let rowsBefore = 0;
  for await (const group of groups) {
    for (let first = 0; first < group.rows; first += rowGroupSize) {
      const last = Math.min(group.rows, first + rowGroupSize);
      let bytes = 0;
      const chunks = schema.fields.map((field, c) => {
        const column = sliceColumn(group.columns[field.name]!, first, last);
        const place = { physical: physicals[c]!, element: elements[c]!, firstRow: rowsBefore + first };
        bytes += columnBytes(column);
        const encoded = encodeChunk(field, place, column, pageSize, chunkOptions);
        // A failure is reported when its chunk's turn comes; until then it must not count as unhandled.
        encoded.catch(() => undefined);
        return encoded;
      });
      queue.push({ rows: last - first, bytes, chunks });
      queued += bytes;
      while (queued > MAX_QUEUED_BYTES) await flush();
    }
    rowsBefore += group.rows;
  }
  while (queue.length > 0) await flush();
  await writer.finish();
  return file.getBytes();
}

/** Appended byte runs at least this long are kept as they are, not copied into the writer's buffer. */
const KEEP_BYTES = 64 * 1024;

/**
 * hyparquet-writer's ByteWriter that keeps big appended runs (encoded chunks) as they are and joins
 * everything once at the end: its own buffer doubles and copies as the file grows (a 20 MB file cost
 * 63 MB of allocations and 31 MB of copies).
 */
class PartsWriter extends ByteWriter {
  readonly #parts: Uint8Array<ArrayBuffer>[] = [];

  constructor() {
    super(KEEP_BYTES);
  }

  override appendBytes(value: Uint8Array): void {
    if (value.byteLength < KEEP_BYTES) {
      super.appendBytes(value);
      return;
    }
    this.#flush();
    this.#parts.push(value as Uint8Array<ArrayBuffer>);
    this.offset += value.byteLength;
  }

  override getBytes(): Uint8Array<ArrayBuffer> {
    this.#flush();
    if (this.#parts.length === 1) return this.#parts[0]!;
    const out = new Uint8Array(this.offset);
    let at = 0;
    for (const part of this.#parts) {
      out.set(part, at);
      at += part.byteLength;
    }
    this.#parts.length = 0;
    this.#parts.push(out);
    return out;
  }

  /** The small writes so far, as a part of their own (the buffer starts afresh). */
  #flush(): void {
    if (this.index === 0) return;
    this.#parts.push(new Uint8Array(this.buffer, 0, this.index));
    this.buffer = new ArrayBuffer(KEEP_BYTES);
    this.view = new DataView(this.buffer);
    this.index = 0;
  }
}

/** Bytes of row groups being encoded at once at most (their columns' buffers). */
const MAX_QUEUED_BYTES = 64 * 1024 * 1024;

/** A column chunk encoded on its own (its offsets count from 0), to be appended to the file. */
export interface EncodedChunk {
  bytes: Uint8Array;
  chunk: ReturnType<typeof writeChunk>["chunk"];
  pageIndex: ReturnType<typeof writeChunk>["pageIndex"];
}

/** A column chunk for a worker to encode (codec-worker.ts). */
export interface EncodeJob {
  field: Field;
  place: ChunkPlace;
  column: ColumnVector;
  pageSize: number;
  codec: Codec;
}

/**
 * One column chunk encoded: on a worker thread when it is big and one is ready (a copy of its buffers
 * is handed over: the caller's stay untouched), else here. A null in a non-nullable column is refused
 * here first, naming the row.
 */
async function encodeChunk(
  field: Field,
  place: ChunkPlace,
  column: ColumnVector,
  pageSize: number,
  options: ChunkOptions,
): Promise<EncodedChunk> {
  nullsOf(field, column, place.firstRow);
  if (!offThreadFor(columnBytes(column)) || shareHere())
    return encodeAlone(field, place, column, pageSize, options);
  const copy = copyColumn(column);
  const job: EncodeJob = { field, place, column: copy, pageSize, codec: options.codec };
  const views = [
    copy.validity,
    ...(copy.kind === "bytes" ? [copy.offsets, copy.data] : [copy.values as FixedArray]),
  ];
  const reply = await runOffThread<EncodedChunk>("encode", job, buffersOf(views));
  return reply ?? encodeAlone(field, place, column, pageSize, options);
}

/** A worker's encode job (codec-worker.ts). */
export async function encodeJob(job: EncodeJob): Promise<EncodedChunk> {
  const compress = (await writeCompressors(job.codec))[job.codec];
  return encodeAlone(job.field, job.place, job.column, job.pageSize, { codec: job.codec, compress });
}

function encodeAlone(
  field: Field,
  place: ChunkPlace,
  column: ColumnVector,
  pageSize: number,
  options: ChunkOptions,
): EncodedChunk {
  const out = new ByteWriter(pageBytes(column, 0, column.length) + 4096);
  const { chunk, pageIndex } = writeChunk(out, field, place, column, pageSize, options);
  const bytes = out.getBytes();
  // Compressed, a chunk is often much smaller than its estimate: it is kept until the file is joined.
  return { bytes: bytes.byteLength < out.buffer.byteLength / 2 ? bytes.slice() : bytes, chunk, pageIndex };
}

/** `encoded` appended to the file: its offsets moved to where it now starts. */
function appendChunk(file: ByteWriter, { bytes, chunk, pageIndex }: EncodedChunk) {
  const base = BigInt(file.offset);
  file.appendBytes(bytes);
  chunk.file_offset += base;
  chunk.meta_data.data_page_offset += base;
  if (chunk.meta_data.dictionary_page_offset !== undefined) chunk.meta_data.dictionary_page_offset += base;
  for (const location of pageIndex?.offsetIndex.page_locations ?? []) location.offset += base;
  return { chunk, pageIndex };
}

/** The bytes of a column's buffers. */
function columnBytes(column: ColumnVector): number {
  const validity = column.validity?.byteLength ?? 0;
  if (column.kind === "bytes") return validity + column.offsets.byteLength + column.data.byteLength;
  if (column.kind === "values") return validity;
  return validity + column.values.byteLength;
}

/** A column with buffers of its own (to hand to a worker). */
function copyColumn(column: ColumnVector): ColumnVector {
  const validity = column.validity?.slice();
  if (column.kind === "bytes")
    return { ...column, validity, offsets: column.offsets.slice(), data: column.data.slice() };
  if (column.kind === "fixed") return { ...column, validity, values: column.values.slice() as FixedArray };
  if (column.kind === "bits") return { ...column, validity, values: column.values.slice() };
  return column;
}

/** Rows [first, last) of a column; the whole column when that is all of it (no copy). */
function sliceColumn(column: ColumnVector, first: number, last: number): ColumnVector {
  if (first === 0 && last === column.length) return column;
  const length = last - first;
  const validity = column.validity ? sliceBits(column.validity, first, length) : undefined;
  let nullCount = 0;
  if (validity) for (let i = 0; i < length; i++) if (!isValid(validity, i)) nullCount++;
  const common = { length, nullCount, validity: nullCount > 0 ? validity : undefined };
  if (column.kind === "bits")
    return { ...common, kind: "bits", values: sliceBits(column.values, first, length) };
  if (column.kind === "fixed")
    return { ...common, kind: "fixed", values: column.values.subarray(first, last) };
  if (column.kind === "bytes") {
    const base = column.offsets[first]!;
    const offsets = column.offsets.slice(first, last + 1).map((o) => o - base);
    return { ...common, kind: "bytes", offsets, data: column.data.subarray(base, column.offsets[last]!) };
  }
  return { ...common, kind: "values", values: column.values.slice(first, last) };
}

function sliceBits(bits: Uint8Array, first: number, length: number): Uint8Array {
  if ((first & 7) === 0) return bits.subarray(first >> 3, (first + length + 7) >> 3);
  const out = new Uint8Array(Math.ceil(length / 8));
  for (let i = 0; i < length; i++) {
    const from = first + i;
    if ((bits[from >> 3]! >> (from & 7)) & 1) out[i >> 3]! |= 1 << (i & 7);
  }
  return out;
}

/**
 * min_value/max_value of a numeric, date or timestamp column (as hyparquet-writer takes them: numbers
 * and bigints in the stored form), so readers can skip row groups by value. NaN is left out; a zero
 * bound is written -0 as min and +0 as max, as the format asks. None for other types.
 */
/** Unsigned byte order, which for UTF-8 is code point order: what parquet's BYTE_ARRAY statistics use. */
function compareBytes(data: Uint8Array, a: number, aEnd: number, b: number, bEnd: number): number {
  const length = Math.min(aEnd - a, bEnd - b);
  for (let i = 0; i < length; i++) {
    const d = data[a + i]! - data[b + i]!;
    if (d !== 0) return d;
  }
  return aEnd - a - (bEnd - b);
}

/** The rows of the least and greatest valid value among rows [start, end) of a text or binary column. */
function bytesMinMax(
  column: ColumnVector & { kind: "bytes" },
  start: number,
  end: number,
): [number, number] | undefined {
  const { offsets, data, validity } = column;
  let min = -1;
  let max = -1;
  for (let i = start; i < end; i++) {
    if (validity && !((validity[i >> 3]! >> (i & 7)) & 1)) continue;
    if (min < 0) {
      min = max = i;
      continue;
    }
    if (compareBytes(data, offsets[i]!, offsets[i + 1]!, offsets[min]!, offsets[min + 1]!) < 0) min = i;
    else if (compareBytes(data, offsets[i]!, offsets[i + 1]!, offsets[max]!, offsets[max + 1]!) > 0) max = i;
  }
  return min < 0 ? undefined : [min, max];
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The rows of the least and greatest valid value of an int64 column, compared as 32-bit halves: reading
 * a BigInt64Array's element makes a bigint (an allocation per value, the bulk of a write's garbage).
 */
function int64MinMax(
  values: BigInt64Array | BigUint64Array,
  validity: Uint8Array | undefined,
  start: number,
  end: number,
): [number, number] | undefined {
  const words = new Int32Array(values.buffer, values.byteOffset, values.length * 2);
  const signed = values instanceof BigInt64Array;
  let min = -1;
  let max = -1;
  let minHigh = 0;
  let minLow = 0;
  let maxHigh = 0;
  let maxLow = 0;
  for (let i = start; i < end; i++) {
    if (validity && !((validity[i >> 3]! >> (i & 7)) & 1)) continue;
    const high = signed ? words[2 * i + 1]! : words[2 * i + 1]! >>> 0;
    const low = words[2 * i]! >>> 0;
    if (min < 0 || high < minHigh || (high === minHigh && low < minLow)) {
      min = i;
      minHigh = high;
      minLow = low;
    }
    if (max < 0 || high > maxHigh || (high === maxHigh && low > maxLow)) {
      max = i;
      maxHigh = high;
      maxLow = low;
    }
  }
  return min < 0 ? undefined : [min, max];
}

/*
 * The least and greatest valid number (NaN compares false both ways: left out). One loop per array
 * type on purpose: a loop that has seen several typed-array types reads their elements through a
 * slower generic path (over 1M values here: 13–25 ms against 6–12 ms for one type, 2–2.7× slower),
 * and these are the common column types.
 */
function float64Range(
  values: Float64Array,
  validity: Uint8Array | undefined,
  start: number,
  end: number,
): [number, number] {
  let low = Number.POSITIVE_INFINITY;
  let high = Number.NEGATIVE_INFINITY;
  for (let i = start; i < end; i++) {
    if (validity && !((validity[i >> 3]! >> (i & 7)) & 1)) continue;
    const v = values[i]!;
    if (v < low) low = v;
    if (v > high) high = v;
  }
  return [low, high];
}

function int32Range(
  values: Int32Array,
  validity: Uint8Array | undefined,
  start: number,
  end: number,
): [number, number] {
  let low = Number.POSITIVE_INFINITY;
  let high = Number.NEGATIVE_INFINITY;
  for (let i = start; i < end; i++) {
    if (validity && !((validity[i >> 3]! >> (i & 7)) & 1)) continue;
    const v = values[i]!;
    if (v < low) low = v;
    if (v > high) high = v;
  }
  return [low, high];
}

function numberRange(
  values: ArrayLike<number>,
  validity: Uint8Array | undefined,
  start: number,
  end: number,
): [number, number] {
  let low = Number.POSITIVE_INFINITY;
  let high = Number.NEGATIVE_INFINITY;
  for (let i = start; i < end; i++) {
    if (validity && !((validity[i >> 3]! >> (i & 7)) & 1)) continue;
    const v = values[i]!;
    if (v < low) low = v;
    if (v > high) high = v;
  }
  return [low, high];
}

/** min_value/max_value of rows [start, end) of a column (see bytesMinMax and the ranges above). */
function minMax(type: DataType, column: ColumnVector, start: number, end: number): Bounds {
  if (column.kind === "bytes") {
    const found = bytesMinMax(column, start, end);
    return found ? { min_value: bytesOfRow(column, found[0]), max_value: bytesOfRow(column, found[1]) } : {};
  }
  if (column.kind !== "fixed" || (type.type === "float" && type.bits === 16)) return {};
  const { values, validity } = column;
  let min: number | bigint | undefined;
  let max: number | bigint | undefined;
  if (values instanceof BigInt64Array || values instanceof BigUint64Array) {
    if (LITTLE_ENDIAN) {
      const found = int64MinMax(values, validity, start, end);
      return found ? { min_value: values[found[0]]!, max_value: values[found[1]]! } : {};
    }
    for (let i = start; i < end; i++) {
      if (validity && !((validity[i >> 3]! >> (i & 7)) & 1)) continue;
      const v = values[i]!;
      if (min === undefined || v < min) min = v;
      if (max === undefined || v > max) max = v;
    }
  } else {
    const range =
      values instanceof Float64Array
        ? float64Range(values, validity, start, end)
        : values instanceof Int32Array
          ? int32Range(values, validity, start, end)
          : numberRange(values as ArrayLike<number>, validity, start, end);
    const [low, high] = range;
    if (low <= high) {
      min = low === 0 ? -0 : low;
      max = high === 0 ? 0 : high;
    }
  }
  return min === undefined || max === undefined ? {} : { min_value: min, max_value: max };
}

/** A copy of a text or binary row's bytes. */
function bytesOfRow(column: ColumnVector & { kind: "bytes" }, row: number): Uint8Array {
  return column.data.slice(column.offsets[row]!, column.offsets[row + 1]!);
}

/** Bytes a page of rows [start, end) takes before compression (a little over: levels are estimated). */
function pageBytes(column: ColumnVector, start: number, end: number): number {
  const rows = end - start;
  const levels = 16 + Math.ceil(rows / 8);
  if (column.kind === "bytes") return levels + 4 * rows + column.offsets[end]! - column.offsets[start]!;
  if (column.kind === "bits") return levels + Math.ceil(rows / 8);
  if (column.kind === "fixed") return levels + rows * Math.max(4, column.values.BYTES_PER_ELEMENT);
  return levels;
}

/**
 * The page index of a chunk: where each page is (offset index) and what it holds (column index: min,
 * max, nulls), so readers can fetch only the pages a filter could keep. Without min/max for a page
 * that has values (bool, float16, all NaN) only the offset index is written.
 */
class PageIndexBuilder {
  readonly offsetIndex: OffsetIndex = { page_locations: [] };
  columnIndex: PageColumnIndex | undefined = {
    null_pages: [],
    min_values: [],
    max_values: [],
    boundary_order: "UNORDERED",
    null_counts: [],
  };
  /** The chunk's least and greatest value so far (its statistics): the pages' bounds, widened page by page. */
  readonly bounds: Bounds = {};
  readonly #element: SchemaElement;

  constructor(element: SchemaElement) {
    this.#element = element;
  }

  /** The data page of rows [start, end), `size` bytes at `offset`, holding `nulls` nulls and values within `bounds`. */
  add(start: number, end: number, offset: number, size: number, nulls: number, bounds: Bounds): void {
    this.offsetIndex.page_locations.push({
      offset: BigInt(offset),
      compressed_page_size: size,
      first_row_index: BigInt(start),
    });
    const { min_value, max_value } = bounds;
    this.#widen(min_value, max_value);
    const index = this.columnIndex;
    if (!index) return;
    const empty = nulls === end - start;
    const min = unconvertMinMax(min_value, this.#element, false);
    const max = unconvertMinMax(max_value, this.#element, true);
    if (!empty && (!min || !max)) {
      this.columnIndex = undefined;
      return;
    }
    index.null_pages.push(empty);
    index.min_values.push(min ?? new Uint8Array());
    index.max_values.push(max ?? new Uint8Array());
    index.null_counts!.push(BigInt(nulls));
  }

  #widen(min: MinMax | undefined, max: MinMax | undefined): void {
    if (min === undefined || max === undefined) return;
    const { bounds } = this;
    if (bounds.min_value === undefined || before(min, bounds.min_value)) bounds.min_value = min;
    if (bounds.max_value === undefined || before(bounds.max_value, max)) bounds.max_value = max;
  }
}

type MinMax = number | bigint | Uint8Array;
type Bounds = { min_value?: MinMax; max_value?: MinMax };

/** Whether bound `a` orders before `b` (both of one column: numbers, bigints, or bytes in unsigned order). */
function before(a: MinMax, b: MinMax): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    const joined = new Uint8Array(a.byteLength + b.byteLength);
    joined.set(a);
    joined.set(b, a.byteLength);
    return compareBytes(joined, 0, a.byteLength, a.byteLength, joined.byteLength) < 0;
  }
  return a < b;
}

/** The body buffer of the page being written, emptied: one per thread, reused page after page. */
let scratch = new ByteWriter(64 * 1024);
function pageBody(size: number): ByteWriter {
  if (scratch.buffer.byteLength < size) scratch = new ByteWriter(size);
  scratch.index = 0;
  scratch.offset = 0;
  return scratch;
}

/** Nulls among rows [start, end). */
function nullsIn(column: ColumnVector, start: number, end: number): number {
  const { validity } = column;
  if (!validity || column.nullCount === 0) return 0;
  let nulls = 0;
  for (let row = start; row < end; row++) if (!((validity[row >> 3]! >> (row & 7)) & 1)) nulls++;
  return nulls;
}

/** A dictionary page's least and greatest value: its entries of least and greatest rank. */
function dictionaryBounds(
  column: BytesColumn,
  dictionary: Dictionary,
  { rank, sorted }: { rank: Int32Array; sorted: Int32Array },
  entries: Int32Array,
): Bounds {
  if (entries.length === 0) return {};
  let low = rank[entries[0]!]!;
  let high = low;
  for (let i = 1; i < entries.length; i++) {
    const r = rank[entries[i]!]!;
    if (r < low) low = r;
    else if (r > high) high = r;
  }
  return {
    min_value: bytesOfRow(column, dictionary.rows[sorted[low]!]!),
    max_value: bytesOfRow(column, dictionary.rows[sorted[high]!]!),
  };
}

/** A text or binary chunk's dictionary and its entries' byte order, when a dictionary pays. */
interface DictionaryEncoding {
  dictionary: Dictionary;
  order: { rank: Int32Array; sorted: Int32Array };
}

function dictionaryEncoding(column: BytesColumn): DictionaryEncoding | undefined {
  const dictionary = dictionaryOf(column);
  return dictionary && { dictionary, order: dictionaryOrder(column, dictionary) };
}

/**
 * The body of the data page of rows [start, end) (levels, then the values plain or as dictionary
 * indexes) and the bounds of its values.
 */
function dataPage(
  field: Field,
  physical: Physical,
  column: ColumnVector,
  start: number,
  end: number,
  encoded: DictionaryEncoding | undefined,
): { body: Uint8Array; bounds: Bounds } {
  const body = pageBody(pageBytes(column, start, end));
  if (field.nullable) definitionLevels(body, column.validity, start, end - start);
  if (!encoded) {
    plainValues(body, column, physical, start, end);
    return { body: body.getBytes(), bounds: minMax(field.type, column, start, end) };
  }
  const { dictionary, order } = encoded;
  const entries = pageEntries(column as BytesColumn, dictionary, start, end);
  body.appendUint8(dictionary.bitWidth);
  writeRleBitPackedHybrid(body, entries, dictionary.bitWidth);
  return {
    body: body.getBytes(),
    bounds: dictionaryBounds(column as BytesColumn, dictionary, order, entries),
  };
}

/** Where a chunk goes: its physical type, its schema element and the table row its first row is. */
interface ChunkPlace {
  physical: Physical;
  element: SchemaElement;
  firstRow: number;
}

function writeChunk(
  file: ByteWriter,
  field: Field,
  { physical, element, firstRow }: ChunkPlace,
  column: ColumnVector,
  pageSize: number,
  options: ChunkOptions,
) {
  const nullCount = nullsOf(field, column, firstRow);
  const chunkStart = file.offset;
  const pages = new PageIndexBuilder(element);
  const encoded = column.kind === "bytes" ? dictionaryEncoding(column) : undefined;
  const dictionary = encoded?.dictionary;
  let uncompressed = 0;
  /** A page's header and its (compressed) body appended to the file: where the page starts. */
  const appendPage = (
    raw: Uint8Array,
    header: Omit<PageHeader, "uncompressed_page_size" | "compressed_page_size">,
  ) => {
    const stored = options.compress ? options.compress(raw) : raw;
    const headerStart = file.offset;
    writePageHeader(file, {
      ...header,
      uncompressed_page_size: raw.byteLength,
      compressed_page_size: stored.byteLength,
    });
    uncompressed += file.offset - headerStart + raw.byteLength;
    file.appendBytes(stored);
    return headerStart;
  };
  if (dictionary) {
    appendPage(dictionaryPage(column as BytesColumn, dictionary), {
      type: "DICTIONARY_PAGE",
      dictionary_page_header: { num_values: dictionary.count, encoding: "PLAIN" },
    });
  }
  const firstDataPage = file.offset;
  for (let start = 0; start < column.length; ) {
    const end = start + pageRows(column, start, pageSize);
    const { body, bounds } = dataPage(field, physical, column, start, end, encoded);
    const headerStart = appendPage(body, {
      type: "DATA_PAGE",
      data_page_header: {
        num_values: end - start,
        encoding: dictionary ? "RLE_DICTIONARY" : "PLAIN",
        definition_level_encoding: "RLE",
        repetition_level_encoding: "RLE",
      },
    });
    pages.add(start, end, headerStart, file.offset - headerStart, nullsIn(column, start, end), bounds);
    start = end;
  }
  const chunk = {
    file_offset: BigInt(chunkStart),
    meta_data: {
      type: physical,
      encodings: ["PLAIN", "RLE", ...(dictionary ? ["RLE_DICTIONARY"] : [])] as Encoding[],
      path_in_schema: [field.name],
      codec: (options.compress ? options.codec : "UNCOMPRESSED") as "SNAPPY",
      num_values: BigInt(column.length),
      total_compressed_size: BigInt(file.offset - chunkStart),
      total_uncompressed_size: BigInt(uncompressed),
      data_page_offset: BigInt(firstDataPage),
      ...(dictionary ? { dictionary_page_offset: BigInt(chunkStart) } : {}),
      statistics: { null_count: BigInt(nullCount), ...pages.bounds },
    },
  };
  // One page needs no index (readers skip nothing inside it).
  const many = pages.offsetIndex.page_locations.length > 1;
  return {
    chunk,
    pageIndex: many
      ? {
          offsetIndex: pages.offsetIndex,
          ...(pages.columnIndex ? { columnIndex: pages.columnIndex } : {}),
        }
      : undefined,
  };
}
