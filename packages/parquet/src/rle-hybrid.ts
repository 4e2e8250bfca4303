/**
 * Parquet's RLE / bit-packed hybrid encoding, read into an Int32Array: the dictionary indexes of
 * every dictionary-encoded page. hyparquet's reader takes one byte at a time through a DataView with
 * a branch per bit window; here a bit-packed run is read a 32-bit window per value (widths up to 24
 * bits, which every dictionary of up to 16M entries fits), and a run of one value is a fill.
 */

/** The most bits per value read here; wider ones go to hyparquet's reader. */
export const MAX_HYBRID_WIDTH = 24;

/**
 * Fill `out` from the hybrid runs in `bytes[at, end)`, `width` bits per value (1 to MAX_HYBRID_WIDTH).
 * Throws when the runs end before `out` is full or a run claims bytes past `end`.
 */
export function readHybrid(bytes: Uint8Array, at: number, end: number, width: number, out: Int32Array): void {
  const mask = (1 << width) - 1;
  const valueBytes = (width + 7) >> 3;
  let seen = 0;
  while (seen < out.length) {
    let header = 0;
    let shift = 0;
    let byte: number;
    do {
      if (at >= end) throw new Error(`parquet bitpack offset ${at} out of range`);
      if (shift > 28) throw new Error("parquet hybrid run header too long");
      byte = bytes[at++]!;
      header |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80);
    header >>>= 0;
    if (header & 1) {
      const groups = header >>> 1;
      const wanted = Math.min(groups * 8, out.length - seen);
      const needed = Math.ceil((wanted * width) / 8);
      if (at + needed > end) throw new Error(`parquet bitpack offset ${end} out of range`);
      unpack(bytes, at, end, width, mask, out, seen, wanted);
      seen += wanted;
      at = Math.min(end, at + groups * width);
    } else {
      const count = Math.min(header >>> 1, out.length - seen);
      if (at + valueBytes > end) throw new Error(`parquet rle offset ${at} out of range`);
      let value = 0;
      for (let i = 0; i < valueBytes; i++) value |= bytes[at + i]! << (8 * i);
      at += valueBytes;
      out.fill(value & mask, seen, seen + count);
      seen += count;
    }
  }
}

/** `count` values of `width` bits from `bytes[at...]` into `out[seen...]`. */
function unpack(
  bytes: Uint8Array,
  at: number,
  end: number,
  width: number,
  mask: number,
  out: Int32Array,
  seen: number,
  count: number,
): void {
  let i = 0;
  // A value's 32-bit window starts at its first byte; those whose window lies inside the run are read
  // whole, the last few byte by byte.
  for (let bit = 0; i < count; i++, bit += width) {
    const first = at + (bit >> 3);
    if (first + 4 > end) break;
    const window =
      bytes[first]! | (bytes[first + 1]! << 8) | (bytes[first + 2]! << 16) | (bytes[first + 3]! << 24);
    out[seen + i] = (window >>> (bit & 7)) & mask;
  }
  for (let bit = i * width; i < count; i++, bit += width) {
    const first = at + (bit >> 3);
    let window = 0;
    for (let k = 0; k < 4 && first + k < end; k++) window |= bytes[first + k]! << (8 * k);
    out[seen + i] = (window >>> (bit & 7)) & mask;
  }
}
