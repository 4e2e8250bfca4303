import { expect } from "vitest";
import { bytes, equalBytes, expectFerryError, listPaths, readText } from "../helpers.ts";
import type { StorageCase } from "../types.ts";

export const copyCases: StorageCase[] = [
  {
    name: "copy: gives identical bytes and leaves the source untouched",
    needs: ["write", "copy"],
    async run({ storage }) {
      const data = bytes(3000, 21);
      await storage.write("orig.bin", data);
      const entry = await storage.copy("orig.bin", "dup.bin");
      expect(entry).toMatchObject({ path: "dup.bin", kind: "file", size: 3000 });
      equalBytes(await storage.readBytes("dup.bin"), data);
      equalBytes(await storage.readBytes("orig.bin"), data);
      expect(await listPaths(storage, "")).toEqual(["dup.bin", "orig.bin"]);
    },
  },
  {
    name: "copy: a missing source fails with NotFound and leaves the destination",
    needs: ["write", "copy"],
    async run({ storage }) {
      await storage.write("dest.txt", "unchanged");
      await expectFerryError(storage.copy("ghost.txt", "dest.txt"), "NotFound");
      await expectFerryError(storage.copy("ghost.txt", "new.txt"), "NotFound");
      expect(await readText(storage, "dest.txt")).toBe("unchanged");
      expect(await listPaths(storage, "", { recursive: true })).toEqual(["dest.txt"]);
    },
  },
  {
    name: "copy: a directory source fails with NotFound or InvalidInput",
    needs: ["write", "copy"],
    async run({ storage }) {
      await storage.write("folder/inside.txt", "x");
      await expectFerryError(storage.copy("folder", "folder-copy"), "NotFound", "InvalidInput");
      expect(await listPaths(storage, "", { recursive: true })).toEqual(["folder/inside.txt"]);
    },
  },
  {
    name: "copy: into a new nested path",
    needs: ["write", "copy"],
    async run({ storage }) {
      await storage.write("flat.txt", "nest me");
      await storage.copy("flat.txt", "new/nested/path/copy.txt");
      expect(await readText(storage, "new/nested/path/copy.txt")).toBe("nest me");
    },
  },
  {
    name: "copy: overwrites an existing destination",
    needs: ["write", "copy"],
    async run({ storage }) {
      await storage.write("from.txt", "new content");
      await storage.write("to.txt", "old content that is longer");
      await storage.copy("from.txt", "to.txt");
      expect(await readText(storage, "to.txt")).toBe("new content");
    },
  },
  {
    name: "copy: unicode and punctuation names",
    needs: ["write", "copy"],
    async run({ storage }) {
      await storage.write("源/ファイル 😀.txt", "unicode");
      await storage.copy("源/ファイル 😀.txt", "目标/a+b&c %20 ü.txt");
      expect(await readText(storage, "目标/a+b&c %20 ü.txt")).toBe("unicode");
    },
  },
  {
    name: "copy: an empty object",
    needs: ["write", "copy"],
    async run({ storage }) {
      await storage.write("void.bin", new Uint8Array(0));
      const entry = await storage.copy("void.bin", "void-copy.bin");
      expect(entry.size).toBe(0);
      expect((await storage.readBytes("void-copy.bin")).byteLength).toBe(0);
    },
  },
  {
    name: "copy: changing the copy does not change the source",
    needs: ["write", "copy"],
    async run({ storage }) {
      await storage.write("alias-src.txt", "source");
      await storage.copy("alias-src.txt", "alias-dst.txt");
      await storage.write("alias-dst.txt", "changed");
      await storage.delete("alias-dst.txt");
      expect(await readText(storage, "alias-src.txt")).toBe("source");
    },
  },
  {
    name: "copy: a multi-part sized object",
    needs: ["write", "copy"],
    async run({ storage, partSize }) {
      const data = bytes(partSize * 2 + 9, 31);
      await storage.write("big-src.bin", data, { partSize });
      await storage.copy("big-src.bin", "big-dst.bin");
      equalBytes(await storage.readBytes("big-dst.bin"), data);
    },
  },
  {
    name: "copy: onto itself keeps the content",
    needs: ["write", "copy"],
    async run({ storage }) {
      await storage.write("self.txt", "myself");
      // Some systems refuse a copy onto itself; either way the object must survive intact.
      await storage
        .copy("self.txt", "self.txt")
        .catch((error: { code?: string }) => expect(error.code).toBe("InvalidInput"));
      expect(await readText(storage, "self.txt")).toBe("myself");
    },
  },
  {
    name: "copy: keeps the content type",
    needs: ["write", "copy", "contentType"],
    async run({ storage }) {
      await storage.write("typed.src", "<p>", { contentType: "text/html" });
      await storage.copy("typed.src", "typed.dst");
      expect((await storage.stat("typed.dst")).contentType).toMatch(/^text\/html/);
    },
  },
];

