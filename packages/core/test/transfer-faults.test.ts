import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { errors, FerryError } from "@ferry/plugin-kit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { copy, localStorage, sync, type TransferFileEvent } from "../src/index.ts";
import {
  failingAfter,
  faultyStorage,
  filesUnder,
  removeTemp,
  tempDir,
  writeTree,
} from "./transfer-faults.ts";

let source: string;
let destination: string;

beforeEach(async () => {
  source = tempDir("src");
  destination = tempDir("dst");
  await writeTree(source, {
    "big.bin": new Uint8Array(512 * 1024).fill(1),
    "small.txt": "small",
    "other.txt": "other",
  });
});

afterEach(() => removeTemp(source, destination));

/** Messages along an error's cause chain. */
function causes(error: unknown): string {
  const messages: string[] = [];
  for (let current = error; current instanceof Error; current = current.cause) messages.push(current.message);
  return messages.join(" <- ");
}

const into = () => ({ storage: localStorage(destination), path: "" });

describe("failures while copying", () => {
  it("a source that fails midway leaves no partial file and does not stop the others", async () => {
    const broken = faultyStorage(source, (inner) => ({
      read: async (path, options) => {
        const stream = await inner.read(path, options);
        return path === "big.bin"
          ? failingAfter(100_000, new Error("connection reset by peer"), stream)
          : stream;
      },
    }));
    const summary = await copy({ storage: broken, path: "" }, into());
    expect(summary).toMatchObject({ copied: 2, failed: 1 });
    expect(summary.errors[0]!.path).toBe("big.bin");
    expect(causes(summary.errors[0]!.error)).toContain("connection reset by peer");
    // Not retried: the error was not marked retryable.
    expect(filesUnder(destination)).toEqual(["other.txt", "small.txt"]);
  });

  it("retries Transient errors with backoff and then succeeds", async () => {
    let attempts = 0;
    const flaky = faultyStorage(source, (inner) => ({
      read: async (path, options) => {
        if (path !== "small.txt") return inner.read(path, options);
        attempts += 1;
        if (attempts < 3) throw errors.transient("503 slow down", { system: "file", path });
        return inner.read(path, options);
      },
    }));
    const events: TransferFileEvent[] = [];
    const summary = await copy({ storage: flaky, path: "" }, into(), {
      retryDelayMs: 1,
      onFile: (event) => events.push(event),
    });
    expect(summary).toMatchObject({ copied: 3, failed: 0 });
    expect(attempts).toBe(3);
    expect(events.find((event) => event.path === "small.txt")?.attempts).toBe(3);
    expect(readFileSync(join(destination, "small.txt"), "utf8")).toBe("small");
  });

  it("gives up after the configured number of retries", async () => {
    let attempts = 0;
    const down = faultyStorage(source, (inner) => ({
      read: async (path, options) => {
        if (path !== "small.txt") return inner.read(path, options);
        attempts += 1;
        throw errors.transient("service unavailable", { system: "file", path });
      },
    }));
    const summary = await copy({ storage: down, path: "" }, into(), { retries: 2, retryDelayMs: 1 });
    expect(attempts).toBe(3);
    expect(summary).toMatchObject({ copied: 2, failed: 1 });
    expect(FerryError.isInstance(summary.errors[0]!.error, "Transient")).toBe(true);
  });

  it("a source whose bytes do not match its MD5 fails with Integrity and writes nothing", async () => {
    const lying = faultyStorage(source, (inner) => ({
      list: async function* (dir, options) {
        for await (const entry of inner.list(dir, options)) {
          yield entry.path === "small.txt" ? { ...entry, md5: "0123456789abcdef0123456789abcdef" } : entry;
        }
      },
    }));
    const summary = await copy({ storage: lying, path: "" }, into());
    expect(summary.failed).toBe(1);
    expect(FerryError.isInstance(summary.errors[0]!.error, "Integrity")).toBe(true);
    expect(filesUnder(destination)).toEqual(["big.bin", "other.txt"]);
  });

  it("a destination that reports a different MD5 after writing: Integrity, and the copy is removed", async () => {
    // Another machine that reports MD5s (as object stores do): the engine hashes what it sends and compares.
    const corrupting = faultyStorage(
      destination,
      (inner) => ({
        write: async (path, body, options) => {
          const entry = await inner.write(path, body, options);
          return path === "other.txt"
            ? { ...entry, md5: "ffffffffffffffffffffffffffffffff" }
            : { ...entry, md5: await inner.checksum(path, "md5") };
        },
      }),
      { system: "objects", capabilities: { directories: "virtual" } },
    );
    const summary = await copy(source, { storage: corrupting, path: "" });
    expect(summary.copied).toBe(2);
    expect(summary.failed).toBe(1);
    const failure = summary.errors[0]!;
    expect(failure.path).toBe("other.txt");
    expect(FerryError.isInstance(failure.error, "Integrity")).toBe(true);
    expect(failure.error.message).toContain("removed");
    expect(filesUnder(destination)).toEqual(["big.bin", "small.txt"]);
  });

  it("sync does not delete extras when a copy failed", async () => {
    await writeTree(destination, { "extra.txt": "still here" });
    const broken = faultyStorage(source, (inner) => ({
      read: async (path, options) =>
        path === "small.txt"
          ? failingAfter(1, new Error("boom"), await inner.read(path, options))
          : inner.read(path, options),
    }));
    const summary = await sync({ storage: broken, path: "" }, into(), { delete: true });
    expect(summary).toMatchObject({ failed: 1, deleted: 0 });
    expect(summary.notes.join(" ")).toContain("not deleting 1 extra file");
    expect(filesUnder(destination)).toContain("extra.txt");
  });
});

