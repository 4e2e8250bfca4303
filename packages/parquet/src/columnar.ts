/**
 * Columnar reading: one row group's flat columns decoded from their parquet pages straight into the
 * buffers a columnar library (Arrow) holds — typed arrays, offsets + bytes for strings, validity
 * bitmaps — without a JavaScript value per row. Plain and dictionary pages, data page v1 and v2,
 * every codec ferry reads. A column this path does not cover (nested types, decimals, INT96, delta or
 * byte-stream-split encodings, a table type that differs from the file's) is read by the value path
 * instead and handed over as values: the answer is the same either way, only the speed differs.
 */

import type { ColumnVector, DataType, Field, FixedArray } from "@ferry/plugin-kit";
import { errors, FerryError } from "@ferry/plugin-kit";
import type { ColumnChunk, PageHeader, SchemaElement } from "hyparquet";
import { parquetHeader } from "hyparquet/src/column.js";
import { decompressPage } from "hyparquet/src/datapage.js";
import { deltaBinaryUnpack } from "hyparquet/src/delta.js";
import { byteStreamSplit, readRleBitPackedHybrid } from "hyparquet/src/encoding.js";
import { readVarInt } from "hyparquet/src/thrift.js";
import { type BufferPool, rowGroupBuffers } from "./buffer-pool.ts";
import { buffersOf, offThreadFor, runOffThread } from "./codec-threads.ts";
import { gatherEntries } from "./dictionary-gather.ts";
import { sameType } from "./parquet-schema.ts";
import {
  DEFAULT_MAX_PAGE_EXPANSION,
  DecompressionLimit,
  type Decompressors,
  decompressorsFor,
  describeColumnFailure,
  describeFailure,
  type OpenPart,
  readRowGroup,
} from "./part-reader.ts";
import { MAX_HYBRID_WIDTH, readHybrid } from "./rle-hybrid.ts";
import { chunkVerifier } from "./row-group-bytes.ts";

export type { ColumnarGroup, ColumnVector, FixedArray } from "@ferry/plugin-kit";

/** JS values as a column (the value path's answer, or partition and missing columns). */
export function valuesColumn(values: unknown[]): ColumnVector {
  let nullCount = 0;
  for (const value of values) if (value === null || value === undefined) nullCount++;
  return { kind: "values", values, length: values.length, nullCount, validity: undefined };
}

/** Column chunks this close together are fetched in one range read (the gap is read and dropped). */
const MERGE_GAP = 64 * 1024;

type ColumnMeta = NonNullable<ColumnChunk["meta_data"]>;

/** The column cannot be read by this path (an encoding or layout it does not decode): use the value path. */
class NotColumnar extends Error {}

type Physical = SchemaElement["type"];

/** How a flat column of this physical and ferry type is laid out, or undefined when the value path reads it. */
function layoutOf(physical: Physical, element: SchemaElement, type: DataType): Layout | undefined {
  switch (type.type) {
    case "bool":
      return physical === "BOOLEAN" ? { kind: "bits" } : undefined;
    case "int":
      return physical === (type.bits === 64 ? "INT64" : "INT32")
        ? INT_LAYOUTS[`${type.bits}${type.signed ? "s" : "u"}`]
        : undefined;
    case "float":
      if (type.bits === 16)
        return physical === "FIXED_LEN_BYTE_ARRAY" && element.type_length === 2
          ? fixed(2, (n) => new Uint16Array(n))
          : undefined;
      if (type.bits === 32) return physical === "FLOAT" ? fixed(4, (n) => new Float32Array(n)) : undefined;
      return physical === "DOUBLE" ? fixed(8, (n) => new Float64Array(n)) : undefined;
    case "date":
      return physical === "INT32" ? INT_LAYOUTS["32s"] : undefined;
    case "timestamp":
      // Seconds are stored as milliseconds: their Arrow buffer needs a division, the value path does it.
      return physical === "INT64" && type.unit !== "s" ? INT64 : undefined;
    case "string":
    case "binary":
      return physical === "BYTE_ARRAY" ? { kind: "bytes" } : undefined;
    default:
      return undefined;
  }
}

type Layout =
  | {
      kind: "fixed";
      /** Bytes per value in the file. */
      width: 2 | 4 | 8;
      make: (length: number) => FixedArray;
      /** The file's values (INT32, INT64, FLOAT, DOUBLE, or float16 bits) as the output's array type. */
      view: (stored: FixedArray, count: number) => FixedArray;
    }
  | { kind: "bits" }
  | { kind: "bytes" };

type View = (stored: FixedArray, count: number) => FixedArray;
const same: View = (stored) => stored;

function fixed(width: 2 | 4 | 8, make: (length: number) => FixedArray, view: View = same): Layout {
  return { kind: "fixed", width, make, view };
}

/** Narrower ints are stored as INT32: converted element by element (their values fit the type). */
function narrowed(make: (length: number) => FixedArray): Layout {
  return fixed(4, make, (stored, count) => {
    const out = make(count);
    (out as Int32Array).set(stored as Int32Array);
    return out;
  });
}

const INT_LAYOUTS: Record<string, Layout> = {
  "8s": narrowed((n) => new Int8Array(n)),
  "16s": narrowed((n) => new Int16Array(n)),
  "32s": fixed(4, (n) => new Int32Array(n)),
  "8u": narrowed((n) => new Uint8Array(n)),
  "16u": narrowed((n) => new Uint16Array(n)),
  // Same bits, read unsigned.
  "32u": fixed(
    4,
    (n) => new Uint32Array(n),
    (stored) => new Uint32Array(stored.buffer, stored.byteOffset, stored.length),
  ),
  "64s": fixed(8, (n) => new BigInt64Array(n)),
  "64u": fixed(
    8,
    (n) => new BigUint64Array(n),
    (stored) => new BigUint64Array(stored.buffer, stored.byteOffset, stored.length),
  ),
};
const INT64 = INT_LAYOUTS["64s"]!;

