import { expect } from "vitest";
import { expectFerryError, listPaths, listShape, readText } from "../helpers.ts";
import type { CaseContext, StorageCase } from "../types.ts";

/** Write each key, then read, stat, list (recursively from the root) and delete it. */
async function roundTrip({ storage }: CaseContext, keys: readonly string[]): Promise<void> {
  for (const [index, key] of keys.entries()) await storage.write(key, `content ${index}`);
  for (const [index, key] of keys.entries()) {
    expect(await readText(storage, key), key).toBe(`content ${index}`);
    const entry = await storage.stat(key);
    expect(entry.path, key).toBe(key);
    expect(entry.kind).toBe("file");
  }
  const listed = await listPaths(storage, "", { recursive: true });
  expect(listed.slice().sort()).toEqual([...keys].sort());
  await storage.delete(keys);
  expect(await listPaths(storage, "", { recursive: true })).toEqual([]);
}

function keyCase(name: string, keys: readonly string[]): StorageCase {
  return { name, run: (context) => roundTrip(context, keys) };
}

export const keyCases: StorageCase[] = [
  keyCase("keys: spaces round-trip", ["with space.txt", "dir with space/file name.txt"]),
  keyCase("keys: punctuation round-trip", [
    "punct/!@#$^&()_+-=;',.txt",
    "punct/[brackets]{braces}.txt",
    "punct/a+b=c&d.txt",
  ]),
  keyCase("keys: non-ASCII letters round-trip", ["êé/世界.txt", "≠/Ünïcödé ñame.txt", "Привет/γειά.txt"]),
  keyCase("keys: emoji round-trip", ["🙀/😀.txt", "flags/🇦🇺🇳🇿.txt"]),
  keyCase("keys: leading and trailing spaces round-trip", [
    " leading/ file.txt",
    "trailing /file.txt ",
    "  both  ",
  ]),
  keyCase("keys: leading dots round-trip and are listed", [
    ".leadingdot",
    "dir/.leadingdot",
    ".hidden-dir/x.txt",
  ]),
  keyCase("keys: trailing dots, tildes and double dots inside names round-trip", [
    "trail./x.txt",
    "file.",
    "~tilde/~x~",
    "te..st..js",
  ]),
  keyCase("keys: control characters round-trip", [
    "ctrl/tab\there",
    "ctrl/vt\vhere",
    "ctrl/soh\u0001here",
    "ctrl/del\u007fhere",
  ]),
  keyCase("keys: line breaks round-trip", ["breaks/lf\nhere", "breaks/cr\rhere"]),
  keyCase("keys: reserved URL characters round-trip", [
    "url/a?b",
    "url/c#d",
    "url/e:f",
    "url/g*h",
    "url/i|j",
    "url/k<l>m",
    'url/n"o',
  ]),
  keyCase("keys: long keys round-trip", [`${"a".repeat(100)}/${"b".repeat(100)}/${"c".repeat(60)}.txt`]),
  keyCase("keys: backslash is a literal character", ["back\\slash.txt"]),
  {
    name: "keys: percent sequences are literal",
    async run({ storage }) {
      await storage.write("test%46.txt", "percent");
      await storage.write("%48%45%4C%4C%4F", "hello");
      expect(await readText(storage, "test%46.txt")).toBe("percent");
      expect(await storage.exists("testF.txt")).toBe(false);
      expect(await storage.exists("HELLO")).toBe(false);
      expect((await listPaths(storage, "")).sort()).toEqual(["%48%45%4C%4C%4F", "test%46.txt"]);
    },
  },
  {
    name: "keys: `.` and `..` segments are refused with InvalidInput",
    async run({ storage }) {
      await storage.write("inside.txt", "x");
      for (const key of ["../escape.txt", "a/../../b", "./inside.txt", "a/./b", "..", "a/.."]) {
        await expectFerryError(storage.write(key, "x"), "InvalidInput");
        await expectFerryError(storage.read(key), "InvalidInput");
        await expectFerryError(storage.stat(key), "InvalidInput");
        await expectFerryError(storage.delete(key), "InvalidInput");
      }
      await expectFerryError(async () => {
        for await (const _ of storage.list("../")) break;
      }, "InvalidInput");
      expect(await listPaths(storage, "", { recursive: true })).toEqual(["inside.txt"]);
    },
  },
  {
    name: "keys: empty keys and NUL bytes are refused with InvalidInput",
    async run({ storage }) {
      for (const key of ["", "/", "//"]) {
        await expectFerryError(storage.write(key, "x"), "InvalidInput");
        await expectFerryError(storage.read(key), "InvalidInput");
        await expectFerryError(storage.delete(key), "InvalidInput");
      }
      await expectFerryError(storage.write("nul\0byte", "x"), "InvalidInput");
      expect(await listPaths(storage, "", { recursive: true })).toEqual([]);
    },
  },
  {
    name: "keys: leading and repeated slashes collapse",
    async run({ storage }) {
      await storage.write("//slashes///a//b.txt", "collapsed");
      expect(await readText(storage, "slashes/a/b.txt")).toBe("collapsed");
      expect(await readText(storage, "/slashes/a/b.txt/")).toBe("collapsed");
      expect(await listShape(storage, "", { recursive: true })).toEqual(["slashes/a/b.txt"]);
      expect(await listShape(storage, "/slashes//")).toEqual(["slashes/a/"]);
    },
  },
  {
    name: "keys: names differing only in case are distinct",
    needs: ["write", "caseSensitive"],
    async run({ storage }) {
      await storage.write("Case.txt", "upper");
      await storage.write("case.txt", "lower");
      expect(await readText(storage, "Case.txt")).toBe("upper");
      expect(await readText(storage, "case.txt")).toBe("lower");
      expect(await listPaths(storage, "")).toEqual(["Case.txt", "case.txt"]);
    },
  },
  {
    name: "keys: names differing only in case name the same object",
    needs: ["write", "caseInsensitive"],
    async run({ storage }) {
      await storage.write("Case.txt", "upper");
      expect(await readText(storage, "CASE.TXT")).toBe("upper");
    },
  },
];
