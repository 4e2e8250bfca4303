/**
 * The rows a filter kept, taken out of a decoded column: JS values or columnar buffers (typed arrays,
 * bits, offsets and bytes, validity), without going through a JS value per row for the latter.
 */

import type { ColumnVector } from "@ferry/plugin-kit";

const bit = (bits: Uint8Array, i: number): number => (bits[i >> 3]! >> (i & 7)) & 1;

/** `rows` (ascending indexes) of `values`. */
export function takeValues(values: readonly unknown[], rows: Uint32Array): unknown[] {
  const out = new Array<unknown>(rows.length);
  for (let j = 0; j < rows.length; j++) out[j] = values[rows[j]!];
  return out;
}

function takeBits(bits: Uint8Array, rows: Uint32Array): Uint8Array {
  const out = new Uint8Array((rows.length + 7) >> 3);
  for (let j = 0; j < rows.length; j++) if (bit(bits, rows[j]!)) out[j >> 3]! |= 1 << (j & 7);
  return out;
}

/** `rows` (ascending indexes) of a columnar vector, in the same layout. */
export function takeVector(vector: ColumnVector, rows: Uint32Array): ColumnVector {
  const validity = vector.validity && takeBits(vector.validity, rows);
  let nullCount = 0;
  if (validity) for (let j = 0; j < rows.length; j++) if (!bit(validity, j)) nullCount++;
  const base = { length: rows.length, nullCount, validity };
  switch (vector.kind) {
    case "values": {
      const values = takeValues(vector.values, rows);
      let nulls = 0;
      for (const value of values) if (value === null || value === undefined) nulls++;
      return { ...base, nullCount: nulls, kind: "values", values };
    }
    case "bits":
      return { ...base, kind: "bits", values: takeBits(vector.values, rows) };
    case "fixed": {
      const source = vector.values;
      const values = new (source.constructor as new (length: number) => typeof source)(rows.length);
      for (let j = 0; j < rows.length; j++) values[j] = source[rows[j]!]!;
      return { ...base, kind: "fixed", values };
    }
    case "bytes": {
      const { offsets, data } = vector;
      let size = 0;
      for (let j = 0; j < rows.length; j++) size += offsets[rows[j]! + 1]! - offsets[rows[j]!]!;
      const outOffsets = new Int32Array(rows.length + 1);
      const outData = new Uint8Array(size);
      let at = 0;
      for (let j = 0; j < rows.length; j++) {
        const start = offsets[rows[j]!]!;
        const end = offsets[rows[j]! + 1]!;
        outData.set(data.subarray(start, end), at);
        at += end - start;
        outOffsets[j + 1] = at;
      }
      return { ...base, kind: "bytes", offsets: outOffsets, data: outData };
    }
  }
}
