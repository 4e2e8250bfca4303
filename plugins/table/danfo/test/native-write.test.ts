/**
 * danfo has no parquet writer: with nodejs-polars installed, a frame whose columns polars writes exactly
 * is encoded by polars' native writer; any other frame by ferry's. Either way the table reads back the same.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Table, table } from "@ferry/core";
import { t } from "@ferry/plugin-kit";
import * as dfd from "danfojs-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import danfo, { type DataFrame } from "../src/index.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-danfo-native-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const flavour = danfo();

async function writer(location: string): Promise<string | undefined> {
  const reader = await Table.from(location).reader();
  const parts = await reader.parts();
  expect(parts).toHaveLength(1);
  return (await reader.open(parts[0]!)).metadata.created_by;
}

describe("danfo writes through polars' native parquet writer when it is exact", () => {
  it("a hand-built frame (int32, float64 with NaN, strings and nulls, bools, Dates) is written by polars and reads back the same", async () => {
    const location = join(dir, "hand-built");
    const frame = new dfd.DataFrame({
      id: [1, 2, 3],
      score: [0.5, Number.NaN, 1e300],
      name: ["a", null, "c"],
      ok: [true, false, true],
      when: [new Date(0), new Date(1_700_000_000_123), new Date(2)],
    });
    await table(frame, location, { flavour }).write();
    expect(await writer(location)).toMatch(/polars/i);
    const back = Table.from(location);
    expect((await back.schema()).fields.map((f) => [f.name, f.type, f.nullable])).toEqual([
      ["id", t.int32(), true],
      ["score", t.float64(), true],
      ["name", t.string(), true],
      ["ok", t.bool(), true],
      ["when", t.timestamp("ms", "UTC"), true],
    ]);
    expect(await back.fetch()).toEqual({
      id: [1, 2, 3],
      score: [0.5, Number.NaN, 1e300],
      name: ["a", null, "c"],
      ok: [true, false, true],
      when: [new Date(0), new Date(1_700_000_000_123), new Date(2)],
    });
  });

  it("a frame read from a table with int64, us timestamps and dates goes back through polars exactly", async () => {
    const source = join(dir, "typed-source");
    const schema = {
      fields: [
        t.field("n", t.int64()),
        t.field("at", t.timestamp("us")),
        t.field("day", t.date()),
        t.field("small", t.uint8()),
      ],
    };
    const data = {
      n: [2n ** 53n - 1n, null, -5n],
      at: [1_000n, 1_700_000_000_000_000n, null],
      day: [new Date("2024-02-29T00:00:00Z"), null, new Date("1969-12-31T00:00:00Z")],
      small: [255, 0, null],
    };
    await table(data, source, { schema }).write();
    const frame = (await Table.from<DataFrame>(source, { flavour }).fetch()) as DataFrame;
    const copy = join(dir, "typed-copy");
    await table(frame, copy, { flavour }).write();
    expect(await writer(copy)).toMatch(/polars/i);
    expect((await Table.from(copy).schema()).fields.map((f) => [f.name, f.type])).toEqual(
      schema.fields.map((f) => [f.name, f.type]),
    );
    expect(await Table.from(copy).fetch()).toEqual(data);
  });

  it("without nulls (typed arrays handed to polars), every exact type still reads back the same", async () => {
    const source = join(dir, "no-nulls-source");
    const schema = {
      fields: [
        t.field("n", t.int64()),
        t.field("u", t.uint64()),
        t.field("i8", t.int8()),
        t.field("u32", t.uint32()),
        t.field("f32", t.float32()),
        t.field("ms", t.timestamp("ms")),
        t.field("us", t.timestamp("us", "UTC")),
        t.field("ns", t.timestamp("ns")),
        t.field("day", t.date()),
      ],
    };
    const data = {
      n: [-(2n ** 53n - 1n), 0n, 2n ** 53n - 1n],
      u: [0n, 1n, 2n ** 53n - 1n],
      i8: [-128, 0, 127],
      u32: [0, 1, 4_294_967_295],
      f32: [0.5, -1.25, 3.4028234663852886e38],
      ms: [new Date(-1), new Date(0), new Date(1_700_000_000_123)],
      us: [-1_000n, 0n, 1_700_000_000_123_000n],
      ns: [-1_000_000n, 0n, 1_700_000_000_123_000_000n],
      day: [
        new Date("1900-01-01T00:00:00Z"),
        new Date("1970-01-01T00:00:00Z"),
        new Date("2262-04-11T00:00:00Z"),
      ],
    };
    await table(data, source, { schema }).write();
    const frame = (await Table.from<DataFrame>(source, { flavour }).fetch()) as DataFrame;
    const copy = join(dir, "no-nulls-copy");
    await table(frame, copy, { flavour }).write();
    expect(await writer(copy)).toMatch(/polars/i);
    expect((await Table.from(copy).schema()).fields.map((f) => [f.name, f.type])).toEqual(
      schema.fields.map((f) => [f.name, f.type]),
    );
    expect(await Table.from(copy).fetch()).toEqual(data);
  });

  it("decimals, named timezones, seconds and non-nullable columns go through ferry's writer, exact", async () => {
    const source = join(dir, "ferry-only");
    const schema = {
      fields: [
        t.field("price", t.decimal(10, 2)),
        t.field("local", t.timestamp("ms", "Europe/Paris")),
        t.field("sec", t.timestamp("s")),
        t.field("id", t.int32(), false),
      ],
    };
    const data = {
      price: ["1.50", null],
      local: [new Date(0), null],
      sec: [new Date(1_000), null],
      id: [1, 2],
    };
    await table(data, source, { schema }).write();
    const frame = (await Table.from<DataFrame>(source, { flavour }).fetch()) as DataFrame;
    const copy = join(dir, "ferry-only-copy");
    await table(frame, copy, { flavour }).write();
    expect(await writer(copy)).toMatch(/ferry/);
    expect(await Table.from(copy).schema()).toEqual(await Table.from(source).schema());
    expect(await Table.from(copy).fetch()).toEqual(data);
  });
});
