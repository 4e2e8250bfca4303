/**
 * Big danfo frames are encoded by polars on the flavour's own worker thread from buffers the calling
 * thread fills (polars-thread.ts); small ones, and every frame under FERRY_TABLE_THREADS=0, on the
 * calling thread from the same buffers. Whichever thread, the table must read back exactly, the
 * reused buffers must never mix two writes, and a value polars would store wrongly must not reach it.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Table, table } from "@ferry/core";
import { createRandom } from "@ferry/parquet";
import { type Schema, t } from "@ferry/plugin-kit";
import * as dfd from "danfojs-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import danfo, { type DataFrame, polarsThread, stopPolarsThread } from "../src/index.ts";

let dir: string;
const defaults = { ...polarsThread };
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-danfo-thread-"));
});
afterEach(async () => {
  polarsThread.minBytes = defaults.minBytes;
  delete process.env.FERRY_TABLE_THREADS;
  await stopPolarsThread();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const flavour = danfo();

const schema: Schema = {
  fields: [
    t.field("i8", t.int8()),
    t.field("u16", t.uint16()),
    t.field("i32", t.int32()),
    t.field("n", t.int64()),
    t.field("u", t.uint64()),
    t.field("f32", t.float32()),
    t.field("f64", t.float64()),
    t.field("text", t.string()),
    t.field("ok", t.bool()),
    t.field("day", t.date()),
    t.field("ms", t.timestamp("ms", "UTC")),
    t.field("ns", t.timestamp("ns")),
  ],
};

const WORDS = ["", "a", "plain", "é", "naïve café", "€100", "日本語", "😀 emoji", "x".repeat(300)];

/** `rows` rows of every exact type, about a tenth of each column null, with non-ASCII text. */
function rowsOf(rows: number, seed: number): Record<string, unknown[]> {
  const next = createRandom(seed);
  const pick = <T>(make: () => T): T | null => (next() < 0.1 ? null : make());
  const int = (min: number, max: number) => () => min + Math.floor(next() * (max - min + 1));
  const columns: Record<string, unknown[]> = Object.fromEntries(schema.fields.map((f) => [f.name, []]));
  for (let i = 0; i < rows; i++) {
    columns.i8!.push(pick(int(-128, 127)));
    columns.u16!.push(pick(int(0, 65_535)));
    columns.i32!.push(pick(int(-(2 ** 31), 2 ** 31 - 1)));
    columns.n!.push(pick(() => BigInt(int(-(2 ** 53) + 1, 2 ** 53 - 1)())));
    columns.u!.push(pick(() => BigInt(int(0, 2 ** 53 - 1)())));
    columns.f32!.push(pick(() => Math.fround((next() - 0.5) * 1e6)));
    columns.f64!.push(pick(() => (next() < 0.05 ? Number.NaN : (next() - 0.5) * 1e300)));
    columns.text!.push(pick(() => `${WORDS[Math.floor(next() * WORDS.length)]}${i}`));
    columns.ok!.push(pick(() => next() < 0.5));
    columns.day!.push(pick(() => new Date(int(-40_000, 40_000)() * 86_400_000)));
    columns.ms!.push(pick(() => new Date(int(-(2 ** 40), 2 ** 42)())));
    columns.ns!.push(pick(() => BigInt(int(-(2 ** 40), 2 ** 42)()) * 1_000_000n));
  }
  return columns;
}

/** A frame fetched from a table of `data` (it carries the schema), written again, and what reads back. */
async function roundTrip(name: string, data: Record<string, unknown[]>) {
  const source = join(dir, `${name}-source`);
  await table(data, source, { schema }).write();
  const frame = (await Table.from<DataFrame>(source, { flavour }).fetch()) as DataFrame;
  const copy = join(dir, `${name}-copy`);
  await table(frame, copy, { flavour }).write();
  const reader = await Table.from(copy).reader();
  const [part] = await reader.parts();
  return {
    writer: (await reader.open(part!)).metadata.created_by,
    schema: await Table.from(copy).schema(),
    data: await Table.from(copy).fetch(),
  };
}

