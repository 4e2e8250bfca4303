import { t } from "@ferry/core";
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
