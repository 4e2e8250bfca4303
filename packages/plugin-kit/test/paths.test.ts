import { describe, expect, it } from "vitest";
import { compareKeys, joinKey } from "../src/index.ts";

const utf8Order = (a: string, b: string) => Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b)));

describe("compareKeys orders keys by their UTF-8 bytes", () => {
  const samples = [
    "",
    "a",
    "a/b",
    "a.txt",
    "a/",
    "ab",
    "Z",
    "é",
    "e\u0301",
    "\u00ff",
    "\u0800",
    "\ud7ff",
    "\ue000",
    "\uffff",
    "\u{10000}",
    "\u{1f600}",
    "x\u{1f600}y",
    "x\uffffy",
    "x\ue000",
    "日本/語",
    "日本語",
  ];

  it("agrees with a byte-wise comparison for every pair, above U+FFFF too", () => {
    for (const a of samples)
      for (const b of samples) expect(Math.sign(compareKeys(a, b)), `${a} vs ${b}`).toBe(utf8Order(a, b));
  });

  it("agrees on random strings mixing ASCII, the BMP and surrogate pairs", () => {
    const alphabet = ["a", "b", "/", ".", "\u00e9", "\ue000", "\uffff", "\u{10000}", "\u{1f600}"];
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const word = () =>
      Array.from(
        { length: Math.floor(random() * 6) },
        () => alphabet[Math.floor(random() * alphabet.length)],
      ).join("");
    for (let round = 0; round < 5_000; round++) {
      const a = word();
      const b = random() < 0.3 ? a + word() : word();
      expect(Math.sign(compareKeys(a, b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(
        utf8Order(a, b),
      );
    }
  });
});

describe("joinKey", () => {
  it("joins two keys in normal form as they are, and normalises anything else", () => {
    expect(joinKey("a/b", "c.txt")).toBe("a/b/c.txt");
    expect(joinKey("", "c.txt")).toBe("c.txt");
    expect(joinKey("a", "")).toBe("a");
    expect(joinKey("", "")).toBe("");
    expect(joinKey("/a/", "/b//c/")).toBe("a/b/c");
    expect(joinKey("a//b", "c")).toBe("a/b/c");
    expect(joinKey("a", "b", "c/")).toBe("a/b/c");
  });
});