describe("cancellation", () => {
  it("an abort mid-copy stops everything and leaves no partial destination file", async () => {
    const controller = new AbortController();
    // A source that trickles forever: only the abort can end this copy.
    const endless = faultyStorage(source, (inner) => ({
      read: async (path, options) => {
        if (path !== "big.bin") return inner.read(path, options);
        return Readable.from(
          (async function* () {
            for (;;) {
              yield new Uint8Array(16 * 1024).fill(2);
              await new Promise((resolve) => setTimeout(resolve, 5));
            }
          })(),
        );
      },
    }));
    const running = copy({ storage: endless, path: "" }, into(), {
      signal: controller.signal,
      transfers: 1,
      onProgress: (progress) => {
        if (progress.bytesDone > 0) controller.abort(new Error("user pressed Ctrl-C"));
      },
    });
    const error = await running.catch((caught: unknown) => caught);
    expect(FerryError.isInstance(error, "Aborted")).toBe(true);
    // Nothing half-written anywhere, not even a temp file.
    expect(filesUnder(destination).filter((name) => name.includes("big"))).toEqual([]);
    expect(filesUnder(destination).some((name) => name.includes(".ferry-tmp"))).toBe(false);
  });

  it("an already aborted signal does nothing at all", async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(copy(source, destination, { signal: controller.signal })).rejects.toMatchObject({
      code: "Aborted",
    });
    expect(filesUnder(destination)).toEqual([]);
  });
});

