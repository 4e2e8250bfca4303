import { createStorage } from "@ferry/core";
import type { Capabilities, Storage } from "@ferry/plugin-kit";
import { expect } from "vitest";
import { expectFerryError, listPaths, overrideDriver, readText, seed } from "../helpers.ts";
import type { StorageCase } from "../types.ts";

/**
 * The same driver behind a storage whose limits are lowered, so batching is exercised with a few
 * keys; records the size of each delete call the driver receives.
 */
function withLowerLimits(
  storage: Storage,
  limits: Partial<Capabilities["limits"]>,
): { storage: Storage; batches: number[] } {
  const driver = storage.driver;
  const batches: number[] = [];
  const lowered = overrideDriver(driver, {
    capabilities: { limits },
    delete: (paths, options) => {
      batches.push(paths.length);
      return driver.delete(paths, options);
    },
  });
  return { storage: createStorage(lowered), batches };
}

export const deleteCases: StorageCase[] = [
  {
    name: "delete: a file is gone afterwards",
    async run({ storage }) {
      await seed(storage, { "del/a.txt": "a", "del/b.txt": "b" });
      await storage.delete("del/a.txt");
      await expectFerryError(storage.stat("del/a.txt"), "NotFound");
      await expectFerryError(storage.read("del/a.txt"), "NotFound");
      expect(await listPaths(storage, "", { recursive: true })).toEqual(["del/b.txt"]);
    },
  },
  {
    name: "delete: a missing path is not an error",
    async run({ storage }) {
      await storage.write("kept.txt", "x");
      await storage.delete("never-existed.txt");
      await storage.delete(["no/such/parent/file.txt", "also-missing"]);
      await storage.delete([]);
      expect(await listPaths(storage, "")).toEqual(["kept.txt"]);
    },
  },
  {
    name: "delete: many keys in one call, including missing and unusual names",
    async run({ storage }) {
      const keys = [
        ...Array.from({ length: 12 }, (_, index) => `batch/${index}.txt`),
        "batch/ü ñ 😀.txt",
        "batch/%41.txt",
      ];
      await seed(storage, Object.fromEntries(keys.map((key) => [key, key])));
      await storage.write("batch-keep.txt", "kept");
      await storage.delete([...keys, "batch/missing.txt"]);
      expect(await listPaths(storage, "", { recursive: true })).toEqual(["batch-keep.txt"]);
    },
  },
  {
    name: "delete: a batch above deleteBatchMax is split into batches within the limit",
    async run({ storage }) {
      const lowered = withLowerLimits(storage, { deleteBatchMax: 2 });
      const keys = Array.from({ length: 7 }, (_, index) => `split/${index}.txt`);
      await seed(storage, Object.fromEntries(keys.map((key) => [key, key])));
      await lowered.storage.delete([...keys, "split/missing.txt"]);
      expect(lowered.batches.every((size) => size <= 2)).toBe(true);
      expect(lowered.batches.reduce((sum, size) => sum + size, 0)).toBe(8);
      expect(await listPaths(storage, "", { recursive: true })).toEqual([]);
    },
  },
  {
    name: "delete: of a directory path never removes the files below it",
    async run({ storage }) {
      await seed(storage, { "full/a.txt": "a", "full/b/c.txt": "c" });
      // Object stores treat this as a missing key; real directories refuse a non-empty one.
      await storage
        .delete("full")
        .catch((error: { code?: string }) => expect(["InvalidInput", "AlreadyExists"]).toContain(error.code));
      expect(await listPaths(storage, "", { recursive: true })).toEqual(["full/a.txt", "full/b/c.txt"]);
      expect(await readText(storage, "full/b/c.txt")).toBe("c");
    },
  },
];
