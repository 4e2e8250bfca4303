/**
 * Capability honesty: every optional operation that is not declared raises Unsupported (never a
 * silent fallback), and every declared one works. Gaps declared through the suite's capability
 * overrides skip the "works" half only; the storage is still held to what it declares.
 */
import { compareKeys, type HashAlgorithm } from "@ferry/plugin-kit";
import { expect } from "vitest";
import { bytes, expectFerryError, hashHex, listPaths, readText, seed } from "../helpers.ts";
import type { StorageCase } from "../types.ts";

const ALL_HASHES: readonly HashAlgorithm[] = ["md5", "sha1", "sha256", "crc32c", "git-sha1"];

export const capabilityCases: StorageCase[] = [
  {
    name: "capabilities: have the version 1 shape",
    needs: [],
    async run({ declared }) {
      expect(declared.version).toBe(1);
      for (const flag of [
        "write",
        "conditionalWrite",
        "rangeRead",
        "emptyDirectories",
        "checksum",
        "exec",
        "presign",
        "setMtime",
        "contentType",
        "caseInsensitive",
        "cleanup",
      ] as const) {
        expect(typeof declared[flag], flag).toBe("boolean");
      }
      expect([false, "native", "emulated"]).toContain(declared.copy);
      expect([false, "native", "emulated"]).toContain(declared.move);
      expect([false, "native", "marker"]).toContain(declared.mkdir);
      expect(["real", "virtual"]).toContain(declared.directories);
      expect(["lexicographic", "unordered"]).toContain(declared.listOrder);
      expect(["native", "walk"]).toContain(declared.listRecursive);
      expect(["native", "metadata", "none"]).toContain(declared.mtime);
      expect(declared.mtimePrecisionMs).toBeGreaterThan(0);
      for (const hash of declared.hashes) expect(ALL_HASHES).toContain(hash);
      expect(typeof declared.limits).toBe("object");
    },
  },
  {
    name: "capabilities: are frozen and do not change",
    async run({ storage }) {
      const before = JSON.stringify(storage.capabilities);
      expect(Object.isFrozen(storage.capabilities)).toBe(true);
      expect(Object.isFrozen(storage.capabilities.limits)).toBe(true);
      expect(() => {
        (storage.capabilities as { write: boolean }).write = !storage.capabilities.write;
      }).toThrow(TypeError);
      await storage.write("touch.txt", "x");
      await listPaths(storage, "", { recursive: true });
      expect(JSON.stringify(storage.capabilities)).toBe(before);
      expect(JSON.stringify(storage.driver.capabilities)).toBe(before);
    },
  },
  {
    name: "capabilities: copy is Unsupported exactly when undeclared",
    async run({ storage, declared, capabilities }) {
      await storage.write("c.txt", "copy me");
      if (declared.copy === false) {
        await expectFerryError(storage.copy("c.txt", "d.txt"), "Unsupported");
        expect(await storage.exists("d.txt")).toBe(false);
      } else if (capabilities.copy !== false) {
        await storage.copy("c.txt", "d.txt");
        expect(await readText(storage, "d.txt")).toBe("copy me");
      }
    },
  },
  {
    name: "capabilities: move is Unsupported exactly when undeclared",
    async run({ storage, declared, capabilities }) {
      await storage.write("m.txt", "move me");
      if (declared.move === false) {
        await expectFerryError(storage.move("m.txt", "n.txt"), "Unsupported");
        expect(await readText(storage, "m.txt")).toBe("move me");
      } else if (capabilities.move !== false) {
        await storage.move("m.txt", "n.txt");
        expect(await readText(storage, "n.txt")).toBe("move me");
        expect(await storage.exists("m.txt")).toBe(false);
      }
    },
  },
  {
    name: "capabilities: mkdir is Unsupported exactly when undeclared",
    async run({ storage, declared, capabilities }) {
      if (declared.mkdir === false) {
        await expectFerryError(storage.mkdir("nope"), "Unsupported");
      } else if (capabilities.mkdir !== false) {
        await storage.mkdir("yes");
        expect((await storage.stat("yes")).kind).toBe("directory");
      }
    },
  },
  {
    name: "capabilities: checksum works for declared hashes and is Unsupported otherwise",
    async run({ storage, declared, capabilities }) {
      const data = bytes(500, 71);
      await storage.write("sum.bin", data);
      for (const algorithm of ALL_HASHES) {
        const declaredHere = declared.checksum && declared.hashes.includes(algorithm);
        if (!declaredHere) {
          await expectFerryError(storage.checksum("sum.bin", algorithm), "Unsupported");
        } else if (capabilities.checksum && ["md5", "sha1", "sha256"].includes(algorithm)) {
          expect(await storage.checksum("sum.bin", algorithm)).toBe(hashHex(algorithm, data));
        }
      }
    },
  },
  {
    name: "capabilities: conditional writes are Unsupported exactly when undeclared",
    async run({ storage, declared, capabilities }) {
      if (!declared.conditionalWrite) {
        await expectFerryError(storage.write("cond.txt", "x", { ifNoneMatch: "*" }), "Unsupported");
        expect(await storage.exists("cond.txt")).toBe(false);
      } else if (capabilities.conditionalWrite) {
        await storage.write("cond.txt", "x", { ifNoneMatch: "*" });
        await expectFerryError(storage.write("cond.txt", "y", { ifNoneMatch: "*" }), "ConditionNotMet");
      }
    },
  },
  {
    name: "capabilities: exec is Unsupported exactly when undeclared",
    needs: [],
    async run({ storage, declared, capabilities }) {
      if (!declared.exec) {
        await expectFerryError(storage.exec("echo ferry"), "Unsupported");
      } else if (capabilities.exec) {
        const result = await storage.exec("echo ferry");
        expect(result.exitCode).toBe(0);
        expect(result.stdout.trim()).toBe("ferry");
      }
    },
  },
  {
    name: "capabilities: cleanup is Unsupported exactly when undeclared, and never touches a user's files",
    async run({ storage, declared, capabilities }) {
      await seed(storage, { "kept/a.txt": "a", "kept/sub/b.txt": "b", "kept-too.txt": "c" });
      if (!declared.cleanup) {
        await expectFerryError(storage.cleanup("kept"), "Unsupported");
        return;
      }
      if (!capabilities.cleanup) return;
      // Even with no age limit, only what ferry's interrupted writes left is a leftover: here, nothing.
      const dry = await storage.cleanup("kept", { dryRun: true, olderThanMs: 0 });
      expect(dry.leftovers).toEqual([]);
      const done = await storage.cleanup("", { olderThanMs: 0 });
      expect(done.leftovers).toEqual([]);
      expect(await listPaths(storage, "", { recursive: true })).toEqual([
        "kept-too.txt",
        "kept/a.txt",
        "kept/sub/b.txt",
      ]);
    },
  },
  {
    name: "capabilities: presign is Unsupported exactly when undeclared",
    async run({ storage, declared, capabilities }) {
      await storage.write("signed.txt", "presigned content");
      if (!declared.presign) {
        await expectFerryError(storage.presign("signed.txt"), "Unsupported");
      } else if (capabilities.presign) {
        const url = await storage.presign("signed.txt", { method: "GET", expiresIn: 300 });
        expect(url).toMatch(/^https?:\/\//);
        const response = await fetch(url);
        expect(response.status).toBe(200);
        expect(await response.text()).toBe("presigned content");
      }
    },
  },
  {
    name: "capabilities: a read-only storage refuses every write with Unsupported",
    needs: [],
    async run({ storage, declared }) {
      if (declared.write) {
        await storage.write("rw.txt", "writable");
        expect(await readText(storage, "rw.txt")).toBe("writable");
        return;
      }
      await expectFerryError(storage.write("ro.txt", "x"), "Unsupported");
      await expectFerryError(storage.delete("ro.txt"), "Unsupported");
      await expectFerryError(storage.deleteDirectory("ro"), "Unsupported");
      await expectFerryError(storage.mkdir("ro"), "Unsupported");
    },
  },
  {
    name: "capabilities: no content type is reported when undeclared",
    async run({ storage, declared }) {
      await storage.write("untyped.json", "{}", { contentType: "application/json" });
      const entry = await storage.stat("untyped.json");
      if (!declared.contentType) expect(entry.contentType).toBeUndefined();
      else expect(entry.contentType).toMatch(/^application\/json/);
    },
  },
  {
    name: "capabilities: no md5 is reported unless md5 is a declared hash",
    async run({ storage, declared }) {
      const written = await storage.write("nomd5.bin", bytes(100, 72));
      const entries = [
        written,
        await storage.stat("nomd5.bin"),
        ...(await (async () => {
          const listed = [];
          for await (const entry of storage.list("")) listed.push(entry);
          return listed;
        })()),
      ];
      if (!declared.hashes.includes("md5")) for (const entry of entries) expect(entry.md5).toBeUndefined();
    },
  },
  {
    name: "capabilities: empty directories list only when declared",
    needs: ["write", "mkdir"],
    async run({ storage, declared }) {
      await storage.mkdir("maybe-empty");
      const top = await listPaths(storage, "");
      if (declared.emptyDirectories) expect(top).toEqual(["maybe-empty"]);
      else expect(top).toEqual([]);
    },
  },
  {
    name: "capabilities: a declared lexicographic order holds in the driver's own listing",
    async run({ storage, declared }) {
      await seed(storage, {
        "t/x.txt": "1",
        "t-/y.txt": "2",
        "t.txt": "3",
        T: "4",
        é: "5",
        "😀/z": "6",
        ｅ: "7",
      });
      const level: string[] = [];
      for await (const entry of storage.driver.list(""))
        level.push(entry.kind === "directory" ? `${entry.path}/` : entry.path);
      expect(level.slice().sort()).toEqual(["T", "t-/", "t.txt", "t/", "é", "ｅ", "😀/"].sort());
      if (declared.listOrder === "lexicographic") expect(level).toEqual([...level].sort(compareKeys));
      if (declared.listRecursive === "native") {
        const all: string[] = [];
        for await (const entry of storage.driver.list("", { recursive: true })) {
          expect(entry.kind).toBe("file");
          all.push(entry.path);
        }
        const expected = ["T", "t-/y.txt", "t.txt", "t/x.txt", "é", "ｅ", "😀/z"];
        expect(all.slice().sort()).toEqual(expected.slice().sort());
        if (declared.listOrder === "lexicographic") expect(all).toEqual(expected.sort(compareKeys));
      }
    },
  },
];
