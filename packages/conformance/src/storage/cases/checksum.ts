import { expect } from "vitest";
import { bytes, expectFerryError, hashHex } from "../helpers.ts";
import type { StorageCase } from "../types.ts";

/** Algorithms node:crypto can compute locally to check the storage's answer. */
const LOCAL = new Set(["md5", "sha1", "sha256"]);

export const checksumCases: StorageCase[] = [
  {
    name: "checksum: each declared hash equals the locally computed one",
    needs: ["write", "checksum"],
    async run({ storage, capabilities }) {
      const data = bytes(10_000, 51);
      await storage.write("hashed.bin", data);
      for (const algorithm of capabilities.hashes.filter((name) => LOCAL.has(name))) {
        expect(await storage.checksum("hashed.bin", algorithm), algorithm).toBe(hashHex(algorithm, data));
      }
    },
  },
  {
    name: "checksum: of a multi-part sized object",
    needs: ["write", "checksum"],
    async run({ storage, capabilities, partSize }) {
      const data = bytes(partSize * 2 + 77, 52);
      await storage.write("multi.bin", data, { partSize });
      for (const algorithm of capabilities.hashes.filter((name) => LOCAL.has(name))) {
        expect(await storage.checksum("multi.bin", algorithm), algorithm).toBe(hashHex(algorithm, data));
      }
    },
  },
  {
    name: "checksum: of an empty object",
    needs: ["write", "checksum"],
    async run({ storage, capabilities }) {
      await storage.write("empty.bin", new Uint8Array(0));
      for (const algorithm of capabilities.hashes.filter((name) => LOCAL.has(name))) {
        expect(await storage.checksum("empty.bin", algorithm), algorithm).toBe(
          hashHex(algorithm, new Uint8Array(0)),
        );
      }
    },
  },
  {
    name: "checksum: a missing object fails with NotFound",
    needs: ["checksum"],
    async run({ storage, capabilities }) {
      await expectFerryError(storage.checksum("missing.bin", capabilities.hashes[0]!), "NotFound");
    },
  },
  {
    name: "checksum: the downloaded bytes hash like the uploaded ones",
    async run({ storage, partSize }) {
      const data = bytes(partSize * 3 + 1, 53);
      await storage.write("integrity.bin", data, { partSize });
      expect(hashHex("sha256", await storage.readBytes("integrity.bin"))).toBe(hashHex("sha256", data));
    },
  },
];
