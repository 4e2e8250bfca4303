import { expect } from "vitest";
import { expectFerryError, listPaths, readText } from "../helpers.ts";
import type { StorageCase } from "../types.ts";

export const conditionalCases: StorageCase[] = [
  {
    name: "conditional write: create-only succeeds on a new key",
    needs: ["conditionalWrite"],
    async run({ storage }) {
      const entry = await storage.write("create.txt", "created", { ifNoneMatch: "*" });
      expect(entry.size).toBe(7);
      expect(await readText(storage, "create.txt")).toBe("created");
    },
  },
  {
    name: "conditional write: create-only on an existing key fails with ConditionNotMet",
    needs: ["conditionalWrite"],
    async run({ storage }) {
      await storage.write("exists.txt", "first");
      await expectFerryError(storage.write("exists.txt", "second", { ifNoneMatch: "*" }), "ConditionNotMet");
      expect(await readText(storage, "exists.txt")).toBe("first");
      expect(await listPaths(storage, "", { recursive: true })).toEqual(["exists.txt"]);
    },
  },
  {
    name: "conditional write: of racing creates exactly one wins",
    needs: ["conditionalWrite"],
    async run({ storage }) {
      const contenders = Array.from({ length: 6 }, (_, index) => `contender ${index}`);
      const results = await Promise.allSettled(
        contenders.map((body) => storage.write("race.txt", body, { ifNoneMatch: "*" })),
      );
      const winners = results.flatMap((result, index) =>
        result.status === "fulfilled" ? [contenders[index]] : [],
      );
      expect(winners).toHaveLength(1);
      for (const result of results) {
        if (result.status === "rejected")
          expect((result.reason as { code?: string }).code).toBe("ConditionNotMet");
      }
      expect(await readText(storage, "race.txt")).toBe(winners[0]);
      expect(await listPaths(storage, "", { recursive: true })).toEqual(["race.txt"]);
    },
  },
  {
    name: "conditional write: create-only copy onto an existing key fails with ConditionNotMet",
    needs: ["conditionalWrite", "copy"],
    async run({ storage }) {
      await storage.write("source.txt", "source");
      await storage.write("target.txt", "target");
      await expectFerryError(
        storage.copy("source.txt", "target.txt", { ifNoneMatch: "*" }),
        "ConditionNotMet",
      );
      expect(await readText(storage, "target.txt")).toBe("target");
      await storage.copy("source.txt", "fresh.txt", { ifNoneMatch: "*" });
      expect(await readText(storage, "fresh.txt")).toBe("source");
    },
  },
];