/** Values of a page (or a dictionary) before nulls are spread, fixed-width ones already in the output's array type. */
type Dense =
  | { kind: "fixed"; values: FixedArray; count: number }
  | { kind: "bits"; bits: Uint8Array; count: number }
  | { kind: "bytes"; offsets: Int32Array; data: Uint8Array; count: number };

/** The most a string column's bytes are allocated before its pages are decoded (they grow past it as needed). */
const MAX_BYTES_HINT = 64 * 1024 * 1024;

/** Growable byte buffer for string data; from `pool` when the column is dropped once converted to values. */
class Bytes {
  data: Uint8Array;
  length = 0;
  readonly #pool: BufferPool | undefined;
  constructor(capacity: number, pool: BufferPool | undefined) {
    this.#pool = pool;
    this.data = this.#allocate(Math.max(capacity, 64));
  }
  #allocate(size: number): Uint8Array {
    return this.#pool ? this.#pool.take(size) : new Uint8Array(size);
  }
  reserve(extra: number): void {
    const need = this.length + extra;
    if (need <= this.data.byteLength) return;
    if (need > 2 ** 31 - 1) throw new NotColumnar("more than 2 GiB of bytes in one column of one row group");
    const grown = this.#allocate(Math.min(Math.max(need, this.data.byteLength * 2), 2 ** 31 - 1));
    grown.set(this.data.subarray(0, this.length));
    this.#pool?.give(this.data);
    this.data = grown;
  }
  append(source: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.reserve(n);
    const out = this.data;
    let at = this.length;
    if (n < 32) for (let i = start; i < end; i++) out[at++] = source[i]!;
    else out.set(source.subarray(start, end), at);
    this.length += n;
  }
}

/** Plain-encoded values of `count` (non-null) entries at `bytes[offset...]`, copied out of the page. */
function readPlainDense(
  bytes: Uint8Array,
  offset: number,
  count: number,
  physical: Physical,
  layout: Layout,
): Dense {
  if (layout.kind === "bits") {
    // A copy: the page is the thread's scratch buffer, and a dictionary outlives it.
    const bits = bytes.slice(offset, offset + Math.ceil(count / 8));
    if (bits.byteLength * 8 < count) throw new Error("boolean page shorter than its values");
    return { kind: "bits", bits, count };
  }
  if (layout.kind === "fixed") {
    const end = offset + count * layout.width;
    if (end > bytes.byteLength) throw new Error("page shorter than its values");
    // An aligned copy of exactly the values, read as the physical type, then as the output type
    // (8/16-bit ints narrow). Copied with set(), not slice(): a page zstd or brotli decompressed is a
    // Node Buffer, whose slice() is a view into Node's shared pool, so its .buffer holds other data.
    const aligned = new Uint8Array(end - offset);
    aligned.set(bytes.subarray(offset, end));
    const stored =
      physical === "INT32"
        ? new Int32Array(aligned.buffer)
        : physical === "INT64"
          ? new BigInt64Array(aligned.buffer)
          : physical === "FLOAT"
            ? new Float32Array(aligned.buffer)
            : physical === "DOUBLE"
              ? new Float64Array(aligned.buffer)
              : new Uint16Array(aligned.buffer);
    return { kind: "fixed", values: layout.view(stored, count), count };
  }
  const offsets = new Int32Array(count + 1);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Offsets into the page itself: each value starts 4 bytes after its length.
  const starts = new Int32Array(count);
  let at = offset;
  let total = 0;
  for (let i = 0; i < count; i++) {
    if (at + 4 > bytes.byteLength) throw new Error("byte array page shorter than its values");
    const length = view.getUint32(at, true);
    at += 4;
    if (at + length > bytes.byteLength) throw new Error("byte array value runs past its page");
    starts[i] = at;
    at += length;
    total += length;
    offsets[i + 1] = total;
  }
  const data = new Uint8Array(total);
  for (let i = 0; i < count; i++) {
    const start = starts[i]!;
    const n = offsets[i + 1]! - offsets[i]!;
    const to = offsets[i]!;
    if (n < 32) for (let k = 0; k < n; k++) data[to + k] = bytes[start + k]!;
    else data.set(bytes.subarray(start, start + n), to);
  }
  return { kind: "bytes", offsets, data, count };
}

/** Builds one column of `rows` rows from pages. */
class ColumnBuilder {
  readonly rows: number;
  readonly layout: Layout;
  readonly nullable: boolean;
  position = 0;
  nullCount = 0;
  validity: Uint8Array;
  fixed: FixedArray | undefined;
  bits: Uint8Array | undefined;
  offsets: Int32Array | undefined;
  bytes: Bytes | undefined;
  /** The dictionary of the pages so far and each row's entry, from the first page on. */
  #dictionary: { dense: Dense & { kind: "bytes" }; entries: Int32Array } | undefined;
  /** Rows appended from that dictionary: all of them when every page used it. */
  #fromDictionary = 0;

  constructor(rows: number, layout: Layout, nullable: boolean, byteHint: number, pool?: BufferPool) {
    this.rows = rows;
    this.layout = layout;
    this.nullable = nullable;
    this.validity = new Uint8Array(nullable ? Math.ceil(rows / 8) : 0);
    if (layout.kind === "fixed") {
      this.fixed = layout.make(rows);
    } else if (layout.kind === "bits") {
      this.bits = new Uint8Array(Math.ceil(rows / 8));
    } else {
      this.offsets = new Int32Array(rows + 1);
      this.bytes = new Bytes(byteHint, pool);
    }
  }

