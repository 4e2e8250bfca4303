/**
 * danfo write against the polars flavour: N rows × 6 columns (int32, safe int64, float64, string, bool,
 * timestamp[ms]) written as a ferry table from a danfo DataFrame, from a polars DataFrame and from plain
 * JS arrays holding the same values. Inputs are built outside the timings. danfo has no parquet writer:
 * with nodejs-polars installed (as here) the danfo flavour hands its columns to polars' native writer;
 * without it, ferry's columnar writer encodes the frame's columns as buffers (measured here by a copy
 * of the flavour without its polars encoder), and before that ferry's value writer did (measured by a
 * copy without either fast path).
 *
 *   node --expose-gc --conditions=@ferry/source bench/danfo.ts                  # 1 000 000 rows, median of 3
 *   node --expose-gc --conditions=@ferry/source bench/danfo.ts --rows 200000 --repeat 5
 *
 * With --expose-gc each input's build garbage is collected before its write is timed.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Table, table } from "@ferry/core";
import danfo from "@ferry/table-danfo";
import polars from "@ferry/table-polars";
import pl from "nodejs-polars";
import { columns, schema } from "./table-data.ts";

const { values: args } = parseArgs({
  options: { rows: { type: "string" }, repeat: { type: "string" } },
});
const ROWS = Number(args.rows ?? 1_000_000);
const REPEAT = Number(args.repeat ?? 3);

interface Timing {
  /** Wall-clock seconds. */
  wall: number;
  /** CPU seconds of the process, every thread (user + system): what the write cost, whatever else runs. */
  cpu: number;
}

/** Median wall and CPU seconds of REPEAT runs of `write` over an input built afresh (untimed) for each run. */
async function median<T>(
  write: (input: T) => Promise<unknown>,
  build: (rows: number) => Promise<T> | T,
): Promise<Timing> {
  const runs: Timing[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const input = await build(ROWS);
    // Building a million-row input leaves garbage that V8 would otherwise collect inside the timing.
    (globalThis as { gc?: () => void }).gc?.();
    const started = performance.now();
    const cpu = process.cpuUsage();
    await write(input);
    const used = process.cpuUsage(cpu);
    runs.push({ wall: (performance.now() - started) / 1000, cpu: (used.user + used.system) / 1e6 });
  }
  const middle = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  return { wall: middle(runs.map((r) => r.wall)), cpu: middle(runs.map((r) => r.cpu)) };
}

/** Which library wrote a table's single part file (its footer's created_by). */
async function createdBy(location: string): Promise<string | undefined> {
  const reader = await Table.from(location).reader();
  const [part] = await reader.parts();
  return (await reader.open(part!)).metadata.created_by;
}

/** Warm `write` on a small input, then the median of REPEAT timed writes of the full one (built untimed). */
async function measure<T>(build: (rows: number) => Promise<T> | T, write: (input: T) => Promise<unknown>) {
  await write(await build(2_000));
  return median(write, build);
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "ferry-bench-danfo-"));
  const danfoFlavour = danfo();
  const polarsFlavour = polars();
  try {
    // One input at a time, so that each write runs with only its own input in memory (a danfo frame of
    // a million rows holds its values twice, row- and column-wise: the garbage collector otherwise
    // dominates whichever write comes last).
    const danfoSeconds = await measure(
      (rows) =>
        danfoFlavour.fromBatches({ schema, batches: [{ schema, columns: columns(rows), numRows: rows }] }),
      (frame) => table(frame, join(dir, "danfo"), { flavour: danfoFlavour }).write(),
    );
    const danfoWriter = await createdBy(join(dir, "danfo"));
    const buildFrame = (rows: number) =>
      danfoFlavour.fromBatches({ schema, batches: [{ schema, columns: columns(rows), numRows: rows }] });
    // The flavour as it writes without nodejs-polars (ferry's columnar writer), and as it did before.
    const { encodeParquet: _polars, ...noPolars } = danfoFlavour;
    const { toColumnar: _columnar, ...valuePath } = noPolars;
    const columnarSeconds = await measure(buildFrame, (frame) =>
      table(frame, join(dir, "danfo-columnar"), { flavour: noPolars }).write(),
    );
    const columnarWriter = await createdBy(join(dir, "danfo-columnar"));
    const valueSeconds = await measure(buildFrame, (frame) =>
      table(frame, join(dir, "danfo-values"), { flavour: valuePath }).write(),
    );
    const polarsSeconds = await measure(
      (rows) => {
        const data = columns(rows);
        return pl.DataFrame({
          ...data,
          big: pl.Series("big", data.big, pl.Int64),
          at: pl.Series("at", data.at, pl.Datetime("ms", "UTC")),
        });
      },
      (frame) => table(frame, join(dir, "polars"), { flavour: polarsFlavour }).write(),
    );
    const plainSeconds = await measure(columns, (data) =>
      table(data, join(dir, "plain"), { schema }).write(),
    );
    const row = (tool: string, t: Timing) =>
      `| ${tool} | ${t.wall.toFixed(3)} | ${(t.wall / polarsSeconds.wall).toFixed(1)} | ${t.cpu.toFixed(3)} | ${(t.cpu / polarsSeconds.cpu).toFixed(1)} |`;
    const lines = [
      `| write ${ROWS.toLocaleString("en")} rows × 6 columns (median of ${REPEAT}) | wall s | × polars flavour | CPU s | × polars flavour |`,
      "|---|---|---|---|---|",
      row(`ferry + table-danfo (written by ${danfoWriter})`, danfoSeconds),
      row(`ferry + table-danfo without nodejs-polars (written by ${columnarWriter})`, columnarSeconds),
      row("ferry + table-danfo, value path (as before the columnar path)", valueSeconds),
      row("ferry + table-polars", polarsSeconds),
      row("ferry (plain JS data, ferry's own writer)", plainSeconds),
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
