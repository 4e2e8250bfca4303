/**
 * ferry's reader of the RLE / bit-packed hybrid (dictionary indexes) against hyparquet's: the same
 * values for every width from 1 to 24 over seeded runs of repeats and noise, an error (never a hang or
 * a short answer) for every truncation, and no hang on garbage.
 */
import { readRleBitPackedHybrid } from "hyparquet/src/encoding.js";
import { ByteWriter } from "hyparquet-writer";
import { writeRleBitPackedHybrid } from "hyparquet-writer/src/encoding.js";
import { describe, expect, it } from "vitest";
import { createRandom } from "../src/random.ts";
import { MAX_HYBRID_WIDTH, readHybrid } from "../src/rle-hybrid.ts";

/** Values below 2^width: runs of one value (RLE) between stretches of noise (bit-packed). */
function values(width: number, count: number, next: () => number): Int32Array {
  const out = new Int32Array(count);
  const top = 2 ** width;
  for (let i = 0; i < count; ) {
    const run = Math.min(count - i, 1 + Math.floor(next() * (next() < 0.3 ? 40 : 6)));
    const repeat = next() < 0.4;
    const value = Math.floor(next() * top);
    for (let k = 0; k < run; k++) out[i + k] = repeat ? value : Math.floor(next() * top);
    i += run;
  }
  return out;
}

function encode(input: Int32Array, width: number): Uint8Array {
  const writer = new ByteWriter();
  writeRleBitPackedHybrid(writer, input, width);
  return writer.getBytes().slice();
}

function theirs(bytes: Uint8Array, width: number, count: number): Int32Array {
  const out = new Int32Array(count);
  const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 };
  readRleBitPackedHybrid(reader, width, out, bytes.byteLength);
  return out;
}

describe("readHybrid", () => {
  it("gives hyparquet's values for every width and length", () => {
    const next = createRandom("rle-hybrid");
    for (let width = 1; width <= MAX_HYBRID_WIDTH; width++) {
      for (const count of [1, 7, 8, 9, 100, 1_001, 20_000]) {
        const input = values(width, count, next);
        const bytes = encode(input, width);
        const ours = new Int32Array(count);
        readHybrid(bytes, 0, bytes.byteLength, width, ours);
        expect(ours, `width ${width}, ${count} values`).toEqual(input);
        expect(theirs(bytes, width, count), `width ${width}, ${count} values`).toEqual(input);
      }
    }
  });

  it("reads from an offset and stops at its end, ignoring bytes beyond", () => {
    const input = values(13, 1_000, createRandom("offset"));
    const bytes = encode(input, 13);
    const framed = new Uint8Array(bytes.byteLength + 10).fill(0xff);
    framed.set(bytes, 3);
    const out = new Int32Array(1_000);
    readHybrid(framed, 3, 3 + bytes.byteLength, 13, out);
    expect(out).toEqual(input);
  });

  it("every truncation gives an error or all the values, never a short answer", () => {
    const next = createRandom("truncated");
    for (const width of [1, 5, 8, 13, 24]) {
      const input = values(width, 300, next);
      const bytes = encode(input, width);
      for (let end = 0; end < bytes.byteLength; end++) {
        const out = new Int32Array(300);
        let threw = false;
        try {
          readHybrid(bytes, 0, end, width, out);
        } catch {
          threw = true;
        }
        // Either an error or every value: a cut inside the last group's padding may still hold them all.
        if (!threw) expect(out, `width ${width} cut at ${end}`).toEqual(input);
      }
      // Cut in the middle of the values: always an error.
      expect(() => readHybrid(bytes, 0, bytes.byteLength >> 1, width, new Int32Array(300))).toThrow(
        /out of range|too long/,
      );
    }
  });

  it("garbage ends in an error or values, never a hang", () => {
    const next = createRandom("garbage");
    for (let trial = 0; trial < 2_000; trial++) {
      const bytes = Uint8Array.from({ length: 1 + Math.floor(next() * 40) }, () => Math.floor(next() * 256));
      const width = 1 + Math.floor(next() * MAX_HYBRID_WIDTH);
      const out = new Int32Array(1 + Math.floor(next() * 500));
      try {
        readHybrid(bytes, 0, bytes.byteLength, width, out);
      } catch (error) {
        expect((error as Error).message).toMatch(/out of range|too long/);
        continue;
      }
      expect(out.every((v) => v >= 0 && v < 2 ** width)).toBe(true);
    }
  });
});
