/**
 * The WebAssembly gather of dictionary text (dictionary-gather.ts) against a plain loop: seeded
 * dictionaries with empty, short, 16-byte and long entries, rows with nulls, written after what a
 * column already holds; dictionaries alternating between calls (each call must use its own, not the
 * one loaded before) and pages large enough to grow the memory between calls.
 */
import { describe, expect, it } from "vitest";
import { type BytesEntries, gatherEntries } from "../src/dictionary-gather.ts";
import { createRandom } from "../src/random.ts";

function dictionary(next: () => number, count: number, longest: number): BytesEntries {
  const offsets = new Int32Array(count + 1);
  const parts: number[] = [];
  for (let e = 0; e < count; e++) {
    const length = next() < 0.1 ? 16 : Math.floor(next() ** 2 * longest);
    for (let k = 0; k < length; k++) parts.push(Math.floor(next() * 256));
    offsets[e + 1] = parts.length;
  }
  return { offsets, data: Uint8Array.from(parts) };
}

function expected(dict: BytesEntries, indexes: Int32Array, at: number) {
  const bytes: number[] = [];
  const ends: number[] = [];
  for (const index of indexes) {
    if (index >= 0)
      for (let k = dict.offsets[index]!; k < dict.offsets[index + 1]!; k++) bytes.push(dict.data[k]!);
    ends.push(at + bytes.length);
  }
  return { bytes: Uint8Array.from(bytes), ends: Int32Array.from(ends) };
}

function gathered(dict: BytesEntries, indexes: Int32Array, at: number, first: number) {
  const want = expected(dict, indexes, at);
  const out = new Uint8Array(at + want.bytes.byteLength + 5).fill(0xee);
  const offsets = new Int32Array(first + indexes.length + 2).fill(-7);
  const end = gatherEntries(dict, indexes, want.bytes.byteLength, out, at, offsets, first);
  return { want, out, offsets, end };
}

describe("gatherEntries", () => {
  it("copies each row's entry and records where it ends, nulls adding nothing", () => {
    const next = createRandom("gather");
    for (let round = 0; round < 60; round++) {
      const dict = dictionary(next, 1 + Math.floor(next() * 300), next() < 0.5 ? 20 : 200);
      const count = Math.floor(next() * 5_000);
      const indexes = Int32Array.from({ length: count }, () =>
        next() < 0.1 ? -1 : Math.floor(next() * (dict.offsets.length - 1)),
      );
      const at = Math.floor(next() * 50);
      const first = Math.floor(next() * 10);
      const { want, out, offsets, end } = gathered(dict, indexes, at, first);
      expect(end, `round ${round}`).toBe(at + want.bytes.byteLength);
      expect(out.subarray(at, end)).toEqual(want.bytes);
      expect(out.subarray(0, at).every((b) => b === 0xee)).toBe(true); // nothing before `at` touched
      expect(out.subarray(end).every((b) => b === 0xee)).toBe(true); // nor after the rows' bytes
      expect(offsets.subarray(first, first + count)).toEqual(want.ends);
      expect(offsets[first + count]).toBe(-7);
      if (first > 0) expect(offsets[first - 1]).toBe(-7);
    }
  });

  it("uses each call's own dictionary when calls alternate, and when the memory grows between them", () => {
    const next = createRandom("gather-alternating");
    const a = dictionary(next, 50, 30);
    const b = dictionary(next, 50, 30);
    const rows = (n: number) => Int32Array.from({ length: n }, () => Math.floor(next() * 50));
    for (const [dict, n] of [
      [a, 100],
      [b, 100],
      [a, 300_000],
      [a, 10],
      [b, 10],
    ] as const) {
      const indexes = rows(n);
      const { want, out, end } = gathered(dict, indexes, 0, 0);
      expect(out.subarray(0, end)).toEqual(want.bytes);
    }
  });
});
