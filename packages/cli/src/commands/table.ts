/**
 * `ferry table head | schema | count | convert`. Tables are read with ferry's reader (any system, a
 * table folder or one parquet file); convert streams CSV, JSON lines, parquet files and table folders
 * into each other in batches, so nothing is loaded whole.
 */

import { Table } from "@ferry/core";
import { compileFilter, describeType, type WriteMode } from "@ferry/parquet";
import { type ColumnBatch, errors } from "@ferry/plugin-kit";
import { type Command, InvalidArgumentError, Option } from "commander";
import { action, withCommonOptions } from "../context.ts";
import {
  type Format,
  formatOf,
  openSource,
  rowsOf,
  type Selection,
  STDOUT,
  type TextSourceOptions,
  textValue,
  writeText,
} from "./table-formats.ts";

function positiveInteger(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("must be a positive integer");
  return n;
}

function list(text: string): string[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

function grid(batch: ColumnBatch): string {
  const names = batch.schema.fields.map((f) => f.name);
  const cells = [
    names,
    ...Array.from({ length: batch.numRows }, (_, i) =>
      batch.schema.fields.map((f) => textValue(f.type, batch.columns[f.name]![i])),
    ),
  ];
  const widths = names.map((_, c) => Math.min(40, Math.max(...cells.map((row) => row[c]!.length))));
  return cells
    .map((row) =>
      row
        .map((cell, c) => (cell.length > 40 ? `${cell.slice(0, 39)}…` : cell).padEnd(widths[c]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** The first `rows` rows (of those `--where` keeps), reading no more of the source than they need. */
async function firstRows(
  location: string,
  format: Format,
  rows: number,
  selection: Selection,
  signal: AbortSignal,
): Promise<ColumnBatch | undefined> {
  const source = await openSource(location, format, { ...selection, batchSize: rows }, signal);
  const taken: ColumnBatch[] = [];
  let count = 0;
  for await (const batch of source.batches) {
    taken.push(batch);
    count += batch.numRows;
    if (count >= rows) break;
  }
  if (taken.length === 0) return undefined;
  const numRows = Math.min(rows, count);
  const columns = Object.fromEntries(
    source.schema.fields.map((f) => [
      f.name,
      taken.flatMap((batch) => [...batch.columns[f.name]!]).slice(0, numRows),
    ]),
  );
  return { schema: source.schema, columns, numRows };
}

/** What convert can write where: stdout takes text, one .parquet file takes no partitions nor appends. */
async function checkDestination(destination: string, to: Format, options: ConvertOptions): Promise<void> {
  if (destination === STDOUT) {
    if (to !== "csv" && to !== "jsonl")
      throw errors.invalidInput(`- (stdout) takes --to csv or --to jsonl, not --to ${to}`);
    return;
  }
  if (to !== "parquet") return;
  if (!/\.(parquet|parq|pq)$/i.test(destination))
    throw errors.invalidInput(`--to parquet writes one file: name it with .parquet (${destination})`);
  if (options.partitionBy?.length)
    throw errors.invalidInput(
      `--partition-by writes a folder of files: convert into a table folder (a name without .parquet), not ${destination}`,
    );
  if (options.mode === "append" && (await Table.from(destination).exists()))
    throw errors.invalidInput(
      `--mode append cannot add to ${destination}: it is one parquet file (convert into a table folder to append)`,
    );
}

const WHERE_HELP =
  "only rows where this holds, e.g. \"year >= 2020 and split in ('train', 'test')\" (=, !=, <, <=, >, >=, in, not in, is null, is not null, and, or, not)";

interface ConvertOptions extends TextSourceOptions, Selection {
  from?: Format;
  to?: Format;
  partitionBy?: string[];
  rowGroupSize?: number;
  codec?: "SNAPPY" | "GZIP" | "BROTLI" | "ZSTD" | "UNCOMPRESSED";
  mode?: WriteMode;
}

export function registerTableCommands(program: Command): void {
  const tableCommand = program
    .command("table")
    .description("read and convert tables (folders of parquet files, or one parquet file)");
  registerHead(tableCommand);
  registerSchema(tableCommand);
  registerCount(tableCommand);
  registerConvert(tableCommand);
}

function registerHead(tableCommand: Command): void {
  withCommonOptions(
    tableCommand
      .command("head")
      .description("print the first rows")
      .argument("<location>", "table folder, parquet, CSV or JSON lines file (path or URL)")
      .option("-n, --rows <n>", "rows to print", positiveInteger, 10)
      .option("-c, --columns <names>", "comma-separated columns to show", list)
      .option("-w, --where <condition>", WHERE_HELP),
  ).action(
    action(async ({ output, signal }, options: { rows: number } & Selection, location: string) => {
      const format = formatOf(location, undefined);
      const first = await firstRows(location, format, options.rows, options, signal);
      if (!first) return undefined;
      if (output.json) for (const row of rowsOf(first)) output.emit("row", row, undefined);
      else output.emit("rows", {}, grid(first));
      return undefined;
    }),
  );
}

function registerSchema(tableCommand: Command): void {
  withCommonOptions(
    tableCommand
      .command("schema")
      .description("print the columns and their types")
      .argument("<location>", "table folder or parquet file"),
  ).action(
    action(async ({ output, signal }, _options: object, location: string) => {
      for (const field of (await Table.from(location).schema({ signal })).fields) {
        output.emit(
          "field",
          { ...field },
          `${field.name}: ${describeType(field.type)}${field.nullable ? "" : " not null"}`,
        );
      }
      return undefined;
    }),
  );
}

function registerCount(tableCommand: Command): void {
  withCommonOptions(
    tableCommand
      .command("count")
      .description("count rows (from the parquet footers only; with --where, the rows it keeps)")
      .argument("<location>", "table folder or parquet file")
      .option("-w, --where <condition>", WHERE_HELP),
  ).action(
    action(async ({ output, signal }, options: { where?: string }, location: string) => {
      const table = Table.from(location);
      if (options.where !== undefined)
        compileFilter(options.where, await table.schema({ signal }), "--where");
      const rows = await table.count({ signal, filter: options.where });
      output.emit("count", { rows }, String(rows));
      return undefined;
    }),
  );
}

function registerConvert(tableCommand: Command): void {
  withCommonOptions(convertOptions(tableCommand.command("convert"))).action(
    action(async ({ output, signal }, options: ConvertOptions, source: string, destination: string) => {
      const from = formatOf(source, options.from);
      const to = destination === STDOUT ? (options.to ?? "csv") : formatOf(destination, options.to);
      await checkDestination(destination, to, options);
      const batches = await openSource(source, from, options, signal);
      const rows =
        to === "table" || to === "parquet"
          ? (
              await Table.from(destination).writeBatches(batches, {
                signal,
                mode: options.mode,
                partitionBy: options.partitionBy,
                rowGroupSize: options.rowGroupSize,
                codec: options.codec,
              })
            ).rows
          : await writeText(destination, to, batches, signal);
      if (destination === STDOUT) return undefined; // stdout holds the data alone
      output.emit(
        "converted",
        { source, destination, from, to, rows },
        `${rows} rows: ${source} (${from}) → ${destination} (${to})`,
      );
      return undefined;
    }),
  );
}

function convertOptions(convert: Command): Command {
  return convert
    .description("convert between CSV, JSON lines, parquet files and table folders, on any system")
    .argument("<source>", "a .csv, .jsonl/.ndjson or .parquet file, or a table folder")
    .argument("<destination>", "a table folder, a .parquet, .csv or .jsonl file, or - for stdout (CSV)")
    .addOption(
      new Option("--from <format>", "source format (default: from the extension)").choices([
        "csv",
        "jsonl",
        "parquet",
        "table",
      ]),
    )
    .addOption(
      new Option("--to <format>", "destination format (default: from the extension; csv for -)").choices([
        "csv",
        "jsonl",
        "parquet",
        "table",
      ]),
    )
    .option("-w, --where <condition>", WHERE_HELP)
    .option("-c, --columns <names>", "comma-separated columns to convert, in this order", list)
    .option("--partition-by <columns>", "Hive-partition the destination table by these columns", list)
    .option("--row-group-size <rows>", "rows per row group", positiveInteger)
    .addOption(
      new Option("--codec <codec>", "parquet compression").choices([
        "SNAPPY",
        "GZIP",
        "BROTLI",
        "ZSTD",
        "UNCOMPRESSED",
      ]),
    )
    .addOption(
      new Option("--mode <mode>", "when the destination table exists")
        .choices(["overwrite", "append", "error"])
        .default("overwrite"),
    )
    .option("--delimiter <char>", "CSV field delimiter", ",")
    .option("--all-strings", "keep every CSV column as text instead of inferring int64/float64/bool");
}