  /** Append `levels` rows: `defined[i]` says whether row i has a value; values come from `dense` in order. */
  append(levelCount: number, defined: Uint8Array | undefined, dense: Dense, indexes?: Int32Array): void {
    if (this.position + levelCount > this.rows)
      throw new Error(`more values than the row group's ${this.rows} rows`);
    if (indexes && dense.kind === "bytes" && this.offsets) {
      this.#appendFromDictionary(levelCount, defined, dense, indexes);
      return;
    }
    let v = 0;
    const start = this.position;
    for (let i = 0; i < levelCount; i++) {
      const row = start + i;
      const has = defined === undefined || defined[i] === 1;
      if (!has) {
        this.nullCount++;
        if (this.offsets) this.offsets[row + 1] = this.bytes!.length;
        continue;
      }
      if (this.nullable) this.validity[row >> 3]! |= 1 << (row & 7);
      const source = indexes ? indexes[v]! : v;
      v++;
      this.#put(row, dense, source);
    }
    if (v !== (indexes ? indexes.length : dense.count))
      throw new Error("a page holds a different number of values than its levels say");
    this.position += levelCount;
  }

  /**
   * A dictionary-encoded page of strings or binary: the room for its bytes reserved once, then each
   * row's value copied from its dictionary entry (the common case: pyarrow, Polars, DuckDB and ferry
   * write text this way).
   */
  #appendFromDictionary(
    levelCount: number,
    defined: Uint8Array | undefined,
    dense: Dense & { kind: "bytes" },
    indexes: Int32Array,
  ): void {
    const { offsets: entryOffsets, count } = dense;
    let total = 0;
    for (let v = 0; v < indexes.length; v++) {
      const source = indexes[v]!;
      if (source >= count || source < 0) throw new Error(`dictionary index ${source} out of range`);
      total += entryOffsets[source + 1]! - entryOffsets[source]!;
    }
    const start = this.position;
    const rowEntries = this.#rowEntries(levelCount, defined, indexes);
    const bytes = this.bytes!;
    // The chunk's byte hint counted the indexes, not the strings they stand for: room for the rows
    // still to come is reserved too, at this page's bytes per value (at most MAX_BYTES_HINT), so the
    // column's bytes are not copied to a buffer twice as large page after page.
    const rest = this.rows - start - levelCount;
    bytes.reserve(total + Math.min(Math.ceil((total / Math.max(1, indexes.length)) * rest), MAX_BYTES_HINT));
    bytes.length = gatherEntries(
      dense,
      rowEntries,
      total,
      bytes.data,
      bytes.length,
      this.offsets!,
      start + 1,
    );
    // While every page is of one dictionary, each row's entry is kept with the column.
    if (start === 0) this.#dictionary = { dense, entries: new Int32Array(this.rows) };
    if (this.#dictionary?.dense === dense) {
      this.#dictionary.entries.set(rowEntries, start);
      this.#fromDictionary += levelCount;
    }
    this.position += levelCount;
  }

  /** Each row's entry on a page (-1 for a null), its validity bits set and nulls counted. */
  #rowEntries(levelCount: number, defined: Uint8Array | undefined, indexes: Int32Array): Int32Array {
    const start = this.position;
    if (defined === undefined) {
      if (indexes.length !== levelCount)
        throw new Error("a page holds a different number of values than its levels say");
      if (this.nullable) setValid(this.validity, start, levelCount);
      return indexes;
    }
    const entries = new Int32Array(levelCount);
    let v = 0;
    for (let i = 0; i < levelCount; i++) {
      if (defined[i] !== 1) {
        entries[i] = -1;
        this.nullCount++;
        continue;
      }
      if (v >= indexes.length)
        throw new Error("a page holds a different number of values than its levels say");
      const row = start + i;
      this.validity[row >> 3]! |= 1 << (row & 7);
      entries[i] = indexes[v++]!;
    }
    if (v !== indexes.length)
      throw new Error("a page holds a different number of values than its levels say");
    return entries;
  }

  #put(row: number, dense: Dense, source: number): void {
    if (dense.kind === "fixed") {
      if (source >= dense.count) throw new Error(`dictionary index ${source} out of range`);
      (this.fixed as Float64Array)[row] = (dense.values as Float64Array)[source]!;
    } else if (dense.kind === "bits") {
      if (source >= dense.count) throw new Error(`dictionary index ${source} out of range`);
      if ((dense.bits[source >> 3]! >> (source & 7)) & 1) this.bits![row >> 3]! |= 1 << (row & 7);
    } else {
      if (source >= dense.count) throw new Error(`dictionary index ${source} out of range`);
      this.bytes!.append(dense.data, dense.offsets[source]!, dense.offsets[source + 1]!);
      this.offsets![row + 1] = this.bytes!.length;
    }
  }

  finish(): ColumnVector {
    if (this.position !== this.rows)
      throw new Error(`${this.position} values in a row group of ${this.rows} rows`);
    const validity = this.nullCount > 0 ? this.validity : undefined;
    const common = { length: this.rows, nullCount: this.nullCount, validity };
    if (this.layout.kind === "fixed") return { ...common, kind: "fixed", values: this.fixed! };
    if (this.layout.kind === "bits") return { ...common, kind: "bits", values: this.bits! };
    const bytes = this.bytes!;
    const data = bytes.data.subarray(0, bytes.length);
    const dictionary = this.#fromDictionary === this.rows ? this.#dictionary : undefined;
    if (!dictionary) return { ...common, kind: "bytes", offsets: this.offsets!, data };
    const { offsets: entryOffsets, data: entryData } = dictionary.dense;
    const hint = { offsets: entryOffsets, data: entryData, entries: dictionary.entries };
    return { ...common, kind: "bytes", offsets: this.offsets!, data, dictionary: hint };
  }
}

