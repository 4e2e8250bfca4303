import { expect } from "vitest";
import { expectFerryError, listPaths, listShape, readText, seed } from "../helpers.ts";
import type { StorageCase } from "../types.ts";

export const directoryCases: StorageCase[] = [
  {
    name: "directories: appear through the files below them",
    async run({ storage }) {
      await storage.write("virtual/a/b/c.txt", "x");
      expect(await listShape(storage, "")).toEqual(["virtual/"]);
      expect(await listShape(storage, "virtual")).toEqual(["virtual/a/"]);
      expect(await listShape(storage, "virtual/a")).toEqual(["virtual/a/b/"]);
      expect(await listShape(storage, "virtual/a/b")).toEqual(["virtual/a/b/c.txt"]);
    },
  },
  {
    name: "directories: mkdir creates an empty directory that lists",
    needs: ["write", "emptyDirectories"],
    async run({ storage }) {
      await storage.mkdir("made");
      expect(await listShape(storage, "")).toEqual(["made/"]);
      expect((await storage.stat("made")).kind).toBe("directory");
      expect(await listPaths(storage, "made")).toEqual([]);
      expect(await listPaths(storage, "", { recursive: true })).toEqual([]);
    },
  },
  {
    name: "directories: mkdir twice is not an error",
    needs: ["write", "mkdir"],
    async run({ storage }) {
      await storage.mkdir("twice");
      await storage.mkdir("twice");
      await storage.write("twice/file.txt", "x");
      await storage.mkdir("twice");
      expect(await readText(storage, "twice/file.txt")).toBe("x");
    },
  },
  {
    name: "directories: mkdir of a nested path creates its parents",
    needs: ["write", "mkdir"],
    async run({ storage }) {
      await storage.mkdir("one/two/three");
      await storage.write("one/two/three/x.txt", "x");
      expect((await storage.stat("one/two")).kind).toBe("directory");
      expect(await listShape(storage, "one")).toEqual(["one/two/"]);
    },
  },
  {
    name: "directories: mkdir where a file exists fails with AlreadyExists",
    needs: ["write", "mkdir", "realDirectories"],
    async run({ storage }) {
      await storage.write("occupied", "file");
      await expectFerryError(storage.mkdir("occupied"), "AlreadyExists");
      expect(await readText(storage, "occupied")).toBe("file");
    },
  },
  {
    name: "directories: an empty directory stays after its last file is deleted",
    needs: ["write", "emptyDirectories", "realDirectories"],
    async run({ storage }) {
      await storage.write("stays/only.txt", "x");
      await storage.delete("stays/only.txt");
      expect(await listShape(storage, "")).toEqual(["stays/"]);
    },
  },
  {
    name: "directories: a virtual directory disappears with its last file",
    needs: ["write", "virtualDirectories"],
    async run({ storage }) {
      await storage.write("goes/only.txt", "x");
      await storage.delete("goes/only.txt");
      expect(await listShape(storage, "")).toEqual([]);
      expect(await storage.exists("goes")).toBe(false);
    },
  },
  {
    name: "directories: a file and a directory of the same name coexist",
    needs: ["write", "virtualDirectories"],
    async run({ storage }) {
      await storage.write("twin", "file");
      await storage.write("twin/inner.txt", "inner");
      expect(await readText(storage, "twin")).toBe("file");
      expect(await readText(storage, "twin/inner.txt")).toBe("inner");
      expect(await listPaths(storage, "", { recursive: true })).toEqual(["twin", "twin/inner.txt"]);
    },
  },
  {
    name: "directories: deleteDirectory removes the subtree and leaves its siblings",
    async run({ storage }) {
      await seed(storage, {
        "tree/a.txt": "a",
        "tree/sub/b.txt": "b",
        "tree/sub/deeper/c.txt": "c",
        "tree.txt": "sibling file",
        "tree2/d.txt": "sibling dir",
        "treehouse/e.txt": "prefix sibling",
      });
      await storage.deleteDirectory("tree");
      expect(await listPaths(storage, "", { recursive: true })).toEqual([
        "tree.txt",
        "tree2/d.txt",
        "treehouse/e.txt",
      ]);
      expect(await storage.exists("tree")).toBe(false);
    },
  },
  {
    name: "directories: deleteDirectory of a nested directory leaves its parent's other files",
    async run({ storage }) {
      await seed(storage, { "p/keep.txt": "k", "p/q/gone.txt": "g", "p/q/r/gone.txt": "g" });
      await storage.deleteDirectory("p/q");
      expect(await listPaths(storage, "", { recursive: true })).toEqual(["p/keep.txt"]);
    },
  },
  {
    name: "directories: deleteDirectory of a missing directory is not an error",
    async run({ storage }) {
      await storage.write("other.txt", "x");
      await storage.deleteDirectory("never/was");
      expect(await listPaths(storage, "")).toEqual(["other.txt"]);
    },
  },
  {
    name: "directories: deleteDirectory of an empty directory removes it",
    needs: ["write", "emptyDirectories"],
    async run({ storage }) {
      await storage.mkdir("hollow");
      await storage.deleteDirectory("hollow");
      expect(await listPaths(storage, "")).toEqual([]);
    },
  },
  {
    name: "directories: deleteDirectory of the root empties the storage",
    async run({ storage }) {
      await seed(storage, { "x.txt": "x", "y/z.txt": "z" });
      await storage.deleteDirectory("");
      expect(await listPaths(storage, "", { recursive: true })).toEqual([]);
      await storage.deleteDirectory("");
      await storage.write("after.txt", "still usable");
      expect(await readText(storage, "after.txt")).toBe("still usable");
    },
  },
  {
    name: "directories: mkdir of the root is not an error",
    needs: ["write", "mkdir"],
    async run({ storage }) {
      await storage.mkdir("");
      await storage.mkdir("/");
      expect((await storage.stat("")).kind).toBe("directory");
    },
  },
];