describe("danfo frames written by polars off the calling thread", () => {
  it("every exact type with nulls, NaN and non-ASCII text reads back the same from the worker as from the calling thread", async () => {
    const data = rowsOf(3_000, 7);
    polarsThread.minBytes = 0;
    const before = polarsThread.jobsOffThread;
    const worker = await roundTrip("worker", data);
    expect(polarsThread.jobsOffThread).toBe(before + 1);
    process.env.FERRY_TABLE_THREADS = "0";
    const here = await roundTrip("here", data);
    expect(polarsThread.jobsOffThread).toBe(before + 1);
    for (const result of [worker, here]) {
      expect(result.writer).toMatch(/polars/i);
      expect(result.schema.fields.map((f) => [f.name, f.type])).toEqual(
        schema.fields.map((f) => [f.name, f.type]),
      );
      expect(result.data).toEqual(data);
    }
  });

  it("text that takes more UTF-8 bytes than UTF-16 units (no ASCII at all) still fits and reads back", async () => {
    polarsThread.minBytes = 0;
    const text = Array.from({ length: 5_000 }, (_, i) =>
      i % 7 === 0 ? null : `${"é€😀日".repeat(1 + (i % 5))}\u{10348}`,
    );
    const frame = new dfd.DataFrame({ text, at: text.map((_, i) => i) });
    const location = join(dir, "wide-text");
    await table(frame, location, { flavour }).write();
    const reader = await Table.from(location).reader();
    const [part] = await reader.parts();
    expect((await reader.open(part!)).metadata.created_by).toMatch(/polars/i);
    expect(await Table.from(location).fetch({ columns: ["text"] })).toEqual({ text });
  });

  it("frames written at the same time never share the reused buffers", async () => {
    polarsThread.minBytes = 0;
    // Four frames of the same layout (the same nulls, text of the same lengths), different values:
    // each fills the same bytes of the reused buffer, which the worker reads after the write returns.
    const base = rowsOf(20_000, 11);
    const inputs = [0, 1, 2, 3].map((k) => ({
      ...base,
      i32: base.i32!.map((v) => (v === null ? null : ((v as number) >> 2) + k)),
      f64: base.f64!.map((v) => (v === null ? null : (v as number) + k)),
      // Every text ends in its row number's last digit (ASCII): the same length with k there.
      text: base.text!.map((v) => (v === null ? null : `${(v as string).slice(0, -1)}${k}`)),
    }));
    const frames = await Promise.all(
      inputs.map(async (data, i) => {
        const source = join(dir, `together-${i}`);
        await table(data, source, { schema }).write();
        return (await Table.from<DataFrame>(source, { flavour }).fetch()) as DataFrame;
      }),
    );
    await Promise.all(
      frames.map((frame, i) => table(frame, join(dir, `together-${i}-copy`), { flavour }).write()),
    );
    for (const [i, data] of inputs.entries())
      expect(await Table.from(join(dir, `together-${i}-copy`)).fetch()).toEqual(data);
  });

  it("a worker stopped in the middle of writes leaves them to the calling thread: every table still reads back exactly", async () => {
    polarsThread.minBytes = 0;
    const data = rowsOf(20_000, 21);
    const source = join(dir, "stopped-source");
    await table(data, source, { schema }).write();
    const frame = (await Table.from<DataFrame>(source, { flavour }).fetch()) as DataFrame;
    // Each write is stopped at a different point: before its columns go out, while they do, after.
    for (const [i, wait] of [0, 1, 5, 20, 60].entries()) {
      const copy = join(dir, `stopped-${i}`);
      const writing = table(frame, copy, { flavour }).write();
      await new Promise((resolve) => setTimeout(resolve, wait));
      await stopPolarsThread();
      await writing;
      expect(await Table.from(copy).fetch(), `stopped after ${wait} ms`).toEqual(data);
    }
  });

  it("a script that writes a big frame ends by itself as soon as it is done (the worker holds nothing open)", async () => {
    const location = join(dir, "child");
    const out = execFileSync(
      process.execPath,
      ["--conditions=@ferry/source", join(import.meta.dirname, "polars-thread-child.ts"), location],
      { encoding: "utf8", timeout: 60_000, env: { ...process.env, FERRY_TABLE_THREADS: "1" } },
    );
    expect(JSON.parse(out)).toEqual({ offThread: 1 });
    expect(await Table.from(location).count()).toBe(200_000);
  });

  it("a script whose write fails while its columns are being copied gets the error and still ends by itself", () => {
    const out = execFileSync(
      process.execPath,
      [
        "--conditions=@ferry/source",
        join(import.meta.dirname, "polars-thread-child.ts"),
        join(dir, "thrown"),
        "throwing",
      ],
      { encoding: "utf8", timeout: 60_000, env: { ...process.env, FERRY_TABLE_THREADS: "1" } },
    );
    expect(JSON.parse(out)).toEqual({ error: "this date cannot be read" });
  });

  it("a value of the wrong kind in a column whose type the frame carries never reaches polars as something else", async () => {
    polarsThread.minBytes = 0;
    const source = join(dir, "carried");
    await table({ id: [1, 2, 3] }, source, { schema: { fields: [t.field("id", t.int32())] } }).write();
    const frame = (await Table.from<DataFrame>(source, { flavour }).fetch()) as DataFrame;
    // danfo's own store edited as a user's frame.addColumn would: the carried schema still says int32.
    (frame as unknown as { $dataIncolumnFormat: unknown[][] }).$dataIncolumnFormat[0]![1] = 2.5;
    const copy = join(dir, "carried-copy");
    const written = await table(frame, copy, { flavour })
      .write()
      .then(
        () => Table.from(copy).fetch(),
        (error: Error) => error,
      );
    // Either refused, naming the column, or written exactly: never 2 (what an int32 buffer would hold).
    if (written instanceof Error) expect(written.message).toMatch(/id/);
    else expect(written).toEqual({ id: [1, 2.5, 3] });
  });
});
