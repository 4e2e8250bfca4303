import { compareKeys } from "@ferry/plugin-kit";
import { expect } from "vitest";
import { expectFerryError, listEntries, listPaths, listShape, seed } from "../helpers.ts";
import type { StorageCase } from "../types.ts";

/** A small tree used by most listing cases. Directory entries show as `dir/`. */
const TREE = {
  "a.txt": "a",
  "b/one.txt": "1",
  "b/two.txt": "22",
  "b/deeper/three.txt": "333",
  "c.txt": "c",
  "d/four.txt": "4444",
};
const TREE_FILES = ["a.txt", "b/deeper/three.txt", "b/one.txt", "b/two.txt", "c.txt", "d/four.txt"];
const TREE_TOP = ["a.txt", "b/", "c.txt", "d/"];

export const listingCases: StorageCase[] = [
  {
    name: "list: one level gives files and directories with sizes",
    async run({ storage }) {
      await seed(storage, TREE);
      const entries = await listEntries(storage, "");
      expect(entries.map((entry) => (entry.kind === "directory" ? `${entry.path}/` : entry.path))).toEqual(
        TREE_TOP,
      );
      expect(entries.find((entry) => entry.path === "a.txt")?.size).toBe(1);
      expect(await listShape(storage, "b")).toEqual(["b/deeper/", "b/one.txt", "b/two.txt"]);
      expect((await listEntries(storage, "b")).find((entry) => entry.path === "b/two.txt")?.size).toBe(2);
    },
  },
  {
    name: "list: recursive gives every file and no directories",
    async run({ storage }) {
      await seed(storage, TREE);
      const entries = await listEntries(storage, "", { recursive: true });
      expect(entries.map((entry) => entry.path)).toEqual(TREE_FILES);
      expect(entries.every((entry) => entry.kind === "file")).toBe(true);
      expect(entries.find((entry) => entry.path === "b/deeper/three.txt")?.size).toBe(3);
    },
  },
  {
    name: "list: recursive below a directory gives full keys",
    async run({ storage }) {
      await seed(storage, TREE);
      expect(await listPaths(storage, "b", { recursive: true })).toEqual([
        "b/deeper/three.txt",
        "b/one.txt",
        "b/two.txt",
      ]);
      expect(await listPaths(storage, "b/deeper", { recursive: true })).toEqual(["b/deeper/three.txt"]);
    },
  },
  {
    name: "list: order is by UTF-8 bytes",
    async run({ storage }) {
      // UTF-16 order puts U+FF5E after the surrogate pair of 😀; UTF-8 order puts it before.
      const names = ["Zebra", "apple", "Ápple", "~tilde", "ｅ", "😀", "a b", "a-b", "a_b", "a.b", "10", "9"];
      for (const name of names) await storage.write(name, name);
      const expected = [...names].sort(compareKeys);
      expect(await listPaths(storage, "")).toEqual(expected);
      expect(await listPaths(storage, "", { recursive: true })).toEqual(expected);
    },
  },
  {
    name: "list: `t-/` sorts before `t.txt` before `t/` (the delimiter sorts as `/`)",
    async run({ storage }) {
      await seed(storage, { "t/x.txt": "1", "t-/x.txt": "2", "t.txt": "3", t0: "4" });
      expect(await listPaths(storage, "", { recursive: true })).toEqual([
        "t-/x.txt",
        "t.txt",
        "t/x.txt",
        "t0",
      ]);
      expect(await listShape(storage, "")).toEqual(["t-/", "t.txt", "t/", "t0"]);
    },
  },
  {
    name: "list: page size 1 returns every entry exactly once",
    async run({ storage }) {
      await seed(storage, TREE);
      expect(await listShape(storage, "", { pageSize: 1 })).toEqual(TREE_TOP);
      expect(await listPaths(storage, "", { recursive: true, pageSize: 1 })).toEqual(TREE_FILES);
    },
  },
  {
    name: "list: page size 2 over many keys returns every key exactly once",
    async run({ storage }) {
      const keys = Array.from({ length: 25 }, (_, index) => `paged/${String(index).padStart(2, "0")}.txt`);
      await seed(storage, Object.fromEntries(keys.map((key) => [key, key])));
      expect(await listPaths(storage, "paged", { pageSize: 2 })).toEqual(keys);
      expect(await listPaths(storage, "", { recursive: true, pageSize: 2 })).toEqual(keys);
    },
  },
  {
    name: "list: startAfter is exclusive",
    async run({ storage }) {
      await seed(storage, TREE);
      expect(await listShape(storage, "", { startAfter: "a.txt" })).toEqual(["b/", "c.txt", "d/"]);
      expect(await listShape(storage, "b", { startAfter: "b/one.txt" })).toEqual(["b/two.txt"]);
    },
  },
  {
    name: "list: startAfter in the middle of a recursive listing",
    async run({ storage }) {
      await seed(storage, TREE);
      expect(await listPaths(storage, "", { recursive: true, startAfter: "b/deeper/three.txt" })).toEqual([
        "b/one.txt",
        "b/two.txt",
        "c.txt",
        "d/four.txt",
      ]);
      expect(await listPaths(storage, "", { recursive: true, startAfter: "b/p", pageSize: 1 })).toEqual([
        "b/two.txt",
        "c.txt",
        "d/four.txt",
      ]);
      expect(await listPaths(storage, "", { recursive: true, startAfter: "zzz" })).toEqual([]);
    },
  },
  {
    name: "list: limit stops after that many entries",
    async run({ storage }) {
      await seed(storage, TREE);
      expect(await listPaths(storage, "", { recursive: true, limit: 2 })).toEqual(TREE_FILES.slice(0, 2));
      expect(await listShape(storage, "", { limit: 3, pageSize: 1 })).toEqual(TREE_TOP.slice(0, 3));
      expect(await listPaths(storage, "", { limit: 0 })).toEqual([]);
      expect(await listPaths(storage, "", { recursive: true, limit: 100 })).toEqual(TREE_FILES);
    },
  },
  {
    name: "list: limit and startAfter together",
    async run({ storage }) {
      await seed(storage, TREE);
      expect(await listPaths(storage, "", { recursive: true, startAfter: "b/one.txt", limit: 2 })).toEqual([
        "b/two.txt",
        "c.txt",
      ]);
    },
  },
  {
    name: "list: a negative or fractional limit is refused with InvalidInput",
    needs: [],
    async run({ storage }) {
      for (const limit of [-1, 1.5])
        await expectFerryError(listPaths(storage, "", { limit }), "InvalidInput");
    },
  },
  {
    name: "list: an empty directory lists empty",
    needs: ["write", "emptyDirectories"],
    async run({ storage }) {
      await storage.mkdir("void");
      expect(await listPaths(storage, "void")).toEqual([]);
      expect(await listPaths(storage, "void", { recursive: true })).toEqual([]);
    },
  },
  {
    name: "list: a missing directory lists empty",
    needs: [],
    async run({ storage }) {
      expect(await listPaths(storage, "no/such/dir")).toEqual([]);
      expect(await listPaths(storage, "no/such/dir", { recursive: true })).toEqual([]);
    },
  },
  {
    name: "list: a file path lists empty",
    async run({ storage }) {
      await seed(storage, TREE);
      expect(await listPaths(storage, "a.txt")).toEqual([]);
      expect(await listPaths(storage, "b/one.txt", { recursive: true })).toEqual([]);
    },
  },
  {
    name: "list: `foo` does not match `foo.bar/`, `foobar` or `foo.txt`",
    async run({ storage }) {
      await seed(storage, {
        "foo/in.txt": "1",
        "foo.bar/out.txt": "2",
        foobar: "3",
        "foo.txt": "4",
        "foo/sub/deep.txt": "5",
      });
      expect(await listShape(storage, "foo")).toEqual(["foo/in.txt", "foo/sub/"]);
      expect(await listPaths(storage, "foo", { recursive: true })).toEqual([
        "foo/in.txt",
        "foo/sub/deep.txt",
      ]);
      expect(await listPaths(storage, "fo", { recursive: true })).toEqual([]);
    },
  },
  {
    name: "list: `dir` and `dir/` list the same",
    async run({ storage }) {
      await seed(storage, TREE);
      expect(await listShape(storage, "b/")).toEqual(await listShape(storage, "b"));
      expect(await listPaths(storage, "/b/", { recursive: true })).toEqual(
        await listPaths(storage, "b", { recursive: true }),
      );
    },
  },
  {
    name: "list: keys have no leading or trailing slash",
    async run({ storage }) {
      await seed(storage, TREE);
      for (const entry of [
        ...(await listEntries(storage, "")),
        ...(await listEntries(storage, "", { recursive: true })),
      ]) {
        expect(entry.path).not.toMatch(/^\/|\/$/);
        expect(entry.path).not.toBe("");
      }
    },
  },
  {
    name: "list: a new object is visible right after its write",
    async run({ storage }) {
      for (let index = 0; index < 5; index++) {
        await storage.write(`visible/${index}.txt`, "x");
        expect(await listPaths(storage, "visible")).toHaveLength(index + 1);
      }
    },
  },
  {
    name: "list: writes during a paginated listing neither repeat nor drop existing keys",
    async run({ storage }) {
      const keys = Array.from(
        { length: 12 },
        (_, index) => `moving/${String(index * 2).padStart(2, "0")}.txt`,
      );
      await seed(storage, Object.fromEntries(keys.map((key) => [key, key])));
      const seen: string[] = [];
      let inserted = 0;
      for await (const entry of storage.list("moving", { pageSize: 2 })) {
        seen.push(entry.path);
        if (inserted < 5)
          await storage.write(`moving/${String(inserted++ * 4 + 1).padStart(2, "0")}.txt`, "new");
      }
      expect(new Set(seen).size).toBe(seen.length);
      for (const key of keys) expect(seen).toContain(key);
      expect(seen).toEqual([...seen].sort(compareKeys));
    },
  },
];