/** Fast path for a whole page of fixed-width values without nulls: one copy. */
function appendFixedDense(builder: ColumnBuilder, dense: Dense & { kind: "fixed" }): void {
  if (builder.position + dense.count > builder.rows)
    throw new Error(`more values than the row group's ${builder.rows} rows`);
  (builder.fixed as Float64Array).set(dense.values as Float64Array, builder.position);
  if (builder.nullable) setValid(builder.validity, builder.position, dense.count);
  builder.position += dense.count;
}

/**
 * A plain page without nulls appended straight from the page bytes into the column (no intermediate
 * array): fixed values whose stored width is the output's, booleans, byte arrays. False when the
 * layout needs a conversion (narrower ints), which the general path does.
 */
function appendPlainDirect(builder: ColumnBuilder, page: Uint8Array, at: number, count: number): boolean {
  const start = builder.position;
  if (start + count > builder.rows) throw new Error(`more values than the row group's ${builder.rows} rows`);
  const layout = builder.layout;
  if (layout.kind === "fixed") {
    const out = builder.fixed!;
    if (layout.width !== out.BYTES_PER_ELEMENT) return false;
    const end = at + count * layout.width;
    if (end > page.byteLength) throw new Error("page shorter than its values");
    new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(
      page.subarray(at, end),
      start * layout.width,
    );
  } else if (layout.kind === "bits") {
    if (at + Math.ceil(count / 8) > page.byteLength) throw new Error("boolean page shorter than its values");
    const bits = builder.bits!;
    if ((start & 7) === 0) bits.set(page.subarray(at, at + Math.ceil(count / 8)), start >> 3);
    else
      for (let i = 0; i < count; i++)
        if ((page[at + (i >> 3)]! >> (i & 7)) & 1) bits[(start + i) >> 3]! |= 1 << ((start + i) & 7);
  } else {
    const bytes = builder.bytes!;
    const offsets = builder.offsets!;
    bytes.reserve(page.byteLength - at);
    const out = bytes.data;
    let length = bytes.length;
    let p = at;
    for (let i = 0; i < count; i++) {
      if (p + 4 > page.byteLength) throw new Error("byte array page shorter than its values");
      const n = page[p]! | (page[p + 1]! << 8) | (page[p + 2]! << 16) | (page[p + 3]! << 24);
      p += 4;
      if (n < 0 || p + n > page.byteLength) throw new Error("byte array value runs past its page");
      if (n < 32) for (let k = 0; k < n; k++) out[length + k] = page[p + k]!;
      else out.set(page.subarray(p, p + n), length);
      length += n;
      p += n;
      offsets[start + i + 1] = length;
    }
    bytes.length = length;
  }
  if (builder.nullable) setValid(builder.validity, start, count);
  builder.position += count;
  return true;
}

/** Mark rows [start, start + count) valid. */
function setValid(validity: Uint8Array, start: number, count: number): void {
  let row = start;
  const end = start + count;
  while (row < end && (row & 7) !== 0) {
    validity[row >> 3]! |= 1 << (row & 7);
    row++;
  }
  if (end - row >= 8) {
    validity.fill(0xff, row >> 3, end >> 3);
    row = end & ~7;
  }
  for (; row < end; row++) validity[row >> 3]! |= 1 << (row & 7);
}

function readLevels(
  bytes: Uint8Array,
  offset: number,
  count: number,
  byteLength: number | undefined,
): { defined: Uint8Array | undefined; end: number; nulls: number } {
  const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset };
  const length = byteLength ?? reader.view.getUint32(offset, true);
  const start = byteLength === undefined ? offset + 4 : offset;
  const end = start + length;
  if (end > bytes.byteLength) throw new Error("definition levels run past their page");
  // A page without nulls is usually one run of "defined": no need to expand it.
  reader.offset = start;
  if (readVarInt(reader) === count << 1 && reader.offset < end && bytes[reader.offset] === 1)
    return { defined: undefined, end, nulls: 0 };
  const defined = new Uint8Array(count);
  reader.offset = start;
  readRleBitPackedHybrid(reader, 1, defined, length);
  let nulls = 0;
  for (let i = 0; i < count; i++) if (defined[i] !== 1) nulls++;
  return { defined: nulls > 0 ? defined : undefined, end, nulls };
}

function readIndexes(bytes: Uint8Array, offset: number, count: number): Int32Array {
  const indexes = new Int32Array(count);
  if (count === 0) return indexes;
  const bitWidth = bytes[offset]!;
  if (bitWidth > 32) throw new Error(`dictionary index width ${bitWidth}`);
  if (bitWidth === 0) return indexes;
  if (bitWidth <= MAX_HYBRID_WIDTH) {
    readHybrid(bytes, offset + 1, bytes.byteLength, bitWidth, indexes);
    return indexes;
  }
  const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: offset + 1 };
  readRleBitPackedHybrid(reader, bitWidth, indexes, bytes.byteLength - reader.offset);
  return indexes;
}

/** Boolean values in the RLE encoding (a 4-byte length, then the hybrid at width 1) as a bitmap. */
function readRleBooleans(bytes: Uint8Array, offset: number, count: number): Dense {
  const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset };
  const values = new Uint8Array(count);
  readRleBitPackedHybrid(reader, 1, values);
  const bits = new Uint8Array(Math.ceil(count / 8));
  for (let i = 0; i < count; i++) if (values[i]) bits[i >> 3]! |= 1 << (i & 7);
  return { kind: "bits", bits, count };
}

/** Pages up to this size are decompressed into one buffer per thread, reused page after page. */
const SCRATCH_PAGE = 16 * 1024 * 1024;
let scratchPage = new Uint8Array(0);

/**
 * A page's bytes decompressed: for most pages into the thread's scratch buffer, so the result is good
 * only until the next page (every decoder here copies its values out of the page).
 */
