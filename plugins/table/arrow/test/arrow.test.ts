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

  it("writes arrow's time, duration, interval, float16 and Null columns and reads them back the same", async () => {
    const length = 3;
    const valid = Uint8Array.of(0b011);
    const intervals = new Int32Array(length * 4);
    intervals.set([14, 3, 5_000_000, 0], 0); // 14 months, 3 days, 5 ms (as nanoseconds)
    const source = new A.Table({
      t_ms: A.makeVector(
        A.makeData({
          type: new A.TimeMillisecond(),
          length,
          nullCount: 1,
          nullBitmap: valid,
          data: Int32Array.of(0, 45_296_789, 0),
        }),
      ),
      t_ns: A.makeVector(
        A.makeData({
          type: new A.TimeNanosecond(),
          length,
          nullCount: 1,
          nullBitmap: valid,
          data: BigInt64Array.of(1n, 45_296_789_012_345n, 0n),
        }),
      ),
      wait: A.makeVector(
        A.makeData({
          type: new A.DurationMicrosecond(),
          length,
          nullCount: 1,
          nullBitmap: valid,
          data: BigInt64Array.of(-5n, 7n, 0n),
        }),
      ),
      span: A.makeVector(
        A.makeData({
          type: new A.IntervalMonthDayNano(),
          length,
          nullCount: 1,
          nullBitmap: valid,
          data: intervals,
        }),
      ),
      half: A.makeVector(
        A.makeData({
          type: new A.Float16(),
          length,
          nullCount: 1,
          nullBitmap: valid,
          data: Uint16Array.of(A.util.float64ToUint16(1.5), A.util.float64ToUint16(-2), 0),
        }),
      ),
      nothing: A.makeVector(A.makeData({ type: new A.Null(), length, nullCount: length })),
    });
    const location = join(dir, "times");
    await table(source, location, { flavour }).write();
    const batch = await Table.from(location).fetchBatch();
    expect(batch.columns).toEqual({
      t_ms: [0, 45_296_789, null],
      t_ns: [1n, 45_296_789_012_345n, null],
      wait: [-5n, 7n, null],
      span: [{ months: 14, days: 3, milliseconds: 5 }, { months: 0, days: 0, milliseconds: 0 }, null],
      half: [1.5, -2, null],
      nothing: [null, null, null],
    });
    const back = (await Table.from<A.Table | A.RecordBatch>(location, { flavour }).fetch()) as A.Table;
    expect(back.schema.fields.map((f) => String(f.type))).toEqual([
      "Time32<MILLISECOND>",
      "Time64<NANOSECOND>",
      "Duration<MICROSECOND>",
      "Interval<MONTH_DAY_NANO>",
      "Float16",
      "Null",
    ]);
    const again = join(dir, "times-again");
    await table(back, again, { flavour }).write();
    expect((await Table.from(again).fetchBatch()).columns).toEqual(batch.columns);
  });

  it("refuses arrow types ferry has no type for, naming the column", async () => {
    const union = A.makeData({
      type: new A.SparseUnion([0], [new A.Field("a", new A.Int32())]),
      length: 2,
      nullCount: 0,
      typeIds: Int8Array.of(0, 0),
      children: [A.makeData({ type: new A.Int32(), length: 2, nullCount: 0, data: Int32Array.of(1, 2) })],
    });
    const source = new A.Table({ t: A.makeVector(union) });
    const error = await table(source, join(dir, "union"), { flavour })
      .write()
      .catch((e: unknown) => e);
    expect(FerryError.isInstance(error, "Unsupported")).toBe(true);
    expect((error as Error).message).toContain('"t"');
  });
});
