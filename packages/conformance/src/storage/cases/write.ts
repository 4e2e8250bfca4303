import { Readable } from "node:stream";
import { expect } from "vitest";
import {
  bytes,
  equalBytes,
  expectFerryError,
  failingSource,
  listEntries,
  listPaths,
  md5Hex,
  readText,
  stallingSource,
  streamed,
} from "../helpers.ts";
import type { StorageCase } from "../types.ts";

export const writeCases: StorageCase[] = [
  {
    name: "write: bytes round-trip",
    async run({ storage }) {
      const data = bytes(1000, 7);
      const entry = await storage.write("small.bin", data);
      expect(entry.size).toBe(1000);
      equalBytes(await storage.readBytes("small.bin"), data);
    },
  },
  {
    name: "write: an empty object",
    async run({ storage }) {
      const entry = await storage.write("empty.bin", new Uint8Array(0));
      expect(entry.size).toBe(0);
      expect((await storage.stat("empty.bin")).size).toBe(0);
      expect((await storage.readBytes("empty.bin")).byteLength).toBe(0);
      expect(await listPaths(storage, "")).toEqual(["empty.bin"]);
    },
  },
  {
    name: "write: a string is stored as UTF-8",
    async run({ storage }) {
      await storage.write("utf8.txt", "héllo wörld ✓");
      expect(await readText(storage, "utf8.txt")).toBe("héllo wörld ✓");
      expect((await storage.stat("utf8.txt")).size).toBe(
        new TextEncoder().encode("héllo wörld ✓").byteLength,
      );
    },
  },
  {
    name: "write: every source kind gives the same object",
    async run({ storage }) {
      const data = bytes(5000, 3);
      const halves = [data.slice(0, 2500), data.slice(2500)];
      const sources = {
        bytes: () => data,
        iterable: () => halves,
        asyncIterable: () => streamed(data, 999),
        nodeStream: () => Readable.from(halves.map((half) => Buffer.from(half))),
        webStream: () =>
          new ReadableStream<Uint8Array>({
            start(controller) {
              for (const half of halves) controller.enqueue(half);
              controller.close();
            },
          }),
      };
      for (const [kind, make] of Object.entries(sources)) {
        await storage.write(`sources/${kind}.bin`, make());
        equalBytes(await storage.readBytes(`sources/${kind}.bin`), data);
      }
    },
  },
  {
    name: "write: multi-part sized data with a known size round-trips",
    async run({ storage, partSize }) {
      const data = bytes(partSize * 2 + 17, 11);
      const entry = await storage.write("multipart/known.bin", data, {
        size: data.byteLength,
        partSize,
        concurrency: 2,
      });
      expect(entry.size).toBe(data.byteLength);
      equalBytes(await storage.readBytes("multipart/known.bin"), data);
    },
  },
  {
    name: "write: sizes at part boundaries round-trip",
    async run({ storage, partSize }) {
      for (const size of [partSize - 1, partSize, partSize + 1, 2 * partSize]) {
        const data = bytes(size, size);
        await storage.write(`boundary/${size}.bin`, streamed(data, Math.ceil(partSize / 3)), { partSize });
        equalBytes(await storage.readBytes(`boundary/${size}.bin`), data);
      }
    },
  },
  {
    name: "write: a streamed source of unknown size round-trips",
    async run({ storage, partSize }) {
      const data = bytes(partSize * 3 + 5, 5);
      const entry = await storage.write("streamed/unknown.bin", streamed(data, 4096), { partSize });
      expect(entry.size).toBe(data.byteLength);
      equalBytes(await storage.readBytes("streamed/unknown.bin"), data);
    },
  },
  {
    name: "write: an empty streamed source gives an empty object",
    async run({ storage, partSize }) {
      await storage.write("streamed/empty.bin", streamed(new Uint8Array(0), 10), { partSize });
      expect((await storage.stat("streamed/empty.bin")).size).toBe(0);
    },
  },
  {
    name: "write: overwrite replaces the content",
    async run({ storage }) {
      await storage.write("over.txt", "first version");
      const entry = await storage.write("over.txt", "second");
      expect(entry.size).toBe(6);
      expect(await readText(storage, "over.txt")).toBe("second");
      expect(await listPaths(storage, "")).toEqual(["over.txt"]);
    },
  },
  {
    name: "write: overwrite with a larger multi-part object",
    async run({ storage, partSize }) {
      await storage.write("grow.bin", "tiny");
      const data = bytes(partSize * 2 + 1, 2);
      await storage.write("grow.bin", streamed(data, 8192), { partSize });
      equalBytes(await storage.readBytes("grow.bin"), data);
    },
  },
  {
    name: "write: nested paths create their parents",
    async run({ storage }) {
      await storage.write("deep/er/and/deeper/file.txt", "nested");
      expect(await readText(storage, "deep/er/and/deeper/file.txt")).toBe("nested");
      expect((await storage.stat("deep/er")).kind).toBe("directory");
    },
  },
  {
    name: "write: the returned entry agrees with stat",
    async run({ storage, capabilities }) {
      const before = Date.now();
      const written = await storage.write("agree.txt", "agreement");
      const elapsed = Date.now() - before;
      const stat = await storage.stat("agree.txt");
      expect(written.path).toBe("agree.txt");
      expect(written.kind).toBe("file");
      expect(written.size).toBe(stat.size);
      if (written.etag !== undefined && stat.etag !== undefined) expect(written.etag).toBe(stat.etag);
      if (written.md5 !== undefined && stat.md5 !== undefined) expect(written.md5).toBe(stat.md5);
      // A system that keeps whole seconds may tick over while the write is on its way.
      if (written.mtime && stat.mtime)
        expect(Math.abs(written.mtime.getTime() - stat.mtime.getTime())).toBeLessThanOrEqual(
          capabilities.mtimePrecisionMs + elapsed,
        );
    },
  },
  {
    name: "write: progress is reported up to the full size",
    async run({ storage, partSize }) {
      const data = bytes(partSize + 100, 9);
      const seen: number[] = [];
      await storage.write("progress.bin", streamed(data, 1000), {
        partSize,
        onProgress: (n) => seen.push(n),
      });
      expect(seen.length).toBeGreaterThan(1);
      expect(seen.at(-1)).toBe(data.byteLength);
      expect(seen).toEqual([...seen].sort((a, b) => a - b));
    },
  },
  {
    name: "write: a source failing midway leaves nothing",
    async run({ storage, partSize }) {
      const boom = new Error("source broke");
      const error = await storage
        .write("fail/new.bin", failingSource([bytes(partSize + 1, 1), bytes(100, 2)], boom), { partSize })
        .catch((e) => e);
      expect(error).toBeInstanceOf(Error);
      expect(await storage.exists("fail/new.bin")).toBe(false);
      expect(await listPaths(storage, "", { recursive: true })).toEqual([]);
    },
  },
  {
    name: "write: a failing source's own error reaches the caller",
    async run({ storage, partSize }) {
      const boom = new Error("the source's own message");
      const source = failingSource([bytes(partSize + 1, 1)], boom);
      const error = (await storage
        .write("fail/message.bin", source, { partSize })
        .catch((caught: unknown) => caught)) as Error;
      expect(error).toBeInstanceOf(Error);
      const chain: unknown[] = [];
      for (let link: unknown = error; link instanceof Error && chain.length < 10; link = link.cause)
        chain.push(link);
      expect(
        chain.some((link) => link === boom || (link as Error).message.includes("the source's own message")),
      ).toBe(true);
    },
  },
  {
    name: "write: a source failing midway leaves the existing object unchanged",
    async run({ storage, partSize }) {
      await storage.write("fail/existing.txt", "keep me");
      await storage
        .write("fail/existing.txt", failingSource([bytes(partSize + 3, 1)], new Error("broke")), { partSize })
        .catch(() => undefined);
      expect(await readText(storage, "fail/existing.txt")).toBe("keep me");
      expect(await listPaths(storage, "", { recursive: true })).toEqual(["fail/existing.txt"]);
    },
  },
  {
    name: "write: a declared size larger than the source fails and leaves nothing",
    async run({ storage }) {
      await expectFerryError(
        storage.write("short.bin", streamed(bytes(100), 30), { size: 200 }),
        "InvalidInput",
      );
      expect(await storage.exists("short.bin")).toBe(false);
      expect(await listPaths(storage, "", { recursive: true })).toEqual([]);
    },
  },
  {
    name: "write: a declared size smaller than the source fails and leaves nothing",
    async run({ storage }) {
      await expectFerryError(
        storage.write("long.bin", streamed(bytes(300), 64), { size: 200 }),
        "InvalidInput",
      );
      expect(await storage.exists("long.bin")).toBe(false);
      expect(await listPaths(storage, "", { recursive: true })).toEqual([]);
    },
  },
  {
    name: "write: an MD5 mismatch fails with Integrity and leaves nothing",
    async run({ storage, partSize }) {
      const data = bytes(partSize + 10, 4);
      await expectFerryError(
        storage.write("md5/bad.bin", streamed(data, 5000), { md5: md5Hex(bytes(10)), partSize }),
        "Integrity",
      );
      expect(await storage.exists("md5/bad.bin")).toBe(false);
      expect(await listPaths(storage, "", { recursive: true })).toEqual([]);
    },
  },
  {
    name: "write: an MD5 mismatch leaves the existing object unchanged",
    async run({ storage }) {
      await storage.write("md5/existing.txt", "original");
      await expectFerryError(
        storage.write("md5/existing.txt", "replacement", { md5: md5Hex(bytes(3)) }),
        "Integrity",
      );
      expect(await readText(storage, "md5/existing.txt")).toBe("original");
    },
  },
  {
    name: "write: a matching MD5 is accepted",
    async run({ storage }) {
      const data = bytes(4321, 8);
      await storage.write("md5/good.bin", data, { md5: md5Hex(data).toUpperCase() });
      equalBytes(await storage.readBytes("md5/good.bin"), data);
    },
  },
  {
    name: "write: aborting mid-write fails with Aborted and leaves nothing",
    async run({ storage, partSize }) {
      const controller = new AbortController();
      const source = stallingSource([bytes(partSize + 1, 1)], controller.signal, () => controller.abort());
      await expectFerryError(
        storage.write("abort/new.bin", source, { signal: controller.signal, partSize }),
        "Aborted",
      );
      expect(await storage.exists("abort/new.bin")).toBe(false);
      expect(await listPaths(storage, "", { recursive: true })).toEqual([]);
    },
  },
  {
    name: "write: aborting mid-write leaves the existing object unchanged",
    async run({ storage, partSize }) {
      await storage.write("abort/existing.txt", "survivor");
      const controller = new AbortController();
      const source = stallingSource([bytes(partSize + 1, 1)], controller.signal, () => controller.abort());
      await expectFerryError(
        storage.write("abort/existing.txt", source, { signal: controller.signal, partSize }),
        "Aborted",
      );
      expect(await readText(storage, "abort/existing.txt")).toBe("survivor");
      expect(await listPaths(storage, "", { recursive: true })).toEqual(["abort/existing.txt"]);
    },
  },
  {
    name: "write: an already aborted signal writes nothing",
    async run({ storage }) {
      const controller = new AbortController();
      controller.abort();
      await expectFerryError(storage.write("abort/never.txt", "x", { signal: controller.signal }), "Aborted");
      expect(await storage.exists("abort/never.txt")).toBe(false);
    },
  },
  {
    name: "write: a declared content type is stored",
    needs: ["write", "contentType"],
    async run({ storage }) {
      await storage.write("typed.dat", "{}", { contentType: "application/json" });
      expect((await storage.stat("typed.dat")).contentType).toBe("application/json");
    },
  },
  {
    name: "write: content type is guessed from the name",
    needs: ["write", "contentType"],
    async run({ storage }) {
      await storage.write("guess.json", "{}");
      expect((await storage.stat("guess.json")).contentType).toMatch(/^application\/json/);
    },
  },
  {
    name: "write: a given mtime is recorded within the declared precision",
    needs: ["write", "setMtime"],
    async run({ storage, capabilities }) {
      const mtime = new Date("2021-03-04T05:06:07.890Z");
      await storage.write("mtime.txt", "dated", { mtime });
      const stat = await storage.stat("mtime.txt");
      expect(stat.mtime).toBeInstanceOf(Date);
      expect(Math.abs(stat.mtime!.getTime() - mtime.getTime())).toBeLessThanOrEqual(
        capabilities.mtimePrecisionMs,
      );
      const [listed] = (await listEntries(storage, "")).filter((entry) => entry.path === "mtime.txt");
      expect(Math.abs(listed!.mtime!.getTime() - mtime.getTime())).toBeLessThanOrEqual(
        capabilities.mtimePrecisionMs,
      );
    },
  },
  {
    name: "write: below a file fails cleanly when directories are real",
    needs: ["write", "realDirectories"],
    async run({ storage }) {
      await storage.write("plain.txt", "file");
      await expectFerryError(storage.write("plain.txt/child.txt", "x"), "InvalidInput", "AlreadyExists");
      expect(await readText(storage, "plain.txt")).toBe("file");
    },
  },
  {
    name: "write: onto a directory fails cleanly when directories are real",
    needs: ["write", "realDirectories"],
    async run({ storage }) {
      await storage.write("dir/inside.txt", "inside");
      await expectFerryError(storage.write("dir", "x"), "InvalidInput", "AlreadyExists");
      expect(await readText(storage, "dir/inside.txt")).toBe("inside");
      expect((await storage.stat("dir")).kind).toBe("directory");
    },
  },
  {
    name: "write: many tiny chunks are written in order",
    async run({ storage }) {
      const data = bytes(20_000, 15);
      await storage.write("tiny-chunks.bin", streamed(data, 7));
      equalBytes(await storage.readBytes("tiny-chunks.bin"), data);
    },
  },
  {
    name: "write: an object is invisible until its write completes",
    async run({ storage, partSize }) {
      await storage.write("pending/existing.txt", "old");
      let release!: () => void;
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      let started!: () => void;
      const halfway = new Promise<void>((resolve) => {
        started = resolve;
      });
      async function* source(): AsyncIterable<Uint8Array> {
        yield bytes(partSize + 1, 1);
        started();
        await released;
        yield bytes(10, 2);
      }
      const newWrite = storage.write("pending/new.bin", source(), { partSize });
      await halfway;
      expect(await storage.exists("pending/new.bin")).toBe(false);
      expect(await listPaths(storage, "", { recursive: true })).toEqual(["pending/existing.txt"]);
      release();
      await newWrite;
      expect((await storage.stat("pending/new.bin")).size).toBe(partSize + 11);
    },
  },
];