function pageBytes(
  compressed: Uint8Array,
  uncompressed: number,
  codec: ColumnMeta["codec"],
  decompressors: Decompressors,
): Uint8Array {
  if (codec === "UNCOMPRESSED" || uncompressed > SCRATCH_PAGE)
    return decompressPage(compressed, uncompressed, codec, decompressors);
  if (scratchPage.byteLength < uncompressed)
    scratchPage = new Uint8Array(Math.min(Math.max(uncompressed, scratchPage.byteLength * 2), SCRATCH_PAGE));
  const decompress = decompressors[codec];
  if (!decompress) return decompressPage(compressed, uncompressed, codec, decompressors);
  const page = decompress(compressed, uncompressed, scratchPage);
  if (page.byteLength !== uncompressed)
    throw new Error(
      `parquet decompressed page length ${page.byteLength} does not match header ${uncompressed}`,
    );
  return page;
}

/** One flat column chunk's pages into a column of the row group's rows. */
export function decodeChunk(
  chunk: Uint8Array,
  meta: NonNullable<ColumnChunk["meta_data"]>,
  rows: number,
  layout: Layout,
  nullable: boolean,
  decompressors: Decompressors,
  maxPageExpansion: number,
  pool: BufferPool | undefined,
): ColumnVector {
  // The footer's uncompressed size is only a claim: the first allocation is at most what the pages may
  // honestly decompress to (and at most MAX_BYTES_HINT); past it the bytes grow as pages really decode.
  const byteHint = Math.min(
    Number(meta.total_uncompressed_size),
    chunk.byteLength * maxPageExpansion,
    MAX_BYTES_HINT,
  );
  const builder = new ColumnBuilder(rows, layout, nullable, byteHint, pool);
  const reader = { view: new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength), offset: 0 };
  let dictionary: Dense | undefined;
  while (builder.position < rows) {
    if (reader.offset >= chunk.byteLength)
      throw new Error(`column chunk ends after ${builder.position} of ${rows} rows`);
    const header = parquetHeader(reader);
    const compressed = chunk.subarray(reader.offset, reader.offset + header.compressed_page_size);
    reader.offset += header.compressed_page_size;
    if (compressed.byteLength !== header.compressed_page_size) throw new Error("page runs past its chunk");
    if (header.type === "DICTIONARY_PAGE") {
      const uncompressed = Number(header.uncompressed_page_size);
      const page = pageBytes(compressed, uncompressed, meta.codec, decompressors);
      const count = header.dictionary_page_header!.num_values;
      dictionary = readPlainDense(page, 0, count, meta.type, layout);
      continue;
    }
    const data = readDataPage(header, compressed, meta.codec, nullable, decompressors);
    if (data) appendDataPage(builder, data, dictionary, meta.type, layout);
  }
  return builder.finish();
}

/** A data page's values, still encoded, after its definition levels. */
interface DataPage {
  page: Uint8Array;
  /** Where the values start in `page`. */
  at: number;
  encoding: string;
  /** Rows of the page, nulls included. */
  levelCount: number;
  defined: Uint8Array | undefined;
  nulls: number;
}

/** A v1 or v2 data page split into its levels and its (decompressed) values; undefined for an index page. */
function readDataPage(
  header: PageHeader,
  compressed: Uint8Array,
  codec: ColumnMeta["codec"],
  nullable: boolean,
  decompressors: Decompressors,
): DataPage | undefined {
  const uncompressed = Number(header.uncompressed_page_size);
  if (header.type === "DATA_PAGE") {
    const daph = header.data_page_header!;
    const page = pageBytes(compressed, uncompressed, codec, decompressors);
    const levelCount = daph.num_values;
    const levels = nullable ? readLevels(page, 0, levelCount, undefined) : undefined;
    return {
      page,
      at: levels?.end ?? 0,
      encoding: daph.encoding,
      levelCount,
      defined: levels?.defined,
      nulls: levels?.nulls ?? 0,
    };
  }
  if (header.type === "DATA_PAGE_V2") {
    const v2 = header.data_page_header_v2!;
    const levelCount = v2.num_values;
    if (v2.repetition_levels_byte_length !== 0) throw new NotColumnar("repetition levels in a flat column");
    const levelBytes = v2.definition_levels_byte_length;
    let levels: ReturnType<typeof readLevels> | undefined;
    if (nullable && levelBytes > 0) levels = readLevels(compressed, 0, levelCount, levelBytes);
    else if (nullable && v2.num_nulls > 0) throw new Error("a v2 page with nulls but no definition levels");
    const body = compressed.subarray(levelBytes);
    const page =
      v2.is_compressed === false ? body : pageBytes(body, uncompressed - levelBytes, codec, decompressors);
    return {
      page,
      at: 0,
      encoding: v2.encoding,
      levelCount,
      defined: levels?.defined,
      nulls: levels?.nulls ?? 0,
    };
  }
  return undefined; // index pages carry no rows
}

/** A data page's values decoded by their encoding onto the column. */
function appendDataPage(
  builder: ColumnBuilder,
  { page, at, encoding, levelCount, defined, nulls }: DataPage,
  dictionary: Dense | undefined,
  physical: ColumnMeta["type"],
  layout: Layout,
): void {
  const count = levelCount - nulls;
  if (encoding === "PLAIN" && defined === undefined && appendPlainDirect(builder, page, at, count)) {
    // copied straight from the page
  } else if (encoding === "PLAIN") {
    const dense = readPlainDense(page, at, count, physical, layout);
    if (defined === undefined && dense.kind === "fixed" && dense.count === levelCount)
      appendFixedDense(builder, dense);
    else builder.append(levelCount, defined, dense);
  } else if (encoding === "PLAIN_DICTIONARY" || encoding === "RLE_DICTIONARY") {
    if (!dictionary) throw new Error("dictionary-encoded page without a dictionary page");
    builder.append(levelCount, defined, dictionary, readIndexes(page, at, count));
  } else if (
    (encoding === "DELTA_BINARY_PACKED" && (physical === "INT32" || physical === "INT64")) ||
    (encoding === "BYTE_STREAM_SPLIT" && physical !== "FIXED_LEN_BYTE_ARRAY" && physical !== "BOOLEAN")
  ) {
    const dense = readFixedEncoded(page, at, count, encoding, physical, layout);
    if (defined === undefined && count === levelCount) appendFixedDense(builder, dense);
    else builder.append(levelCount, defined, dense);
  } else if (encoding === "RLE" && layout.kind === "bits") {
    builder.append(levelCount, defined, readRleBooleans(page, at, count));
  } else {
    throw new NotColumnar(`encoding ${encoding}`);
  }
}

