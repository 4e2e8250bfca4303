import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Table, table } from "@ferry/core";
import * as dfd from "danfojs-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import danfo, { type DataFrame } from "../../src/index.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-danfo-large-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ROWS = 300_000;
const flavour = danfo();

describe("@ferry/table-danfo at size", () => {
  it("writes and fetches a 300,000-row DataFrame without overflowing the call stack", async () => {
    const id = Array.from({ length: ROWS }, (_, i) => i);
    const name = Array.from({ length: ROWS }, (_, i) => `row-${i % 977}`);
    const location = join(dir, "big");
    await table(new dfd.DataFrame({ id, name }), location, { flavour, rowGroupSize: 50_000 }).write();
    expect(await Table.from(location).count()).toBe(ROWS);

    const frame = (await Table.from<DataFrame>(location, { flavour }).fetch()) as DataFrame;
    expect(frame.shape).toEqual([ROWS, 2]);
    const ids = frame.column("id").values as number[];
    expect(ids[0]).toBe(0);
    expect(ids[ROWS - 1]).toBe(ROWS - 1);
    expect((frame.column("name").values as string[])[ROWS - 1]).toBe(`row-${(ROWS - 1) % 977}`);

    // Written again (the frame remembers its schema), it stays the same table.
    const copy = join(dir, "big-again");
    await table(frame, copy, { flavour }).write();
    expect(await Table.from(copy).count()).toBe(ROWS);
    const back = await Table.from(copy).fetch({ columns: ["id"] });
    expect((back.id as number[])[ROWS - 1]).toBe(ROWS - 1);
  }, 120_000);
});
