import type { RangeFetcher } from "@ferry/plugin-kit";
import { expect } from "vitest";
import { bytes, equalBytes, expectFerryError, listPaths, md5Hex, readText, streamed } from "../helpers.ts";
import type { StorageCase } from "../types.ts";

/**
 * A fetcher over `data` that answers each range after a delay that falls as the offset grows, so
 * ranges complete out of order; it records what was asked for.
 */
function fetcherOf(
  data: Uint8Array,
  options: { failAt?: number; extra?: number; short?: number } = {},
): { fetch: RangeFetcher; asked: Array<{ offset: number; length: number }> } {
  const asked: Array<{ offset: number; length: number }> = [];
  const fetch: RangeFetcher = async (range) => {
    asked.push({ ...range });
    const delay = Math.max(0, 20 - Math.floor((range.offset / Math.max(1, data.byteLength)) * 20));
    await new Promise((resolve) => setTimeout(resolve, delay));
    const end = range.offset + range.length + (options.extra ?? 0) - (options.short ?? 0);
    const slice = data.slice(range.offset, end);
    const failAfter =
      options.failAt !== undefined && range.offset > 0 ? Math.floor(slice.byteLength / 2) : undefined;
    return streamed(slice, 700, failAfter);
  };
  return { fetch, asked };
}

export const rangedWriteCases: StorageCase[] = [
  {
    name: "ranged write: ranges completing out of order assemble the object",
    async run({ storage, partSize }) {
      const data = bytes(partSize * 3 + 123, 21);
      const { fetch, asked } = fetcherOf(data);
      const chunkSize = Math.ceil(data.byteLength / 5);
      const entry = await storage.writeRanges("ranged/whole.bin", fetch, {
        size: data.byteLength,
        streams: 3,
        chunkSize,
        md5: md5Hex(data),
      });
      expect(entry.size).toBe(data.byteLength);
      equalBytes(await storage.readBytes("ranged/whole.bin"), data);
      // Every byte asked for exactly once.
      const sorted = [...asked].sort((a, b) => a.offset - b.offset);
      let covered = 0;
      for (const range of sorted) {
        expect(range.offset).toBe(covered);
        covered += range.length;
      }
      expect(covered).toBe(data.byteLength);
    },
  },
  {
    name: "ranged write: an empty object",
    async run({ storage }) {
      const { fetch, asked } = fetcherOf(new Uint8Array(0));
      const entry = await storage.writeRanges("ranged/empty.bin", fetch, {
        size: 0,
        md5: md5Hex(new Uint8Array(0)),
      });
      expect(entry.size).toBe(0);
      expect(asked).toEqual([]);
      expect((await storage.stat("ranged/empty.bin")).size).toBe(0);
    },
  },
  {
    name: "ranged write: progress counts every byte once",
    async run({ storage }) {
      const data = bytes(10_000, 4);
      const { fetch } = fetcherOf(data);
      let last = 0;
      await storage.writeRanges("ranged/progress.bin", fetch, {
        size: data.byteLength,
        streams: 2,
        chunkSize: 3000,
        onProgress: (total) => {
          expect(total).toBeGreaterThanOrEqual(last);
          last = total;
        },
      });
      expect(last).toBe(data.byteLength);
    },
  },
  {
    name: "ranged write: an MD5 mismatch fails with Integrity and leaves the old object",
    async run({ storage }) {
      await storage.write("ranged/kept.txt", "survivor");
      const data = bytes(9000, 5);
      const { fetch } = fetcherOf(data);
      await expectFerryError(
        storage.writeRanges("ranged/kept.txt", fetch, {
          size: data.byteLength,
          streams: 3,
          chunkSize: 2000,
          md5: md5Hex(bytes(9000, 6)),
        }),
        "Integrity",
      );
      expect(await readText(storage, "ranged/kept.txt")).toBe("survivor");
      expect(await listPaths(storage, "ranged")).toEqual(["ranged/kept.txt"]);
    },
  },
  {
    name: "ranged write: a range failing midway leaves nothing",
    async run({ storage }) {
      const data = bytes(9000, 7);
      const { fetch } = fetcherOf(data, { failAt: 1 });
      await expect(
        storage.writeRanges("ranged/broken.bin", fetch, {
          size: data.byteLength,
          streams: 2,
          chunkSize: 3000,
        }),
      ).rejects.toThrow();
      expect(await storage.exists("ranged/broken.bin")).toBe(false);
      expect(await listPaths(storage, "", { recursive: true })).toEqual([]);
    },
  },
  {
    name: "ranged write: a range longer or shorter than asked fails with InvalidInput and leaves nothing",
    async run({ storage }) {
      const data = bytes(9000, 8);
      for (const wrong of [{ extra: 10 }, { short: 10 }]) {
        const { fetch } = fetcherOf(data, wrong);
        await expectFerryError(
          storage.writeRanges("ranged/wrong.bin", fetch, {
            size: data.byteLength,
            streams: 2,
            chunkSize: 3000,
          }),
          "InvalidInput",
        );
        expect(await storage.exists("ranged/wrong.bin")).toBe(false);
      }
      expect(await listPaths(storage, "", { recursive: true })).toEqual([]);
    },
  },
  {
    name: "ranged write: aborting fails with Aborted and leaves nothing",
    async run({ storage }) {
      const controller = new AbortController();
      const data = bytes(9000, 9);
      const fetch: RangeFetcher = async (range, { signal }) => {
        if (range.offset > 0) {
          // The other ranges stall until the write is stopped.
          return (async function* () {
            yield data.slice(range.offset, range.offset + 10);
            if (!signal?.aborted)
              await new Promise<void>((resolve) =>
                signal?.addEventListener("abort", () => resolve(), { once: true }),
              );
            signal?.throwIfAborted();
          })();
        }
        controller.abort();
        return streamed(data.slice(0, range.length), 500);
      };
      await expectFerryError(
        storage.writeRanges("ranged/aborted.bin", fetch, {
          size: data.byteLength,
          streams: 3,
          chunkSize: 3000,
          signal: controller.signal,
        }),
        "Aborted",
      );
      expect(await storage.exists("ranged/aborted.bin")).toBe(false);
      expect(await listPaths(storage, "", { recursive: true })).toEqual([]);
    },
  },
  {
    name: "ranged write: bad sizes and counts are InvalidInput",
    async run({ storage }) {
      const { fetch } = fetcherOf(bytes(10, 1));
      for (const options of [
        { size: -1 },
        { size: 1.5 },
        { size: 10, streams: 0 },
        { size: 10, chunkSize: 0 },
      ]) {
        await expectFerryError(storage.writeRanges("ranged/bad.bin", fetch, options), "InvalidInput");
      }
      await expectFerryError(
        storage.writeRanges("ranged/bad.bin", fetch, { size: 10, md5: "not-hex" }),
        "InvalidInput",
      );
      expect(await storage.exists("ranged/bad.bin")).toBe(false);
    },
  },
];