/** DELTA_BINARY_PACKED or BYTE_STREAM_SPLIT values of a fixed-width column. */
function readFixedEncoded(
  page: Uint8Array,
  at: number,
  count: number,
  encoding: string,
  physical: ColumnMeta["type"],
  layout: Layout,
): Extract<Dense, { kind: "fixed" }> {
  if (layout.kind !== "fixed") throw new NotColumnar(`encoding ${encoding} for ${physical}`);
  const pageReader = { view: new DataView(page.buffer, page.byteOffset, page.byteLength), offset: at };
  let stored: FixedArray;
  if (encoding === "DELTA_BINARY_PACKED") {
    stored = physical === "INT32" ? new Int32Array(count) : new BigInt64Array(count);
    if (count > 0) deltaBinaryUnpack(pageReader, count, stored as Int32Array);
  } else {
    stored = byteStreamSplit(pageReader, count, physical, undefined) as FixedArray;
  }
  return { kind: "fixed", values: layout.view(stored, count), count };
}

/** The flat column's schema element, or undefined when the column is nested. */
function flatElement(open: OpenPart, name: string): SchemaElement | undefined {
  const schema = open.metadata.schema;
  // Root's direct children in order; a child with children (a group) is skipped whole.
  let index = 1;
  const skip = (): void => {
    const element = schema[index++]!;
    for (let i = 0; i < (element.num_children ?? 0); i++) skip();
  };
  for (let c = 0; c < (schema[0]?.num_children ?? 0); c++) {
    const element = schema[index];
    if (!element) return undefined;
    if (element.name === name) return element.num_children ? undefined : element;
    skip();
  }
  return undefined;
}

/**
 * Columns of one row group in columnar form: the flat columns whose layout this path decodes straight
 * from their pages; every other one through the value path (`readRowGroup`), so the values are the same.
 * The fetched bytes come from the row-group buffer pool and go back to it once decoded: nothing decoded
 * points into them (every page's values are copied into the column). `pool`: where string columns'
 * bytes come from, for a caller that drops the columns once it has converted them (readValueGroup).
 */
export async function readColumnarGroup(
  open: OpenPart,
  groupIndex: number,
  fields: readonly Field[],
  where: string,
  maxPageExpansion = DEFAULT_MAX_PAGE_EXPANSION,
  pool?: BufferPool,
  threads = false,
): Promise<Record<string, ColumnVector>> {
  const rows = open.rowGroups[groupIndex] ?? 0;
  const out: Record<string, ColumnVector> = {};
  const verify = chunkVerifier(
    open.file.byteLength,
    open.metadata,
    groupIndex,
    fields.map((f) => f.name),
    where,
  );
  const { planned, slow } = planChunks(open, groupIndex, fields, rows);
  await Promise.all(
    adjacentRanges(planned).map(async (range) => {
      // The fetched bytes, checked before anything decodes them.
      const fetchRange = async (): Promise<Uint8Array> => {
        const buffer = rowGroupBuffers.take(range.end - range.start);
        try {
          const bytes = buffer.subarray(0, await open.file.readInto(range.start, buffer));
          verify(bytes, range.start);
          return bytes;
        } catch (error) {
          rowGroupBuffers.give(buffer);
          throw describeFailure(error, where); // the page checks of a corrupt chunk
        }
      };
      const bytes = await fetchRange();
      const outcomes = threads
        ? await decodeRange(bytes, range, rows, maxPageExpansion, pool, fetchRange)
        : decodeHere(bytes, range, rows, maxPageExpansion, pool);
      for (const outcome of outcomes) {
        if ("column" in outcome) out[outcome.name] = outcome.column;
        else if ("notColumnar" in outcome) slow.push(outcome.name);
        else throw describeColumnFailure(outcome.error, where, outcome.name, groupIndex);
      }
    }),
  );
  if (slow.length > 0)
    Object.assign(out, await readSlowColumns(open, groupIndex, slow, where, maxPageExpansion));
  return out;
}

/**
 * One row group as JS values (the value path's answer), decoded through the columnar path where it
 * covers the column: string bytes come from the row-group buffer pool and go back once the strings
 * are made (the strings are copies).
 */
export async function readValueGroup(
  open: OpenPart,
  groupIndex: number,
  fields: readonly Field[],
  where: string,
  maxPageExpansion = DEFAULT_MAX_PAGE_EXPANSION,
  threads = false,
): Promise<Record<string, unknown[]>> {
  const columns = await readColumnarGroup(
    open,
    groupIndex,
    fields,
    where,
    maxPageExpansion,
    rowGroupBuffers,
    threads,
  );
  const out: Record<string, unknown[]> = {};
  for (const field of fields) {
    const column = columns[field.name]!;
    out[field.name] = columnValues(field.type, column);
    if (column.kind === "bytes") rowGroupBuffers.give(column.data);
  }
  return out;
}

/** A flat column chunk this path decodes, and where its bytes are in the file. */
interface PlannedChunk {
  field: Field;
  meta: ColumnMeta;
  element: SchemaElement;
  layout: Layout;
  start: number;
  end: number;
}