describe("ranged downloads into local disk", () => {
  const BIG = 512 * 1024;
  const ranged = { multiThreadCutoff: 100_000, multiThreadChunkSize: 64 * 1024, multiThreadStreams: 3 };

  /** The source dir as another system that reports MD5s; `reads` records the range of every read. */
  function remote(
    reads: Array<{ path: string; range: unknown }>,
    readOverride?: (
      path: string,
      range: { offset: number; length?: number } | undefined,
      stream: Readable,
    ) => Readable,
    options: { md5?: boolean } = {},
  ) {
    return faultyStorage(
      source,
      (inner) => ({
        list: async function* (dir, listOptions) {
          for await (const entry of inner.list(dir, listOptions))
            yield options.md5 === false ? entry : { ...entry, md5: await inner.checksum(entry.path, "md5") };
        },
        read: async (path, readOptions) => {
          reads.push({ path, range: readOptions?.range });
          const stream = await inner.read(path, readOptions);
          const range = readOptions?.range as { offset: number; length?: number } | undefined;
          return readOverride ? readOverride(path, range, stream) : stream;
        },
      }),
      { system: "remote" },
    );
  }

  it("a large file comes as ranges fetched several at once, written in place, byte for byte", async () => {
    const big = new Uint8Array(BIG).map((_, index) => (index * 7) % 253);
    await writeTree(source, { "big.bin": big });
    const reads: Array<{ path: string; range: unknown }> = [];
    let reported = 0;
    const summary = await copy({ storage: remote(reads), path: "" }, into(), {
      ...ranged,
      onProgress: (progress) => {
        reported = Math.max(reported, progress.bytesDone);
      },
    });
    expect(summary).toMatchObject({ copied: 3, failed: 0 });
    expect(Buffer.compare(readFileSync(join(destination, "big.bin")), Buffer.from(big))).toBe(0);
    const ranges = reads
      .filter((read) => read.path === "big.bin")
      .map((read) => read.range as { offset: number; length: number })
      .sort((a, b) => a.offset - b.offset);
    expect(ranges).toEqual(
      Array.from({ length: BIG / (64 * 1024) }, (_, index) => ({
        offset: index * 64 * 1024,
        length: 64 * 1024,
      })),
    );
    // Small files stay one plain read each.
    expect(reads.filter((read) => read.path !== "big.bin").every((read) => read.range === undefined)).toBe(
      true,
    );
    expect(reported).toBe(summary.bytes);
    expect(filesUnder(destination)).toEqual(["big.bin", "other.txt", "small.txt"]);
    // The source's modified time was carried over: a second run skips everything.
    const again = await copy({ storage: remote([]), path: "" }, into(), ranged);
    expect(again).toMatchObject({ copied: 0, skipped: 3 });
  });

  it("a range whose bytes were corrupted on the way fails with Integrity and leaves nothing", async () => {
    const corrupt = remote([], (path, range, stream) => {
      if (path !== "big.bin" || range?.offset !== 128 * 1024) return stream;
      return Readable.from(
        (async function* () {
          let first = true;
          for await (const chunk of stream as AsyncIterable<Buffer>) {
            const copy = Buffer.from(chunk);
            if (first) copy[0] = copy[0]! ^ 0xff;
            first = false;
            yield copy;
          }
        })(),
        { objectMode: false },
      );
    });
    const summary = await copy({ storage: corrupt, path: "" }, into(), ranged);
    expect(summary).toMatchObject({ copied: 2, failed: 1 });
    expect(FerryError.isInstance(summary.errors[0]!.error, "Integrity")).toBe(true);
    expect(filesUnder(destination)).toEqual(["other.txt", "small.txt"]);
  });

  it("a range that breaks midway is retried from scratch when Transient; otherwise nothing partial is left", async () => {
    let broken = 0;
    const flaky = remote([], (path, range, stream) => {
      if (path !== "big.bin" || range?.offset !== 192 * 1024 || broken > 0) return stream;
      broken += 1;
      return failingAfter(10_000, errors.transient("connection reset", { system: "remote", path }), stream);
    });
    const events: TransferFileEvent[] = [];
    const summary = await copy({ storage: flaky, path: "" }, into(), {
      ...ranged,
      retryDelayMs: 1,
      onFile: (event) => events.push(event),
    });
    expect(summary).toMatchObject({ copied: 3, failed: 0 });
    expect(events.find((event) => event.path === "big.bin")?.attempts).toBe(2);
    expect(readFileSync(join(destination, "big.bin")).equals(readFileSync(join(source, "big.bin")))).toBe(
      true,
    );

    removeTemp(destination);
    const dead = remote([], (path, range, stream) =>
      path === "big.bin" && range?.offset === 64 * 1024
        ? failingAfter(10_000, new Error("connection reset by peer"), stream)
        : stream,
    );
    const failed = await copy({ storage: dead, path: "" }, into(), ranged);
    expect(failed).toMatchObject({ copied: 2, failed: 1 });
    expect(causes(failed.errors[0]!.error)).toContain("connection reset by peer");
    expect(filesUnder(destination)).toEqual(["other.txt", "small.txt"]);
  });

  it("one plain read when the source has no MD5, the file is below the cutoff, or streams is 1", async () => {
    for (const [options, md5] of [
      [ranged, false],
      [{ ...ranged, multiThreadCutoff: BIG + 1 }, true],
      [{ ...ranged, multiThreadStreams: 1 }, true],
    ] as const) {
      const reads: Array<{ path: string; range: unknown }> = [];
      removeTemp(destination);
      const summary = await copy({ storage: remote(reads, undefined, { md5 }), path: "" }, into(), options);
      expect(summary).toMatchObject({ copied: 3, failed: 0 });
      expect(reads.filter((read) => read.path === "big.bin")).toEqual([
        { path: "big.bin", range: undefined },
      ]);
    }
  });
});
