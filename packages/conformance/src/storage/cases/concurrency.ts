import { expect } from "vitest";
import { bytes, equalBytes, listPaths } from "../helpers.ts";
import type { StorageCase } from "../types.ts";

export const concurrencyCases: StorageCase[] = [
  {
    name: "concurrency: parallel writes of different keys",
    async run({ storage, slow }) {
      const count = slow ? 8 : 24;
      const payloads = Array.from({ length: count }, (_, index) => bytes(2000 + index, index + 100));
      await Promise.all(
        payloads.map((data, index) => storage.write(`parallel/${String(index).padStart(2, "0")}.bin`, data)),
      );
      expect(await listPaths(storage, "parallel")).toHaveLength(count);
      for (const [index, data] of payloads.entries()) {
        equalBytes(await storage.readBytes(`parallel/${String(index).padStart(2, "0")}.bin`), data);
      }
    },
  },
  {
    name: "concurrency: parallel reads of one object",
    async run({ storage, partSize }) {
      const data = bytes(partSize + 500, 61);
      await storage.write("shared.bin", data);
      const reads = await Promise.all(Array.from({ length: 8 }, () => storage.readBytes("shared.bin")));
      for (const read of reads) equalBytes(read, data);
    },
  },
  {
    name: "concurrency: reads during overwrites never see a torn value",
    async run({ storage, partSize, slow }) {
      const size = partSize + 1000;
      const versions = [new Uint8Array(size).fill(0x61), new Uint8Array(size).fill(0x62)];
      await storage.write("torn.bin", versions[0]!);
      const rounds = slow ? 4 : 12;
      let writing = true;
      const writer = (async () => {
        try {
          for (let round = 1; round <= rounds; round++)
            await storage.write("torn.bin", versions[round % 2]!, { partSize });
        } finally {
          writing = false;
        }
      })();
      const observed: Uint8Array[] = [];
      const reader = async () => {
        while (writing) observed.push(await storage.readBytes("torn.bin"));
      };
      await Promise.all([writer, reader(), reader()]);
      observed.push(await storage.readBytes("torn.bin"));
      for (const read of observed) {
        expect(read.byteLength).toBe(size);
        const first = read[0];
        expect(
          read.every((byte) => byte === first),
          "a read mixed two versions",
        ).toBe(true);
      }
      expect(observed.at(-1)![0]).toBe(versions[rounds % 2]![0]);
    },
  },
  {
    name: "concurrency: concurrent writes to one key leave one whole version",
    async run({ storage, partSize }) {
      const versions = Array.from({ length: 4 }, (_, index) =>
        new Uint8Array(partSize + 100 * index).fill(0x41 + index),
      );
      await Promise.all(versions.map((data) => storage.write("contested.bin", data, { partSize })));
      const final = await storage.readBytes("contested.bin");
      const winner = versions.find((data) => data[0] === final[0]);
      expect(winner, "the object is one of the written versions").toBeDefined();
      equalBytes(final, winner!);
      expect(await listPaths(storage, "", { recursive: true })).toEqual(["contested.bin"]);
    },
  },
];