/** The fields read from their pages (`planned`) and the names of those the value path reads (`slow`). */
export function planChunks(
  open: OpenPart,
  groupIndex: number,
  fields: readonly Field[],
  rows: number,
): { planned: PlannedChunk[]; slow: string[] } {
  const group = open.metadata.row_groups[groupIndex];
  const planned: PlannedChunk[] = [];
  const slow: string[] = [];
  for (const field of fields) {
    const element = flatElement(open, field.name);
    const inFile = open.fileSchema.fields.find((f) => f.name === field.name);
    const meta = group?.columns.find(
      (c) => c.meta_data?.path_in_schema.length === 1 && c.meta_data.path_in_schema[0] === field.name,
    )?.meta_data;
    const layout =
      element && inFile && meta && sameType(field.type, inFile.type) && field.nullable === inFile.nullable
        ? layoutOf(meta.type, element, field.type)
        : undefined;
    const start = Number(meta?.dictionary_page_offset || meta?.data_page_offset);
    const end = start + Number(meta?.total_compressed_size);
    if (!layout || !meta || rows === 0 || !(start >= 0 && end <= open.file.byteLength && end >= start))
      slow.push(field.name);
    else planned.push({ field, meta, element: element!, layout, start, end });
  }
  return { planned, slow };
}

/** Column chunks fetched in one range read. */
interface ChunkRange {
  start: number;
  end: number;
  chunks: PlannedChunk[];
}

/** Chunks next to each other are fetched in one range read (a row group is usually one request). */
function adjacentRanges(planned: PlannedChunk[]): ChunkRange[] {
  planned.sort((a, b) => a.start - b.start);
  const ranges: ChunkRange[] = [];
  for (const chunk of planned) {
    const last = ranges.at(-1);
    if (last && chunk.start >= last.end && chunk.start - last.end <= MERGE_GAP) {
      last.end = Math.max(last.end, chunk.end);
      last.chunks.push(chunk);
    } else ranges.push({ start: chunk.start, end: chunk.end, chunks: [chunk] });
  }
  return ranges;
}

/** One column chunk of a decode job: where it is in the job's bytes, and what the decoder needs to know. */
export interface DecodeTask {
  name: string;
  start: number;
  end: number;
  meta: Pick<ColumnMeta, "type" | "codec" | "total_uncompressed_size">;
  element: SchemaElement;
  type: DataType;
  nullable: boolean;
}

/** A row group's (or a range's) chunks for a worker to decode. */
export interface DecodeJob {
  bytes: Uint8Array;
  rows: number;
  maxPageExpansion: number;
  tasks: DecodeTask[];
}

/** A failure as it crosses threads: its message, a FerryError's code, whether a decompression limit. */
interface WireError {
  message: string;
  code?: string | undefined;
  limit?: boolean | undefined;
}

/** What became of one task (a worker's error is a WireError; one on this thread, what was thrown). */
type Outcome =
  | { name: string; column: ColumnVector }
  | { name: string; notColumnar: true }
  | { name: string; error: unknown };

/** A worker's answer: the outcomes, and the job's bytes handed back. */
export interface DecodeReply {
  outcomes: Outcome[];
  bytes: Uint8Array;
}

/** The buffers of a reply, each once (to hand them back without copying). */
export function replyBuffers({ outcomes, bytes }: DecodeReply): ArrayBuffer[] {
  const views: (ArrayBufferView | undefined)[] = [bytes];
  for (const outcome of outcomes) {
    if (!("column" in outcome)) continue;
    const column = outcome.column;
    views.push(column.validity);
    if (column.kind === "bytes")
      views.push(
        column.offsets,
        column.data,
        column.dictionary?.offsets,
        column.dictionary?.data,
        column.dictionary?.entries,
      );
    else if (column.kind !== "values") views.push(column.values);
  }
  return buffersOf(views);
}

/**
 * A range's chunks (usually a whole row group) decoded, on a worker thread when the range is big enough
 * and one is ready (codec-threads.ts), else here. `bytes` are handed to the worker and come back with
 * its answer; either way they go back to the pool once decoded. A worker that fails hands the range
 * back to this thread, which fetches it again (the bytes went with the worker).
 */
async function decodeRange(
  bytes: Uint8Array,
  range: ChunkRange,
  rows: number,
  maxPageExpansion: number,
  pool: BufferPool | undefined,
  fetchRange: () => Promise<Uint8Array>,
): Promise<Outcome[]> {
  const here = (fetched: Uint8Array) => decodeHere(fetched, range, rows, maxPageExpansion, pool);
  if (!offThreadFor(bytes.byteLength)) return here(bytes);
  const job = jobOf(bytes, range, rows, maxPageExpansion);
  const reply = await runOffThread<DecodeReply>("decode", job, [bytes.buffer as ArrayBuffer]);
  if (!reply) return here(await fetchRange());
  rowGroupBuffers.give(reply.bytes);
  return reply.outcomes.map(fromWire);
}

/** A range's chunks decoded on this thread; its fetched bytes go back to the pool. */
function decodeHere(
  bytes: Uint8Array,
  range: ChunkRange,
  rows: number,
  maxPageExpansion: number,
  pool: BufferPool | undefined,
): Outcome[] {
  try {
    return range.chunks.map((c) =>
      decodeOne(bytes.subarray(c.start - range.start, c.end - range.start), c, rows, maxPageExpansion, pool),
    );
  } finally {
    rowGroupBuffers.give(bytes);
  }
}

/** A job for a worker: the range's bytes (handed over, not copied), and what decodes each chunk in it. */
function jobOf(bytes: Uint8Array, range: ChunkRange, rows: number, maxPageExpansion: number): DecodeJob {
  const tasks = range.chunks.map(({ field, meta, element, start, end }): DecodeTask => {
    const { type, codec, total_uncompressed_size } = meta;
    return {
      name: field.name,
      start: start - range.start,
      end: end - range.start,
      meta: { type, codec, total_uncompressed_size },
      element,
      type: field.type,
      nullable: field.nullable,
    };
  });
  return { bytes, rows, maxPageExpansion, tasks };
}

