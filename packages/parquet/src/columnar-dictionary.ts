/**
 * Dictionary encoding of a text or binary column chunk, for the columnar writer: each distinct value
 * once in a dictionary page, each row an index into it (RLE_DICTIONARY), as Arrow's, Polars' and
 * parquet-mr's writers do by default. A column of repeated labels, categories or file names shrinks
 * to a few bits a row, so the file is smaller and there is less to compress, decompress and compare
 * for statistics. Values are found by a hash of their bytes (no JavaScript string per row).
 */

import type { ColumnVector } from "./columnar.ts";

/**
 * A dictionary page holds at most this many bytes of plain values (Arrow's default limit); a chunk
 * with more distinct bytes is written plain.
 */
export const MAX_DICTIONARY_BYTES = 1024 * 1024;

/** A chunk's distinct values in order of first appearance, and the entry of each row. */
export interface Dictionary {
  /** How many distinct values. */
  count: number;
  /** The row where each entry first appears (its bytes are that row's). */
  rows: Int32Array;
  /** The entry of each row (0 for a null). */
  entries: Int32Array;
  /** The dictionary page's plain bytes: each value's 4-byte length, then its bytes. */
  plainBytes: number;
  /** Bits per index in the data pages. */
  bitWidth: number;
}

type BytesColumn = ColumnVector & { kind: "bytes" };

function isValid(validity: Uint8Array | undefined, row: number): boolean {
  return validity === undefined || ((validity[row >> 3]! >> (row & 7)) & 1) === 1;
}

function sameBytes(data: Uint8Array, a: number, aEnd: number, b: number, bEnd: number): boolean {
  if (aEnd - a !== bEnd - b) return false;
  for (let i = 0; i < aEnd - a; i++) if (data[a + i] !== data[b + i]) return false;
  return true;
}

/** FNV-1a over a row's bytes. */
function hashBytes(data: Uint8Array, from: number, to: number): number {
  let hash = 0x811c9dc5 | 0;
  for (let k = from; k < to; k++) hash = Math.imul(hash ^ data[k]!, 0x01000193);
  return hash;
}

/** An open-addressing table from hash to entry + 1 (0: empty), kept at most half full. */
class EntryTable {
  slots = new Int32Array(1024);
  mask = 1023;

  /** Rebuilt twice as large from the entries' hashes. */
  grow(hashes: Int32Array, count: number): void {
    this.slots = new Int32Array(this.slots.length * 2);
    this.mask = this.slots.length - 1;
    for (let e = 0; e < count; e++) {
      let slot = hashes[e]! & this.mask;
      while (this.slots[slot] !== 0) slot = (slot + 1) & this.mask;
      this.slots[slot] = e + 1;
    }
  }
}

function grown(array: Int32Array<ArrayBuffer>, needed: number): Int32Array<ArrayBuffer> {
  if (needed <= array.length) return array;
  const bigger = new Int32Array(array.length * 2);
  bigger.set(array);
  return bigger;
}

/**
 * The dictionary of a text or binary chunk, or undefined when one does not pay: its values take more
 * than MAX_DICTIONARY_BYTES, or more than half the rows are distinct (the indexes would only add).
 */
export function dictionaryOf(column: BytesColumn): Dictionary | undefined {
  const { offsets, data, validity, length } = column;
  const entries = new Int32Array(length);
  const table = new EntryTable();
  let rows = new Int32Array(256);
  let hashes = new Int32Array(256);
  let count = 0;
  let plainBytes = 0;
  const most = length >> 1;
  for (let row = 0; row < length; row++) {
    if (!isValid(validity, row)) continue;
    const from = offsets[row]!;
    const to = offsets[row + 1]!;
    const hash = hashBytes(data, from, to);
    let slot = hash & table.mask;
    let entry = -1;
    for (let found = table.slots[slot]!; found !== 0; found = table.slots[slot]!) {
      const e = found - 1;
      const first = rows[e]!;
      if (hashes[e] === hash && sameBytes(data, offsets[first]!, offsets[first + 1]!, from, to)) {
        entry = e;
        break;
      }
      slot = (slot + 1) & table.mask;
    }
    if (entry < 0) {
      plainBytes += 4 + to - from;
      if (plainBytes > MAX_DICTIONARY_BYTES || count >= most) return undefined;
      entry = count++;
      rows = grown(rows, count);
      hashes = grown(hashes, count);
      rows[entry] = row;
      hashes[entry] = hash;
      table.slots[slot] = count;
      if (count * 2 > table.slots.length) table.grow(hashes, count);
    }
    entries[row] = entry;
  }
  if (count === 0) return undefined;
  const bitWidth = Math.max(1, 32 - Math.clz32(count - 1));
  return { count, rows, entries, plainBytes, bitWidth };
}

/** The dictionary page's values: PLAIN, each a 4-byte little-endian length then its bytes. */
export function dictionaryPage(column: BytesColumn, dictionary: Dictionary): Uint8Array {
  const { offsets, data } = column;
  const page = new Uint8Array(dictionary.plainBytes);
  const view = new DataView(page.buffer);
  let at = 0;
  for (let e = 0; e < dictionary.count; e++) {
    const row = dictionary.rows[e]!;
    const from = offsets[row]!;
    const n = offsets[row + 1]! - from;
    view.setUint32(at, n, true);
    page.set(data.subarray(from, from + n), at + 4);
    at += 4 + n;
  }
  return page;
}

/** Unsigned byte order (code point order for UTF-8), as parquet's BYTE_ARRAY statistics use. */
function compareRows(column: BytesColumn, a: number, b: number): number {
  const { offsets, data } = column;
  const aFrom = offsets[a]!;
  const bFrom = offsets[b]!;
  const aLength = offsets[a + 1]! - aFrom;
  const bLength = offsets[b + 1]! - bFrom;
  const length = Math.min(aLength, bLength);
  for (let i = 0; i < length; i++) {
    const d = data[aFrom + i]! - data[bFrom + i]!;
    if (d !== 0) return d;
  }
  return aLength - bLength;
}

/**
 * Each entry's place in byte order (so a page's least and greatest value are its least and greatest
 * rank: integers compared, not bytes), and the entry at each place.
 */
export function dictionaryOrder(
  column: BytesColumn,
  dictionary: Dictionary,
): { rank: Int32Array; sorted: Int32Array } {
  const sorted = new Int32Array(dictionary.count);
  for (let e = 0; e < dictionary.count; e++) sorted[e] = e;
  const { rows } = dictionary;
  sorted.sort((a, b) => compareRows(column, rows[a]!, rows[b]!));
  const rank = new Int32Array(dictionary.count);
  for (let place = 0; place < sorted.length; place++) rank[sorted[place]!] = place;
  return { rank, sorted };
}

/** The valid rows' entries among rows [start, end), in order (the data page's indexes). */
export function pageEntries(
  column: BytesColumn,
  dictionary: Dictionary,
  start: number,
  end: number,
): Int32Array {
  const { validity } = column;
  if (!validity) return dictionary.entries.subarray(start, end);
  const out = new Int32Array(end - start);
  let n = 0;
  for (let row = start; row < end; row++) if (isValid(validity, row)) out[n++] = dictionary.entries[row]!;
  return out.subarray(0, n);
}
