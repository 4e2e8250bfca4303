/** A table on S3 (s3rver on 127.0.0.1): counted from footers and streamed by ranged reads, never downloaded whole. */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { local, PluginRegistry, Table, table } from "@ferry/core";
import { plainFlavour } from "@ferry/parquet";
import { type TableFlavour, t } from "@ferry/plugin-kit";
import s3 from "@ferry/storage-s3";
import arrow from "@ferry/table-arrow";
import danfo from "@ferry/table-danfo";
import polars from "@ferry/table-polars";
import { type S3Backend, startS3rver } from "@ferry/test-harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let server: S3Backend;
let registry: PluginRegistry;
let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "ferry-table-s3-"));
  server = await startS3rver();
  registry = new PluginRegistry({ lazy: false }).use(
    local(),
    s3({ endpoint: server.endpoint, region: server.region, credentials: { ...server.credentials } }),
  );
});
afterAll(async () => {
  await registry?.close();
  await server?.stop();
  await rm(scratch, { recursive: true, force: true });
});

describe("the seed on S3, in every flavour", () => {
  const flavours: [string, () => TableFlavour<unknown>][] = [
    ["plain", () => plainFlavour as TableFlavour<unknown>],
    ["arrow", () => arrow() as TableFlavour<unknown>],
    ["polars", () => polars() as TableFlavour<unknown>],
    ["danfo", () => danfo() as TableFlavour<unknown>],
  ];
  it.each(flavours)(
    "%s: written to S3, reloaded, stream({ batchSize: 2 }) yields (1,a)(2,b) / (3,b)(4,a) / (5,a)(6,e)",
    async (name, make) => {
      const flavour = make();
      const schema = { fields: [t.field("id", t.int32()), t.field("grade", t.string())] };
      const value = await flavour.fromBatches({
        schema,
        batches: [
          { schema, columns: { id: [1, 2, 3, 4, 5, 6], grade: ["a", "b", "b", "a", "a", "e"] }, numRows: 6 },
        ],
      });
      const url = `s3://${await server.createBucket()}/seed-${name}`;
      await table(value, url, { registry, flavour }).write();
      const batches: unknown[][][] = [];
      for await (const item of Table.from(url, { registry, flavour }).stream({ batchSize: 2 })) {
        const source = await flavour.toBatches(item);
        const rows: unknown[][] = [];
        for await (const batch of source.batches) {
          for (let i = 0; i < batch.numRows; i++) rows.push([batch.columns.id![i], batch.columns.grade![i]]);
        }
        batches.push(rows);
      }
      expect(batches).toEqual([
        [
          [1, "a"],
          [2, "b"],
        ],
        [
          [3, "b"],
          [4, "a"],
        ],
        [
          [5, "a"],
          [6, "e"],
        ],
      ]);
    },
  );
});

describe("Table on S3", () => {
  it("puts a table with no path under ferry-table/<32 hex> in the bucket", async () => {
    const bucket = await server.createBucket();
    const placed = table({ id: [1, 2, 3] }, `s3://${bucket}`, { registry });
    expect(placed.location.path).toMatch(/^ferry-table\/[0-9a-f]{32}$/);
    await placed.write();
    expect(await Table.from(placed.url, { registry }).fetch()).toEqual({ id: [1, 2, 3] });
  });

  it("counts from footers and streams one row group at a time through range reads", async () => {
    const bucket = await server.createBucket();
    const rows = 20_000;
    // Incompressible payloads so that the file is large next to its row groups.
    const payload = Array.from({ length: rows }, () => randomBytes(48).toString("hex"));
    const data = { id: Array.from({ length: rows }, (_, i) => i), payload };
    const schema = { fields: [t.field("id", t.int32()), t.field("payload", t.string())] };
    const written = table(data, `s3://${bucket}/tables/payloads`, { registry, schema, rowGroupSize: 1_000 });
    const result = (await written.write()).lastWrite!;
    expect(result.files).toHaveLength(1);

    const storage = await written.storage();
    const size = (await storage.stat(result.files[0]!)).size;
    expect(size).toBeGreaterThan(1_000_000);

    const counting = await written.reader();
    expect(await counting.count()).toBe(rows);
    expect(counting.stats.bytesRead).toBeLessThan(size / 10);

    const streaming = await written.reader();
    const ids: number[] = [];
    let batches = 0;
    for await (const batch of streaming.stream({ batchSize: 1_500 })) {
      ids.push(...(batch.columns.id as number[]));
      batches++;
    }
    expect(ids).toEqual(data.id);
    expect(batches).toBe(Math.ceil(rows / 1_500));
    // Every request is about one row group (plus the footer), never the whole object.
    expect(streaming.stats.largestRead).toBeLessThan(size / 5);
    expect(streaming.stats.requests).toBeGreaterThanOrEqual(rows / 1_000);

    const copied = await written.to(`s3://${bucket}/tables/copy`);
    expect(await copied.count()).toBe(rows);
    const local = await copied.to(join(scratch, "from-s3"));
    expect((await local.fetchBatch({ columns: ["id"] })).columns.id).toEqual(data.id);

    const firstOnly = await written.reader();
    for await (const _ of firstOnly.stream({ batchSize: 10 })) break;
    expect(firstOnly.stats.bytesRead).toBeLessThan(size / 5);
  });
});
