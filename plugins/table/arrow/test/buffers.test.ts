import { t } from "@ferry/plugin-kit";
import * as A from "apache-arrow";
import { describe, expect, it } from "vitest";
import { fromArrowData } from "../src/from-arrow.ts";
import { toArrowData } from "../src/to-arrow.ts";

// String columns take a one-encode path when every value is ASCII; anything else must take the exact
// per-value path. Both must give back the same values, nulls in place.
describe("string columns ⇄ arrow Data", () => {
  const cases: Record<string, (string | null)[]> = {
    ascii: ["a", "", null, "name-4999", "~\u007f"],
    "non-ASCII last": ["a", null, "b", "héllo ✓"],
    "astral and lone surrogate": ["😀", "x", null, "\ud800", ""],
    "all null": [null, null],
  };
  for (const [name, values] of Object.entries(cases)) {
    it(`round-trips ${name}`, () => {
      const data = toArrowData(t.string(), values, "s");
      expect(data.nullCount).toBe(values.filter((v) => v === null).length);
      expect(A.makeVector(data).toArray()).toEqual(values.map((v) => (v === "\ud800" ? "\ufffd" : v)));
      expect(fromArrowData(data)).toEqual(values.map((v) => (v === "\ud800" ? "\ufffd" : v)));
    });
  }

  it("reads a slice of a column (non-zero first offset) exactly", () => {
    const data = toArrowData(t.string(), ["skip", "keep", null, "me"], "s").slice(1, 3);
    expect(fromArrowData(data)).toEqual(["keep", null, "me"]);
  });

  it("names the row of a value that is not a string", () => {
    expect(() => toArrowData(t.string(), ["a", 3], "s")).toThrow(/column "s".*row 1/);
  });
});

// Second and millisecond timestamps are written as 32-bit halves instead of a bigint per value.
describe("timestamp[s|ms] columns ⇄ arrow Data", () => {
  const dates = [
    new Date(0),
    new Date(-1),
    new Date(-62_135_596_800_000), // 0001-01-01
    new Date(8.64e15), // the latest Date
    new Date(-8.64e15), // the earliest Date
    new Date(2 ** 32),
    new Date(2 ** 32 - 1),
    new Date(-(2 ** 32) - 1),
    null,
    new Date(1_700_000_000_123),
  ];

  it("round-trips milliseconds exactly, and stores the same int64 counts a bigint would", () => {
    const data = toArrowData(t.timestamp("ms", "UTC"), dates, "at");
    expect(Array.from(data.values as BigInt64Array)).toEqual(
      dates.map((d) => (d === null ? 0n : BigInt(d.getTime()))),
    );
    expect(fromArrowData(data)).toEqual(dates);
  });

  it("round-trips whole seconds exactly", () => {
    const seconds = dates.map((d) => (d === null ? null : new Date(Math.floor(d.getTime() / 1000) * 1000)));
    const data = toArrowData(t.timestamp("s", "UTC"), seconds, "at");
    expect(Array.from(data.values as BigInt64Array)).toEqual(
      seconds.map((d) => (d === null ? 0n : BigInt(d.getTime() / 1000))),
    );
    expect(fromArrowData(data)).toEqual(seconds);
  });

  it("reads a slice of a column exactly", () => {
    const data = toArrowData(t.timestamp("ms", "UTC"), dates, "at").slice(2, 4);
    expect(fromArrowData(data)).toEqual(dates.slice(2, 6));
  });

  it("rejects an invalid Date or a fraction of a second with the column and row", () => {
    expect(() => toArrowData(t.timestamp("ms", "UTC"), [new Date(0), new Date(Number.NaN)], "at")).toThrow(
      /column "at".*row 1/,
    );
    expect(() => toArrowData(t.timestamp("s", "UTC"), [new Date(1500)], "at")).toThrow(/column "at".*row 0/);
  });
});