/** One chunk decoded on this thread; a failure is its outcome, not thrown. */
function decodeOne(
  chunk: Uint8Array,
  planned: Pick<PlannedChunk, "field" | "meta" | "layout">,
  rows: number,
  maxPageExpansion: number,
  pool: BufferPool | undefined,
): Outcome {
  const { field, meta, layout } = planned;
  try {
    const decompressors = decompressorsFor(maxPageExpansion);
    const column = decodeChunk(
      chunk,
      meta,
      rows,
      layout,
      field.nullable,
      decompressors,
      maxPageExpansion,
      pool,
    );
    return { name: field.name, column };
  } catch (error) {
    if (error instanceof NotColumnar) return { name: field.name, notColumnar: true };
    return { name: field.name, error };
  }
}

/** A worker's job (decode-worker.ts): each task decoded, failures described so they cross threads. */
export function decodeJob(job: DecodeJob): Outcome[] {
  return job.tasks.map((task) => {
    const layout = layoutOf(task.meta.type, task.element, task.type);
    if (!layout) return { name: task.name, notColumnar: true };
    const field = { name: task.name, type: task.type, nullable: task.nullable };
    const meta = task.meta as ColumnMeta;
    const outcome = decodeOne(
      job.bytes.subarray(task.start, task.end),
      { field, meta, layout },
      job.rows,
      job.maxPageExpansion,
      undefined,
    );
    if (!("error" in outcome)) return outcome;
    const { error } = outcome;
    const wire: WireError = {
      message: error instanceof Error ? error.message : String(error),
      code: FerryError.isInstance(error) ? error.code : undefined,
      limit: error instanceof DecompressionLimit,
    };
    return { name: task.name, error: wire };
  });
}

/** A worker's outcome with its failure made an error again, of the kind it was. */
function fromWire(outcome: Outcome): Outcome {
  if (!("error" in outcome)) return outcome;
  const { message, code, limit } = outcome.error as WireError;
  const error = limit
    ? new DecompressionLimit(message)
    : code
      ? new FerryError(code as FerryError["code"], message)
      : new Error(message);
  return { name: outcome.name, error };
}

/** The columns this path does not decode, through the value path (`readRowGroup`), so the values are the same. */
async function readSlowColumns(
  open: OpenPart,
  groupIndex: number,
  slow: readonly string[],
  where: string,
  maxPageExpansion: number,
): Promise<Record<string, ColumnVector>> {
  const values = await readRowGroup(open, groupIndex, slow, where, maxPageExpansion);
  const out: Record<string, ColumnVector> = {};
  for (const name of slow) {
    const column = values[name];
    if (!column) throw errors.invalidInput(`${where}: column "${name}" could not be read`);
    out[name] = valuesColumn(column);
  }
  return out;
}

const utf8 = new TextDecoder();
const DAY_MS = 86_400_000;
/** Well under V8's longest string (2^29 - 24 units). */
const MAX_DECODED_LENGTH = 2 ** 28;

/**
 * Bytes [start, end) as one string when they are all ASCII: then byte offsets are string offsets, and
 * each value is a slice of one native decode instead of a decode of its own. Undefined otherwise.
 */
export function asciiText(bytes: Uint8Array, start: number, end: number): string | undefined {
  if (end - start > MAX_DECODED_LENGTH) return undefined;
  // One native decode: every non-ASCII byte either joins a sequence (fewer units than bytes) or becomes U+FFFD.
  const text = utf8.decode(bytes.subarray(start, end));
  return text.length === end - start && !text.includes("\uFFFD") ? text : undefined;
}

/** float16 bits as a number (as the value path reads them). */
function float16(bits: number): number {
  const sign = bits >> 15 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 0x1f) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** A column in ferry's JS values (the table in types.ts): what the value path gives for the same column. */
export function columnValues(type: DataType, column: ColumnVector): unknown[] {
  if (column.kind === "values") return column.values;
  const { length, validity } = column;
  const out = new Array<unknown>(length);
  const each = (read: (i: number) => unknown) => {
    if (!validity) for (let i = 0; i < length; i++) out[i] = read(i);
    else for (let i = 0; i < length; i++) out[i] = (validity[i >> 3]! >> (i & 7)) & 1 ? read(i) : null;
    return out;
  };
  if (column.kind === "bits") {
    const bits = column.values;
    return each((i) => ((bits[i >> 3]! >> (i & 7)) & 1) === 1);
  }
  if (column.kind === "bytes") {
    const { offsets, data, dictionary } = column;
    if (type.type === "binary") return each((i) => data.slice(offsets[i]!, offsets[i + 1]!));
    if (dictionary) {
      // Each distinct string decoded once; rows share it.
      const distinct = columnValues(type, {
        kind: "bytes",
        length: dictionary.offsets.length - 1,
        nullCount: 0,
        validity: undefined,
        offsets: dictionary.offsets,
        data: dictionary.data,
      });
      const { entries } = dictionary;
      return each((i) => distinct[entries[i]!]);
    }
    const text = asciiText(data, 0, offsets[length]!);
    if (text !== undefined) return each((i) => text.slice(offsets[i]!, offsets[i + 1]!));
    return each((i) => utf8.decode(data.subarray(offsets[i]!, offsets[i + 1]!)));
  }
  const values = column.values;
  if (type.type === "date") return each((i) => new Date((values[i] as number) * DAY_MS));
  if (type.type === "timestamp" && (type.unit === "ms" || type.unit === "s"))
    return each((i) => new Date(Number(values[i])));
  if (type.type === "float" && type.bits === 16) return each((i) => float16(values[i] as number));
  return each((i) => values[i]);
}
