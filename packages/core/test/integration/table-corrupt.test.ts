/**
 * Corrupt parquet files — bytes flipped and files cut short with a fixed seed, in files ferry wrote with
 * every codec and in corpus files with other encodings — fail with a one-line typed FerryError naming
 * the file (and, once the footer has been read, the column and row group), never with JavaScript's
 * own errors; and a page that would decompress past the expansion limit is refused before it is.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FerryError, type Schema, t } from "@ferry/plugin-kit";
import { sharedData } from "@ferry/test-harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Table, table } from "../../src/index.ts";

const corpus = sharedData("parquet-testing", "data");

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-corrupt-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** mulberry32: the same mutations on every run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** What JavaScript says when a decoder walks off corrupt data: none of it may reach a user. */
const JS_INTERNALS =
  /Cannot read propert|Cannot mix BigInt|is not a function|is not iterable|of undefined|Invalid typed array length|outside the bounds|Maximum call stack|Array buffer allocation|Invalid array length/;

const schema: Schema = {
  fields: [
    t.field("id", t.int64(), false),
    t.field("name", t.string()),
    t.field("score", t.float64()),
    t.field("tags", t.list(t.int32())),
    t.field("at", t.timestamp("us", "UTC")),
    t.field("price", t.decimal(12, 2)),
    t.field("clock", t.time("ms")),
  ],
};

function rows(n: number) {
  const ids = Array.from({ length: n }, (_, i) => i);
  return {
    id: ids.map((i) => BigInt(i * 7919)),
    name: ids.map((i) => (i % 5 === 0 ? null : `name-${i % 37}`)),
    score: ids.map((i) => i / 3),
    tags: ids.map((i) => (i % 4 === 0 ? null : Array.from({ length: i % 3 }, (_, k) => i + k))),
    at: ids.map((i) => 1_700_000_000_000_000n + BigInt(i)),
    price: ids.map((i) => `${i}.${String(i % 100).padStart(2, "0")}`),
    clock: ids.map((i) => (i * 1000) % 86_400_000),
  };
}

/** Read everything: count (footers), then every row. Returns the error, or undefined when it read. */
async function readAll(path: string): Promise<unknown> {
  try {
    const reader = Table.from(path);
    await reader.count();
    for await (const _ of reader.streamBatches({ batchSize: 500 })) {
      // every row group is decoded
    }
    return undefined;
  } catch (error) {
    return error;
  }
}

async function expectTypedOrRead(path: string, label: string): Promise<"read" | "footer" | "data"> {
  const error = await readAll(path);
  if (error === undefined) return "read";
  expect(FerryError.isInstance(error), `${label}: ${String(error)}`).toBe(true);
  const message = (error as Error).message;
  expect(message, label).toContain(path);
  expect(message, label).not.toMatch(JS_INTERNALS);
  expect(message.split("\n"), `${label}: ${message}`).toHaveLength(1);
  expect(["InvalidInput", "Integrity", "Unsupported"], label).toContain((error as FerryError).code);
  return /column ".*", row group \d+/.test(message) ? "data" : "footer";
}

async function sources(): Promise<{ name: string; bytes: Uint8Array }[]> {
  const out: { name: string; bytes: Uint8Array }[] = [];
  for (const codec of ["UNCOMPRESSED", "SNAPPY", "GZIP", "ZSTD", "BROTLI"] as const) {
    const location = join(dir, `source-${codec}`);
    await table(rows(600), location, { schema, codec, rowGroupSize: 250 }).write();
    const [part] = (await readdir(location)).filter((f) => f.endsWith(".parquet"));
    out.push({ name: codec.toLowerCase(), bytes: new Uint8Array(await readFile(join(location, part!))) });
  }
  const others = [
    "delta_binary_packed.parquet",
    "delta_byte_array.parquet",
    "nested_lists.snappy.parquet",
    "nested_maps.snappy.parquet",
    "datapage_v2.snappy.parquet",
    "alltypes_dictionary.parquet",
    "byte_stream_split.zstd.parquet",
    "int96_from_spark.parquet",
    "lz4_raw_compressed_larger.parquet",
  ];
  for (const file of existsSync(corpus) ? others : []) {
    out.push({
      name: file.replace(/\.parquet$/, ""),
      bytes: new Uint8Array(await readFile(join(corpus, file))),
    });
  }
  return out;
}

