import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Table, table } from "@ferry/core";
import { FerryError, t } from "@ferry/plugin-kit";
import * as dfd from "danfojs-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import danfo, { type DataFrame } from "../src/index.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-danfo-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const flavour = danfo();
const values = (frame: DataFrame, name: string) => [...(frame.column(name).values as unknown[])];

describe("@ferry/table-danfo conversions", () => {
  it("infers a hand-built frame's types from its values, not danfo's float32/int32 labels", async () => {
    const frame = new dfd.DataFrame({
      id: [1, 2, 3],
      score: [0.1 + 0.2, 1e300, 2],
      name: ["a", null, "c"],
      ok: [true, false, true],
      when: [new Date(0), new Date(1), new Date(2)],
    });
    const location = join(dir, "hand-built");
    await table(frame, location, { flavour }).write();
    const opened = Table.from(location);
    expect((await opened.schema()).fields.map((f) => [f.name, f.type])).toEqual([
      ["id", t.int32()],
      ["score", t.float64()],
      ["name", t.string()],
      ["ok", t.bool()],
      ["when", t.timestamp("ms", "UTC")],
    ]);
    expect(await opened.fetch()).toEqual({
      id: [1, 2, 3],
      score: [0.1 + 0.2, 1e300, 2],
      name: ["a", null, "c"],
      ok: [true, false, true],
      when: [new Date(0), new Date(1), new Date(2)],
    });
  });

  it("turns safe int64 into numbers and microsecond timestamps on whole milliseconds into Dates, restoring both on write", async () => {
    const source = join(dir, "int64-source");
    const schema = {
      fields: [
        t.field("id", t.int64()),
        t.field("at", t.timestamp("us")),
        t.field("price", t.decimal(10, 2)),
      ],
    };
    await table({ id: [1n, -(2n ** 53n - 1n)], at: [1_000n, 5_000n], price: ["1.50", "-2.00"] }, source, {
      schema,
    }).write();
    const frame = (await Table.from<DataFrame>(source, { flavour }).fetch()) as DataFrame;
    expect(values(frame, "id")).toEqual([1, -(2 ** 53 - 1)]);
    expect(values(frame, "at")).toEqual([new Date(1), new Date(5)]);
    expect(values(frame, "price")).toEqual(["1.50", "-2.00"]);
    const copy = join(dir, "int64-copy");
    await table(frame, copy, { flavour }).write();
    expect(await Table.from(copy).schema()).toEqual(schema);
    expect(await Table.from(copy).fetch()).toEqual({
      id: [1n, -(2n ** 53n - 1n)],
      at: [1_000n, 5_000n],
      price: ["1.50", "-2.00"],
    });
  });

  it("refuses int64 beyond 2^53 and sub-millisecond timestamps with InvalidInput naming column and row", async () => {
    const location = join(dir, "too-big");
    await table({ id: [1n, 2n ** 60n] }, location).write();
    const error = await Table.from(location, { flavour })
      .fetch()
      .catch((e: unknown) => e);
    expect(FerryError.isInstance(error, "InvalidInput")).toBe(true);
    expect((error as Error).message).toMatch(/column "id" \(int64\), row 1/);
    const fine = join(dir, "too-fine");
    await table({ at: [1n] }, fine, { schema: { fields: [t.field("at", t.timestamp("ns"))] } }).write();
    const finer = await Table.from(fine, { flavour })
      .fetch()
      .catch((e: unknown) => e);
    expect(FerryError.isInstance(finer, "InvalidInput")).toBe(true);
    expect((finer as Error).message).toMatch(/column "at" \(timestamp\[ns\]\), row 0/);
  });

  it("refuses list, struct and binary columns as Unsupported, even in an empty table", async () => {
    const location = join(dir, "nested");
    await table({ tags: [["a"]], blob: [new Uint8Array([1])] }, location).write();
    const error = await Table.from(location, { flavour })
      .fetch()
      .catch((e: unknown) => e);
    expect(FerryError.isInstance(error, "Unsupported")).toBe(true);
    expect((error as Error).message).toContain('"tags"');
    const empty = join(dir, "nested-empty");
    await table({ point: [] }, empty, {
      schema: { fields: [t.field("point", t.struct([t.field("x", t.int32())]))] },
    }).write();
    const emptyError = await Table.from(empty, { flavour })
      .fetch()
      .catch((e: unknown) => e);
    expect(FerryError.isInstance(emptyError, "Unsupported")).toBe(true);
  });

  it("streams DataFrames of exactly batchSize rows", async () => {
    const location = join(dir, "stream");
    await table({ id: [1, 2, 3, 4, 5] }, location).write();
    const heights: number[] = [];
    for await (const frame of Table.from<DataFrame>(location, { flavour }).stream({ batchSize: 2 }))
      heights.push((frame as DataFrame).shape[0] as number);
    expect(heights).toEqual([2, 2, 1]);
  });
});
