import { expect } from "vitest";
import { bytes, expectFerryError, listEntries, md5Hex } from "../helpers.ts";
import type { StorageCase } from "../types.ts";

export const statCases: StorageCase[] = [
  {
    name: "stat: a file has kind, exact size and path",
    async run({ storage }) {
      await storage.write("dir/stat.bin", bytes(1234));
      const entry = await storage.stat("dir/stat.bin");
      expect(entry).toMatchObject({ path: "dir/stat.bin", kind: "file", size: 1234 });
    },
  },
  {
    name: "stat: a file has an mtime close to the write",
    needs: ["write", "mtime"],
    async run({ storage, capabilities }) {
      const before = Date.now();
      await storage.write("fresh.txt", "now");
      const after = Date.now();
      const { mtime } = await storage.stat("fresh.txt");
      expect(mtime).toBeInstanceOf(Date);
      // Local emulators share our clock; the slack covers the declared precision only.
      const slack = capabilities.mtimePrecisionMs + 1000;
      expect(mtime!.getTime()).toBeGreaterThanOrEqual(before - slack);
      expect(mtime!.getTime()).toBeLessThanOrEqual(after + slack);
    },
  },
  {
    name: "stat: a missing path fails with NotFound and exists() is false",
    needs: [],
    async run({ storage }) {
      await expectFerryError(storage.stat("missing.txt"), "NotFound");
      await expectFerryError(storage.stat("missing/deeper.txt"), "NotFound");
      expect(await storage.exists("missing.txt")).toBe(false);
    },
  },
  {
    name: "stat: the parent of a nested file is a directory",
    async run({ storage }) {
      await storage.write("parent/child/file.txt", "x");
      for (const dir of ["parent", "parent/child"]) {
        const entry = await storage.stat(dir);
        expect(entry.kind, dir).toBe("directory");
        expect(entry.size).toBe(0);
        expect(await storage.exists(dir)).toBe(true);
      }
    },
  },
  {
    name: "stat: a name that only prefixes a key is not found",
    async run({ storage }) {
      await storage.write("prefix-of-something.txt", "x");
      await expectFerryError(storage.stat("prefix"), "NotFound");
      await expectFerryError(storage.stat("prefix-of"), "NotFound");
    },
  },
  {
    name: "stat: listing entries agree with stat",
    async run({ storage }) {
      await storage.write("agree/a.txt", "alpha");
      await storage.write("agree/b.bin", bytes(777));
      for (const listed of await listEntries(storage, "agree")) {
        const stat = await storage.stat(listed.path);
        expect(listed.kind).toBe(stat.kind);
        expect(listed.size).toBe(stat.size);
        if (listed.mtime && stat.mtime)
          expect(Math.abs(listed.mtime.getTime() - stat.mtime.getTime())).toBeLessThan(1000);
        if (listed.md5 && stat.md5) expect(listed.md5).toBe(stat.md5);
      }
    },
  },
  {
    name: "stat: an overwrite shows the new size and version",
    async run({ storage }) {
      const first = await storage.write("version.txt", "one");
      const second = await storage.write("version.txt", "three");
      const stat = await storage.stat("version.txt");
      expect(stat.size).toBe(5);
      if (first.etag !== undefined && stat.etag !== undefined) {
        expect(stat.etag).not.toBe(first.etag);
        expect(stat.etag).toBe(second.etag);
      }
    },
  },
  {
    name: "stat: an md5, when reported, is the content's",
    needs: ["write", "md5"],
    async run({ storage, partSize }) {
      const small = bytes(300, 1);
      const large = bytes(partSize * 2 + 3, 2);
      await storage.write("md5/small.bin", small);
      await storage.write("md5/large.bin", large, { partSize });
      for (const [path, data] of [
        ["md5/small.bin", small],
        ["md5/large.bin", large],
      ] as const) {
        const entry = await storage.stat(path);
        if (entry.md5 !== undefined) expect(entry.md5, path).toBe(md5Hex(data));
        for (const listed of await listEntries(storage, "md5")) {
          if (listed.path === path && listed.md5 !== undefined) expect(listed.md5).toBe(md5Hex(data));
        }
      }
    },
  },
];