describe("corrupt parquet files", () => {
  it("flipped bytes (120 per file, seed 7): a typed one-line error naming file, column and row group, or rows", async () => {
    const random = seeded(7);
    const seen = { read: 0, footer: 0, data: 0 };
    await mkdir(join(dir, "flipped"), { recursive: true });
    for (const source of await sources()) {
      for (let trial = 0; trial < 120; trial++) {
        const bytes = source.bytes.slice();
        const flips = 1 + Math.floor(random() * 4);
        for (let f = 0; f < flips; f++) {
          // Half the flips land in the footer's last kilobyte, where the structure is.
          const inTail = random() < 0.5;
          const span = inTail ? Math.min(1024, bytes.length - 8) : bytes.length - 8;
          const at = inTail
            ? bytes.length - 8 - Math.floor(random() * span)
            : 4 + Math.floor(random() * span);
          bytes[at] = bytes[at]! ^ (1 + Math.floor(random() * 255));
        }
        const path = join(dir, "flipped", `${source.name}-${trial}.parquet`);
        await writeFile(path, bytes);
        seen[await expectTypedOrRead(path, `${source.name} trial ${trial}`)]++;
        await rm(path);
      }
    }
    // The mutations reach both the footer and the data pages.
    expect(seen.footer).toBeGreaterThan(0);
    expect(seen.data).toBeGreaterThan(0);
  }, 120_000);

  it("files cut short at 40 points each: a typed error naming the file, never JavaScript internals", async () => {
    const random = seeded(11);
    await mkdir(join(dir, "cut"), { recursive: true });
    for (const source of await sources()) {
      for (let trial = 0; trial < 40; trial++) {
        const length = Math.floor(random() * source.bytes.length);
        const path = join(dir, "cut", `${source.name}-${trial}.parquet`);
        await writeFile(path, source.bytes.subarray(0, length));
        const error = await readAll(path);
        expect(
          FerryError.isInstance(error, "InvalidInput"),
          `${source.name} cut at ${length}: ${String(error)}`,
        ).toBe(true);
        expect((error as Error).message).toContain(path);
        expect((error as Error).message).not.toMatch(JS_INTERNALS);
        await rm(path);
      }
    }
  }, 60_000);

  it("a brotli page that claims 1 GiB from 1.6 KB is refused before it is decompressed, naming the option", async () => {
    const file = join(corpus, "large_string_map.brotli.parquet");
    if (!existsSync(file))
      return expect.soft(existsSync(corpus), "parquet-testing corpus missing").toBe(false);
    const before = process.memoryUsage().arrayBuffers;
    const error = await Table.from(file)
      .fetch()
      .catch((e: unknown) => e);
    expect(FerryError.isInstance(error, "InvalidInput"), String(error)).toBe(true);
    expect((error as Error).message).toMatch(
      /large_string_map\.brotli\.parquet: column "arr", row group 0: refused, a BROTLI page of \d+ bytes claims 1073741828 bytes decompressed, more than maxPageExpansion \(1000\) times its size/,
    );
    // Nothing near the claimed gigabyte was allocated.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
  });

  it("maxPageExpansion is checked: not a number of at least 1 is InvalidInput naming the option", async () => {
    const error = await Table.from(join(dir, "source-SNAPPY"), { maxPageExpansion: 0 })
      .count()
      .catch((e: unknown) => e);
    expect(FerryError.isInstance(error, "InvalidInput"), String(error)).toBe(true);
    expect((error as Error).message).toBe("maxPageExpansion must be a number of at least 1, got 0");
  });
});
