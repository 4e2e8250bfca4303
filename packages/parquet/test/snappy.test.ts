/**
 * ferry's snappy decoder (WebAssembly assembled in snappy.ts) against the format: seeded streams of
 * every element kind — literals with their length in the tag and in 1–4 bytes after it, copies with
 * 1-, 2- and 4-byte offsets, overlapping copies down to offset 1 — encoded here by the format's
 * description and decoded byte by byte in this file for the expected answer; hysnappy's compressor's
 * output for real column data; every truncation and seeded corruption ends in a SnappyError, never a
 * wrong length, a trap or bytes outside the output.
 */
import { snappyCompressor } from "hysnappy";
import { describe, expect, it } from "vitest";
import { createRandom } from "../src/random.ts";
import { SnappyError, snappyDecompress } from "../src/snappy.ts";

type Element = { literal: Uint8Array } | { offset: number; length: number };

function varint(value: number): number[] {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

/** Little-endian bytes of `value`. */
const le = (value: number, bytes: number) =>
  Array.from({ length: bytes }, (_, i) => (value >>> (8 * i)) & 0xff);

/** The element's bytes; `wide` forces the longest form the format allows for it. */
function encodeElement(element: Element, wide: boolean): number[] {
  if ("literal" in element) {
    const n = element.literal.byteLength - 1;
    const extra = wide ? 4 : n < 60 ? 0 : n < 2 ** 8 ? 1 : n < 2 ** 16 ? 2 : n < 2 ** 24 ? 3 : 4;
    const tag = extra === 0 ? n << 2 : (59 + extra) << 2;
    return [tag, ...le(n, extra), ...element.literal];
  }
  const { offset, length } = element;
  if (!wide && length >= 4 && length <= 11 && offset < 2048)
    return [1 | ((length - 4) << 2) | ((offset >> 8) << 5), offset & 0xff];
  if (!wide && offset < 65536) return [2 | ((length - 1) << 2), ...le(offset, 2)];
  return [3 | ((length - 1) << 2), ...le(offset, 4)];
}

/** What the elements decode to, a byte at a time. */
function reference(elements: readonly Element[]): Uint8Array {
  const out: number[] = [];
  for (const element of elements) {
    if ("literal" in element) out.push(...element.literal);
    else for (let i = 0; i < element.length; i++) out.push(out[out.length - element.offset]!);
  }
  return Uint8Array.from(out);
}

/** A valid stream of `count` elements: short and long literals, copies near and far, overlapping ones. */
function randomElements(next: () => number, count: number): Element[] {
  const elements: Element[] = [];
  let written = 0;
  for (let i = 0; i < count; i++) {
    if (written === 0 || next() < 0.35) {
      const length = next() < 0.8 ? 1 + Math.floor(next() * 20) : 1 + Math.floor(next() * 3000);
      const literal = Uint8Array.from({ length }, () => Math.floor(next() * 256));
      elements.push({ literal });
      written += length;
    } else {
      const near = next() < 0.5;
      const offset = 1 + Math.floor(next() * (near ? Math.min(written, 9) : written));
      const length = next() < 0.7 ? 4 + Math.floor(next() * 8) : 1 + Math.floor(next() * 64);
      elements.push({ offset, length });
      written += length;
    }
  }
  return elements;
}

function stream(elements: readonly Element[], next: () => number): { bytes: Uint8Array; length: number } {
  const length = reference(elements).byteLength;
  const body = elements.flatMap((e) => encodeElement(e, next() < 0.2));
  return { bytes: Uint8Array.from([...varint(length), ...body]), length };
}

function decodeOrError(bytes: Uint8Array, length: number): Uint8Array | SnappyError {
  try {
    return snappyDecompress(bytes, length);
  } catch (error) {
    if (error instanceof SnappyError) return error;
    throw error; // a trap or any other failure fails the test
  }
}

describe("snappyDecompress", () => {
  it("decodes every element kind as the format describes (seeded streams)", () => {
    const next = createRandom("snappy-elements");
    for (let round = 0; round < 400; round++) {
      const elements = randomElements(next, 1 + Math.floor(next() * 60));
      const { bytes, length } = stream(elements, next);
      expect(snappyDecompress(bytes, length), `round ${round}`).toEqual(reference(elements));
    }
  });

  it("decodes the longest literal lengths and far copies", () => {
    const next = createRandom("snappy-far");
    const big = Uint8Array.from({ length: 70_000 }, () => Math.floor(next() * 256));
    const elements: Element[] = [
      { literal: big },
      { offset: 69_999, length: 64 }, // a 4-byte offset (more than 65,535 back)
      { offset: 1, length: 64 }, // a run of one byte
      { offset: 3, length: 7 },
    ];
    for (const wide of [false, true]) {
      const length = reference(elements).byteLength;
      const bytes = Uint8Array.from([...varint(length), ...elements.flatMap((e) => encodeElement(e, wide))]);
      expect(snappyDecompress(bytes, length)).toEqual(reference(elements));
    }
  });

  it("gives back what hysnappy's compressor was given, for column-like data of many sizes", () => {
    const compress = snappyCompressor();
    const next = createRandom("snappy-columns");
    for (const size of [0, 1, 15, 16, 17, 63, 64, 65, 4_096, 65_535, 65_536, 65_537, 1_000_003]) {
      const view = new DataView(new ArrayBuffer(size));
      for (let i = 0; i + 8 <= size; i += 8) view.setFloat64(i, Math.floor(next() * 1000) / 7);
      const input = new Uint8Array(view.buffer);
      expect(snappyDecompress(compress(input), size), `${size} bytes`).toEqual(input);
    }
  });

  it("writes into a target it is given, and into a new array when the target is too small", () => {
    const compress = snappyCompressor();
    const input = new TextEncoder().encode("name-1,name-2,name-1,name-2,name-3".repeat(100));
    const target = new Uint8Array(input.byteLength + 100).fill(7);
    const into = snappyDecompress(compress(input), input.byteLength, target);
    expect(into.buffer).toBe(target.buffer);
    expect(into).toEqual(input);
    expect(target[input.byteLength]).toBe(7);
    const small = snappyDecompress(compress(input), input.byteLength, new Uint8Array(10));
    expect(small).toEqual(input);
  });

  it("refuses a page whose header or caller claims another length", () => {
    const compress = snappyCompressor();
    const bytes = compress(new Uint8Array(1000).fill(3));
    expect(() => snappyDecompress(bytes, 999)).toThrow(/length header/);
    expect(() => snappyDecompress(bytes, 1001)).toThrow(/length header/);
    expect(() => snappyDecompress(Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), 0)).toThrow(
      SnappyError,
    );
  });

  it("ends every truncation in an error", () => {
    const next = createRandom("snappy-truncated");
    const { bytes, length } = stream(randomElements(next, 40), next);
    for (let cut = 0; cut < bytes.byteLength; cut++) {
      expect(decodeOrError(bytes.subarray(0, cut), length), `cut at ${cut}`).toBeInstanceOf(SnappyError);
    }
  });

  it("ends corrupt streams in an error or exactly the claimed length (seeded flips)", () => {
    const next = createRandom("snappy-flips");
    let refused = 0;
    for (let round = 0; round < 3000; round++) {
      const { bytes, length } = stream(randomElements(next, 30), next);
      const corrupt = bytes.slice();
      for (let flips = 1 + Math.floor(next() * 3); flips > 0; flips--)
        corrupt[Math.floor(next() * corrupt.byteLength)]! ^= 1 << Math.floor(next() * 8);
      const result = decodeOrError(corrupt, length);
      if (result instanceof SnappyError) refused++;
      else expect(result.byteLength).toBe(length);
    }
    // Most flips land in literal bytes (still a valid stream); enough hit tags, lengths and offsets.
    expect(refused).toBeGreaterThan(150);
  });

  it("refuses copies that reach before the output and elements past its end", () => {
    // "ab", then a copy 3 back: before the start.
    expect(() => snappyDecompress(Uint8Array.from([6, 1 << 2, 97, 98, 2 | (3 << 2), 3, 0]), 6)).toThrow(
      /before the start/,
    );
    // A literal of 4 in a stream that claims 2 bytes.
    expect(() => snappyDecompress(Uint8Array.from([2, 3 << 2, 1, 2, 3, 4]), 2)).toThrow(/more than/);
    // An offset of 0.
    expect(() => snappyDecompress(Uint8Array.from([5, 0, 97, 2 | (3 << 2), 0, 0]), 5)).toThrow(
      /before the start/,
    );
  });
});
