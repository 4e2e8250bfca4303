import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Table, table } from "@ferry/core";
import { FerryError } from "@ferry/plugin-kit";
import * as A from "apache-arrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import arrow from "../src/index.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-arrow-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const flavour = arrow();

describe("@ferry/table-arrow with tables arrow itself built", () => {
  it("writes a table built from arrow vectors (dictionary strings, typed arrays) and reads it back as a Table", async () => {
    const source = new A.Table({
      id: A.makeVector(Int32Array.from([1, 2, 3])),
      score: A.makeVector(Float64Array.from([0.5, 1.5, 2.5])),
      grade: A.vectorFromArray(["a", "b", "a"], new A.Dictionary(new A.Utf8(), new A.Int32())),
    });
    const location = join(dir, "from-arrays");
    await table(source, location, { flavour }).write();
    const back = await Table.from<A.Table | A.RecordBatch>(location, { flavour }).fetch();
    expect(back).toBeInstanceOf(A.Table);
    expect((back as A.Table).toArray().map((row) => row.toJSON())).toEqual([
      { id: 1, score: 0.5, grade: "a" },
      { id: 2, score: 1.5, grade: "b" },
      { id: 3, score: 2.5, grade: "a" },
    ]);
  });

  it("takes a RecordBatch, keeps field and schema metadata, and streams RecordBatches", async () => {
    const schema = new A.Schema(
      [new A.Field("label", new A.Int64(), true, new Map([["hf.class_label", '["neg","pos"]']]))],
      new Map([["origin", "test"]]),
    );
    const batch = new A.RecordBatch(
      schema,
      A.makeData({
        type: new A.Struct(schema.fields),
        length: 3,
        nullCount: 0,
        children: [
          A.makeData({
            type: new A.Int64(),
            length: 3,
            nullCount: 0,
            data: BigInt64Array.from([0n, 1n, 1n]),
          }),
        ],
      }),
    );
    const location = join(dir, "record-batch");
    await table(batch, location, { flavour }).write();
    const opened = Table.from<A.Table | A.RecordBatch>(location, { flavour });
    const read = (await opened.fetch()) as A.Table;
    expect(read.schema.fields[0]!.metadata.get("hf.class_label")).toBe('["neg","pos"]');
    expect(read.schema.metadata.get("origin")).toBe("test");
    const streamed: unknown[] = [];
    for await (const item of opened.stream({ batchSize: 2 })) streamed.push(item);
    expect(streamed.every((item) => item instanceof A.RecordBatch)).toBe(true);
    expect(streamed.map((item) => (item as A.RecordBatch).numRows)).toEqual([2, 1]);
    expect((streamed[0] as A.RecordBatch).getChild("label")!.toArray()).toEqual(BigInt64Array.from([0n, 1n]));
  });

  it("refuses arrow types ferry has no type for, naming the column", async () => {
    const source = new A.Table({ t: A.vectorFromArray([1, 2], new A.TimeMillisecond()) });
    const error = await table(source, join(dir, "time"), { flavour })
      .write()
      .catch((e: unknown) => e);
    expect(FerryError.isInstance(error, "Unsupported")).toBe(true);
    expect((error as Error).message).toContain('"t"');
  });
});
