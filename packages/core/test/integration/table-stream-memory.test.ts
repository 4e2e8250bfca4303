/**
 * Streaming a table from S3 (s3rver on 127.0.0.1) holds a bounded number of row groups: big row groups
 * are read one at a time unless `prefetch` asks for more, every ranged read is at most one row
 * group, and batches kept by the caller are never overwritten by the buffers later row groups reuse.
 */
import { PluginRegistry, parseLocation, Table } from "@ferry/core";
import { createRandom, READ_AHEAD_BYTES, TableReader } from "@ferry/parquet";
import { type ColumnBatch, type Storage, t } from "@ferry/plugin-kit";
import s3 from "@ferry/storage-s3";
import { type S3Backend, startS3rver } from "@ferry/test-harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let server: S3Backend;
let registry: PluginRegistry;
beforeAll(async () => {
  server = await startS3rver();
  registry = new PluginRegistry({ lazy: false }).use(
    s3({ endpoint: server.endpoint, region: server.region, credentials: { ...server.credentials } }),
  );
});
afterAll(async () => {
  await registry?.close();
  await server?.stop();
});

const schema = {
  fields: [t.field("id", t.int32()), t.field("text", t.string()), t.field("raw", t.binary())],
};

/** `groups` row groups of `rows` rows whose text is `width` random hex characters (incompressible). */
async function writeTable(url: string, groups: number, rows: number, width: number) {
  const random = createRandom(`stream-memory:${groups}:${rows}`);
  const hex = (n: number) => {
    let out = "";
    for (let i = 0; i < n; i++) out += "0123456789abcdef"[Math.floor(random() * 16)];
    return out;
  };
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(random() * 256));
  const ids: number[] = [];
  const texts: string[] = [];
  const raws: Uint8Array[] = [];
  for (let i = 0; i < groups * rows; i++) {
    ids.push(i);
    texts.push(`${i}:${hex(width)}`);
    raws.push(bytes(8 + (i % 5)));
  }
  await Table.from(url, { registry }).writeBatches(
    { schema, batches: [{ schema, columns: { id: ids, text: texts, raw: raws }, numRows: ids.length }] },
    { rowGroupSize: rows },
  );
  return { ids, texts, raws };
}

/** The table's storage, recording each ranged read (offset, length) and when it starts. */
async function recording(url: string, events: string[]) {
  const storage = await registry.storageFor(parseLocation(url));
  const reads: { offset: number; length: number }[] = [];
  const wrapped = new Proxy(storage, {
    get(target, name) {
      if (name === "read")
        return (path: string, options: Parameters<Storage["read"]>[1]) => {
          const range = options?.range;
          if (range && "offset" in range && range.length !== undefined && range.length > 64 * 1024) {
            reads.push({ offset: range.offset, length: range.length });
            events.push(`read ${reads.length}`);
          }
          return target.read(path, options);
        };
      const value = Reflect.get(target, name, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { storage: wrapped as Storage, reads, path: parseLocation(url).path };
}

describe("streaming big row groups from S3", () => {
  const rows = 4_000;
  // Each row group's text column alone is past half the read-ahead budget.
  const width = Math.ceil((READ_AHEAD_BYTES / 2 / rows) * 1.1);
  let url: string;
  let written: Awaited<ReturnType<typeof writeTable>>;
  beforeAll(async () => {
    url = `s3://${await server.createBucket()}/big`;
    written = await writeTable(url, 3, rows, width);
  }, 60_000);

  async function events(prefetch?: number) {
    const log: string[] = [];
    const { storage, reads, path } = await recording(url, log);
    const reader = new TableReader(storage, path, url);
    let batch = 0;
    for await (const _ of reader.stream({ batchSize: rows, prefetch, columns: ["id", "text"] }))
      log.push(`batch ${++batch}`);
    return { log, reads, stats: reader.stats };
  }

  it("by default reads one at a time: a row group's read starts only after the batch before it is handed over", async () => {
    const { log, reads, stats } = await events();
    expect(log).toEqual(["read 1", "batch 1", "read 2", "batch 2", "read 3", "batch 3"]);
    // One ranged read per row group, each of about one row group's columns (the table is never read whole).
    expect(reads).toHaveLength(3);
    for (const read of reads) {
      expect(read.length).toBeGreaterThan(READ_AHEAD_BYTES / 2);
      expect(read.length).toBeLessThan(READ_AHEAD_BYTES);
    }
    expect(stats.largestRead).toBe(Math.max(...reads.map((r) => r.length)));
  }, 60_000);

  it("with prefetch: 1 reads the next row group while the current one is consumed", async () => {
    const { log } = await events(1);
    expect(log.slice(0, 3)).toEqual(["read 1", "read 2", "batch 1"]);
    expect(log.filter((e) => e.startsWith("batch"))).toHaveLength(3);
  }, 60_000);

  it("the big row groups stream back exactly as written", async () => {
    const { storage, path } = await recording(url, []);
    const kept: ColumnBatch[] = [];
    for await (const batch of new TableReader(storage, path, url).stream({ batchSize: 1_500 }))
      kept.push(batch);
    expect(kept.flatMap((b) => b.columns.id!)).toEqual(written.ids);
    expect(kept.flatMap((b) => b.columns.text!)).toEqual(written.texts);
  }, 60_000);
});

it("batches a caller keeps hold the values written: buffers reused by later row groups never alias them", async () => {
  const url = `s3://${await server.createBucket()}/many`;
  const written = await writeTable(url, 12, 500, 64);
  const { storage, path } = await recording(url, []);
  const kept: ColumnBatch[] = [];
  for (const prefetch of [undefined, 0, 2]) {
    kept.length = 0;
    for await (const batch of new TableReader(storage, path, url).stream({ batchSize: 700, prefetch }))
      kept.push(batch);
    expect(kept.flatMap((b) => b.columns.id!)).toEqual(written.ids);
    expect(kept.flatMap((b) => b.columns.text!)).toEqual(written.texts);
    expect(kept.flatMap((b) => b.columns.raw!)).toEqual(written.raws);
  }
}, 60_000);
