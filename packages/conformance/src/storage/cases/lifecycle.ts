import { expect } from "vitest";
import { expectFerryError, listPaths, readText } from "../helpers.ts";
import type { StorageCase } from "../types.ts";

export const lifecycleCases: StorageCase[] = [
  {
    name: "lifecycle: a fresh root lists empty",
    needs: [],
    async run({ storage }) {
      expect(await listPaths(storage, "")).toEqual([]);
      expect(await listPaths(storage, "", { recursive: true })).toEqual([]);
    },
  },
  {
    name: "lifecycle: the root stats as a directory",
    needs: [],
    async run({ storage }) {
      const entry = await storage.stat("");
      expect(entry.kind).toBe("directory");
      expect(await storage.exists("/")).toBe(true);
    },
  },
  {
    name: "lifecycle: system and root are named, the driver is exposed",
    needs: [],
    async run({ storage }) {
      expect(storage.system).toMatch(/^[a-z][a-z0-9+.-]*$/);
      expect(typeof storage.root).toBe("string");
      expect(storage.root.length).toBeGreaterThan(0);
      expect(storage.root).not.toMatch(/\/\/[^/@]*:[^/@]*@/);
      expect(storage.driver.system).toBe(storage.system);
    },
  },
  {
    name: "lifecycle: two fresh roots are isolated",
    async run({ storage, another }) {
      const other = await another();
      await storage.write("isolated.txt", "one");
      await other.write("isolated.txt", "two");
      expect(await readText(storage, "isolated.txt")).toBe("one");
      expect(await readText(other, "isolated.txt")).toBe("two");
      await storage.delete("isolated.txt");
      expect(await readText(other, "isolated.txt")).toBe("two");
    },
  },
  {
    name: "lifecycle: close is idempotent",
    needs: [],
    async run({ storage, another }) {
      const other = await another();
      await other.close();
      await other.close();
      await storage.close();
      await expect(storage.close()).resolves.toBeUndefined();
    },
  },
  {
    name: "lifecycle: an aborted signal stops an operation before it starts",
    needs: [],
    async run({ storage }) {
      const controller = new AbortController();
      controller.abort();
      await expectFerryError(storage.stat("", { signal: controller.signal }), "Aborted");
      await expectFerryError(async () => {
        for await (const _ of storage.list("", { signal: controller.signal })) break;
      }, "Aborted");
    },
  },
];
