/**
 * danfo has no parquet writer: with nodejs-polars installed, a frame whose columns polars writes exactly
 * is encoded by polars' native writer; any other frame by ferry's columnar writer straight from the
 * frame's columns, or (decimals, seconds) by ferry's value writer. Either way the table reads back the same.
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

describe("danfo frames polars cannot write exactly go through ferry's columnar writer", () => {
  it("every type, with nulls, NaN, negatives and non-ASCII text, reads back the same (a non-nullable column keeps polars out)", async () => {
    const source = join(dir, "columnar-source");
    const schema = {
      fields: [
        t.field("id", t.int32(), false),
        t.field("n", t.int64()),
        t.field("u", t.uint64()),
        t.field("i8", t.int8()),
        t.field("u16", t.uint16()),
        t.field("f", t.float64()),
        t.field("f32", t.float32()),
        t.field("s", t.string()),
        t.field("b", t.bool()),
        t.field("ms", t.timestamp("ms", "UTC")),
        t.field("us", t.timestamp("us")),
        t.field("ns", t.timestamp("ns", "UTC")),
        t.field("day", t.date()),
      ],
      metadata: { origin: "test" },
    };
    const data = {
      id: [1, 2, 3, 4],
      n: [-(2n ** 53n - 1n), null, 2n ** 53n - 1n, -(2n ** 32n) - 5n],
      u: [0n, 2n ** 53n - 1n, null, 2n ** 32n],
      i8: [-128, 127, null, 0],
      u16: [65_535, null, 0, 1],
      f: [Number.NaN, -0.5, null, 1e300],
      f32: [0.5, null, -1.25, 3.4028234663852886e38],
      s: ["é✓", null, "", "plain"],
      b: [true, null, false, true],
      ms: [new Date(-1), new Date(0), null, new Date(1_700_000_000_123)],
      us: [-1_000n, null, 1_700_000_000_123_000n, 0n],
      ns: [null, -1_000_000n, 0n, 1_700_000_000_123_000_000n],
      day: [
        new Date("1900-01-01T00:00:00Z"),
        null,
        new Date("1969-12-31T00:00:00Z"),
        new Date("2262-04-11T00:00:00Z"),
      ],
    };
    await table(data, source, { schema }).write();
    const frame = (await Table.from<DataFrame>(source, { flavour }).fetch()) as DataFrame;
    const copy = join(dir, "columnar-copy");
    await table(frame, copy, { flavour }).write();
    expect(await writer(copy)).toBe("ferry (columnar)");
    expect(await Table.from(copy).schema()).toEqual(schema);
    expect(await Table.from(copy).fetch()).toEqual(data);
  });

  it("NaN stands for a missing value outside float columns, as in danfo, and is written as null", async () => {
    const location = join(dir, "columnar-nan");
    const schema = {
      fields: [t.field("id", t.int32(), false), t.field("k", t.int32()), t.field("s", t.string())],
    };
    await table({ id: [1, 2], k: [7, 8], s: ["a", "b"] }, join(dir, "nan-source"), { schema }).write();
    const frame = (await Table.from<DataFrame>(join(dir, "nan-source"), { flavour }).fetch()) as DataFrame;
    // Columns replaced through danfo's API keep the schema the frame was read with.
    frame.addColumn("k", [Number.NaN, 8], { inplace: true });
    frame.addColumn("s", ["a", Number.NaN], { inplace: true });
    await table(frame, location, { flavour }).write();
    expect(await writer(location)).toBe("ferry (columnar)");
    expect(await Table.from(location).fetch()).toEqual({ id: [1, 2], k: [null, 8], s: ["a", null] });
  });
});