export const moveCases: StorageCase[] = [
  {
    name: "move: the destination has the content and the source is gone",
    needs: ["write", "move"],
    async run({ storage }) {
      const data = bytes(2048, 41);
      await storage.write("old-name.bin", data);
      const entry = await storage.move("old-name.bin", "new-name.bin");
      expect(entry).toMatchObject({ path: "new-name.bin", kind: "file", size: 2048 });
      equalBytes(await storage.readBytes("new-name.bin"), data);
      await expectFerryError(storage.stat("old-name.bin"), "NotFound");
      expect(await listPaths(storage, "", { recursive: true })).toEqual(["new-name.bin"]);
    },
  },
  {
    name: "move: a missing source fails with NotFound",
    needs: ["write", "move"],
    async run({ storage }) {
      await storage.write("bystander.txt", "x");
      await expectFerryError(storage.move("ghost.txt", "anywhere.txt"), "NotFound");
      expect(await listPaths(storage, "", { recursive: true })).toEqual(["bystander.txt"]);
    },
  },
  {
    name: "move: into a new nested path",
    needs: ["write", "move"],
    async run({ storage }) {
      await storage.write("top.txt", "descend");
      await storage.move("top.txt", "down/the/tree.txt");
      expect(await readText(storage, "down/the/tree.txt")).toBe("descend");
      expect(await storage.exists("top.txt")).toBe(false);
    },
  },
  {
    name: "move: over an existing destination",
    needs: ["write", "move"],
    async run({ storage }) {
      await storage.write("winner.txt", "winner");
      await storage.write("loser.txt", "loser with more bytes");
      await storage.move("winner.txt", "loser.txt");
      expect(await readText(storage, "loser.txt")).toBe("winner");
      expect(await listPaths(storage, "")).toEqual(["loser.txt"]);
    },
  },
  {
    name: "move: unicode names",
    needs: ["write", "move"],
    async run({ storage }) {
      await storage.write("ü/ñ 😀.txt", "moved");
      await storage.move("ü/ñ 😀.txt", "ø/ß ✓.txt");
      expect(await readText(storage, "ø/ß ✓.txt")).toBe("moved");
      expect(await storage.exists("ü/ñ 😀.txt")).toBe(false);
    },
  },
  {
    name: "move: onto itself keeps the object",
    needs: ["write", "move"],
    async run({ storage }) {
      await storage.write("stay.txt", "still here");
      await storage
        .move("stay.txt", "stay.txt")
        .catch((error: { code?: string }) => expect(error.code).toBe("InvalidInput"));
      expect(await readText(storage, "stay.txt")).toBe("still here");
    },
  },
  {
    name: "move: rename then move back (name-conflict sequence)",
    needs: ["write", "move"],
    async run({ storage }) {
      await storage.write("ping.txt", "ball");
      await storage.move("ping.txt", "pong/ping.txt");
      await storage.move("pong/ping.txt", "ping.txt");
      expect(await readText(storage, "ping.txt")).toBe("ball");
      expect(await listPaths(storage, "", { recursive: true })).toEqual(["ping.txt"]);
    },
  },
  {
    name: "move: create-only onto an existing key fails with ConditionNotMet",
    needs: ["write", "move", "conditionalWrite"],
    async run({ storage }) {
      await storage.write("mover.txt", "mover");
      await storage.write("blocker.txt", "blocker");
      await expectFerryError(
        storage.move("mover.txt", "blocker.txt", { ifNoneMatch: "*" }),
        "ConditionNotMet",
      );
      expect(await readText(storage, "blocker.txt")).toBe("blocker");
      expect(await readText(storage, "mover.txt")).toBe("mover");
    },
  },
];
