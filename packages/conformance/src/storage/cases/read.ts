import type { ByteRange } from "@ferry/plugin-kit";
import { expect } from "vitest";
import { bytes, equalBytes, expectFerryError } from "../helpers.ts";
import type { CaseContext, StorageCase } from "../types.ts";

const OBJECT = bytes(100, 42);

/** Writes a 100-byte object and checks that `range` reads `expected` (given as [start, end)). */
function rangeCase(name: string, range: ByteRange, [start, end]: [number, number]): StorageCase {
  return {
    name,
    async run({ storage }: CaseContext) {
      await storage.write("range.bin", OBJECT);
      equalBytes(await storage.readBytes("range.bin", { range }), OBJECT.slice(start, end));
    },
  };
}

export const readCases: StorageCase[] = [
  {
    name: "read: the whole object as a stream",
    async run({ storage }) {
      await storage.write("whole.bin", OBJECT);
      const chunks: Uint8Array[] = [];
      for await (const chunk of await storage.read("whole.bin")) chunks.push(chunk as Uint8Array);
      equalBytes(new Uint8Array(Buffer.concat(chunks)), OBJECT);
    },
  },
  rangeCase("read: a range in the middle", { offset: 5, length: 10 }, [5, 15]),
  rangeCase("read: from an offset to the end", { offset: 81 }, [81, 100]),
  rangeCase("read: a range past the end is clamped", { offset: 81, length: 100_000 }, [81, 100]),
  rangeCase("read: an offset at the end reads nothing", { offset: 100 }, [100, 100]),
  rangeCase("read: an offset past the end reads nothing", { offset: 200, length: 10 }, [100, 100]),
  rangeCase("read: a zero-length range reads nothing", { offset: 10, length: 0 }, [10, 10]),
  rangeCase("read: a suffix range gives the last bytes", { suffix: 20 }, [80, 100]),
  rangeCase("read: a suffix longer than the object gives all of it", { suffix: 1000 }, [0, 100]),
  rangeCase("read: a zero suffix reads nothing", { suffix: 0 }, [100, 100]),
  {
    name: "read: ranges of an empty object read nothing",
    async run({ storage }) {
      await storage.write("empty.bin", new Uint8Array(0));
      for (const range of [{ offset: 0 }, { offset: 5, length: 5 }, { suffix: 3 }]) {
        expect((await storage.readBytes("empty.bin", { range })).byteLength).toBe(0);
      }
    },
  },
  {
    name: "read: ranges across part boundaries of a multi-part object",
    async run({ storage, partSize }) {
      const data = bytes(partSize * 2 + 50, 6);
      await storage.write("parts.bin", data, { partSize });
      const ranges: [number, number][] = [
        [partSize - 10, partSize + 10],
        [0, partSize * 2 + 50],
        [partSize * 2, partSize * 2 + 50],
      ];
      for (const [start, end] of ranges) {
        equalBytes(
          await storage.readBytes("parts.bin", { range: { offset: start, length: end - start } }),
          data.slice(start, end),
        );
      }
    },
  },
  {
    name: "read: negative or fractional ranges are refused with InvalidInput",
    async run({ storage }) {
      await storage.write("range.bin", OBJECT);
      for (const range of [{ offset: -1 }, { offset: 0, length: -5 }, { suffix: -3 }, { offset: 1.5 }]) {
        await expectFerryError(storage.read("range.bin", { range }), "InvalidInput");
      }
    },
  },
  {
    name: "read: destroying a stream after a partial read releases it",
    async run({ storage, partSize }) {
      const data = bytes(partSize * 4, 12);
      await storage.write("partial.bin", data, { partSize });
      const stream = await storage.read("partial.bin");
      const iterator = stream[Symbol.asyncIterator]();
      const first = await iterator.next();
      expect(first.done).toBe(false);
      stream.destroy();
      await iterator.return?.();
      expect(stream.destroyed).toBe(true);
      // The object is intact and can be replaced and removed afterwards.
      equalBytes(await storage.readBytes("partial.bin", { range: { suffix: 10 } }), data.slice(-10));
      await storage.write("partial.bin", "replaced");
      await storage.delete("partial.bin");
      expect(await storage.exists("partial.bin")).toBe(false);
    },
  },
  {
    name: "read: a missing object fails with NotFound",
    async run({ storage }) {
      await storage.write("present.txt", "x");
      await expectFerryError(storage.read("absent.txt"), "NotFound");
      await expectFerryError(storage.readBytes("absent.txt", { range: { offset: 1 } }), "NotFound");
    },
  },
  {
    name: "read: a missing parent fails with NotFound",
    needs: [],
    async run({ storage }) {
      await expectFerryError(storage.read("no/such/dir/file.txt"), "NotFound");
    },
  },
  {
    name: "read: a directory path fails with NotFound or InvalidInput",
    async run({ storage }) {
      await storage.write("folder/file.txt", "x");
      await expectFerryError(storage.read("folder"), "NotFound", "InvalidInput");
    },
  },
  {
    name: "read: reading does not change size or mtime",
    async run({ storage }) {
      await storage.write("stable.bin", OBJECT);
      const before = await storage.stat("stable.bin");
      await storage.readBytes("stable.bin");
      await storage.readBytes("stable.bin", { range: { offset: 3, length: 4 } });
      const after = await storage.stat("stable.bin");
      expect(after.size).toBe(before.size);
      expect(after.mtime?.getTime()).toBe(before.mtime?.getTime());
      expect(after.etag).toBe(before.etag);
    },
  },
  {
    name: "read: aborting the signal mid-read fails the stream",
    async run({ storage, partSize }) {
      await storage.write("abortable.bin", bytes(Math.max(partSize * 4, 1 << 20), 13));
      const controller = new AbortController();
      const stream = await storage.read("abortable.bin", { signal: controller.signal });
      const consumed = (async () => {
        let first = true;
        for await (const _ of stream) {
          if (first) controller.abort();
          first = false;
        }
      })();
      await expect(consumed).rejects.toThrow();
      expect(stream.destroyed).toBe(true);
    },
  },
  {
    name: "read: the stream does not buffer the whole object ahead of the consumer",
    async run({ storage }) {
      const size = 2 << 20;
      await storage.write("pressure.bin", bytes(size, 14));
      const stream = await storage.read("pressure.bin");
      const first = (await stream[Symbol.asyncIterator]().next()).value as Uint8Array;
      // Give a stream that ignores back-pressure time to run ahead of a consumer that stopped.
      for (let tick = 0; tick < 20; tick++) await new Promise((resolve) => setImmediate(resolve));
      expect(first.byteLength, "first chunk").toBeLessThan(size / 2);
      if (!stream.readableObjectMode) expect(stream.readableLength, "bytes buffered").toBeLessThan(size / 2);
      stream.destroy();
    },
  },
];
