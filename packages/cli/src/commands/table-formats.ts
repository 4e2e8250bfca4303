/**
 * The formats `ferry table convert` reads and writes besides tables: CSV and JSON lines, streamed in
 * batches (the first batch fixes the schema), and the JSON/text form of every ferry value.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

import { ferry, Table } from "@ferry/core";
import {
  compileFilter,
  csvBatches,
  filterBatch,
  jsonLinesBatches,
  pickFields,
  TEXT_BATCH_ROWS,
} from "@ferry/parquet";
import type { BatchSource, ColumnBatch, DataType, Schema } from "@ferry/plugin-kit";
import { parse } from "csv-parse";
import { stringify } from "csv-stringify/sync";

export type Format = "csv" | "jsonl" | "parquet" | "table";

export function formatOf(location: string, given: Format | undefined): Format {
  if (given) return given;
  if (/\.csv$/i.test(location)) return "csv";
  if (/\.(jsonl|ndjson)$/i.test(location)) return "jsonl";
  if (/\.(parquet|parq|pq)$/i.test(location)) return "parquet";
  return "table";
}

/** A value as JSON can hold it: bigint as a number when exact, else a string; bytes as base64. */
export function jsonValue(type: DataType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (type.type) {
    case "int":
    case "time":
    case "duration":
      if (typeof value === "bigint")
        return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
      return value;
    case "timestamp":
      return value instanceof Date ? value.toISOString() : String(value);
    case "date":
      return (value as Date).toISOString().slice(0, 10);
    case "binary":
      return Buffer.from(value as Uint8Array).toString("base64");
    case "list":
      return (value as unknown[]).map((item) => jsonValue(type.item.type, item));
    case "struct":
      return Object.fromEntries(
        type.fields.map((f) => [f.name, jsonValue(f.type, (value as Record<string, unknown>)[f.name])]),
      );
    default:
      return typeof value === "number" && !Number.isFinite(value) ? String(value) : value;
  }
}

export function textValue(type: DataType, value: unknown): string {
  const json = jsonValue(type, value);
  if (json === null) return "";
  return typeof json === "object" ? JSON.stringify(json) : String(json);
}

export function rowsOf(batch: ColumnBatch): Record<string, unknown>[] {
  return Array.from({ length: batch.numRows }, (_, i) =>
    Object.fromEntries(
      batch.schema.fields.map((f) => [f.name, jsonValue(f.type, batch.columns[f.name]![i])]),
    ),
  );
}

/** Plain-text grid for `head`. */
/** Which rows and columns of a source to read: `--where` and `--columns`. */
export interface Selection {
  where?: string | undefined;
  columns?: string[] | undefined;
  /** Rows per batch (default TEXT_BATCH_ROWS). */
  batchSize?: number | undefined;
}

/** `--columns` checked against the source's columns; the schema of what is read. */
function selectedSchema(schema: Schema, columns: string[] | undefined, location: string): Schema {
  const fields = pickFields(
    schema,
    columns,
    (name, available) => `--columns: "${name}" is not a column of ${location} (columns: ${available})`,
  );
  return { ...schema, fields };
}

/**
 * A source's batches, only the rows `--where` keeps and the `--columns` asked for. A table pushes both
 * down (partitions and row groups that cannot match are not read); CSV and JSON lines are filtered as
 * they stream.
 */
export async function openSource(
  location: string,
  format: Format,
  options: TextSourceOptions & Selection,
  signal: AbortSignal,
): Promise<BatchSource> {
  const batchSize = options.batchSize ?? TEXT_BATCH_ROWS;
  if (format === "parquet" || format === "table") {
    const table = Table.from(location);
    const tableSchema = await table.schema({ signal });
    const schema = selectedSchema(tableSchema, options.columns, location);
    // Checked here so that a mistake is reported in the flag's words.
    if (options.where !== undefined) compileFilter(options.where, tableSchema, "--where");
    const filter = options.where;
    return { schema, batches: table.streamBatches({ batchSize, signal, columns: options.columns, filter }) };
  }
  const source = await openText(location, format, options, signal);
  const schema = selectedSchema(source.schema, options.columns, location);
  const filter =
    options.where === undefined ? undefined : compileFilter(options.where, source.schema, "--where");
  if (!filter && !options.columns) return source;
  async function* selected(): AsyncGenerator<ColumnBatch> {
    for await (const batch of source.batches) {
      const kept = filter ? filterBatch(batch, filter) : batch;
      yield {
        schema,
        columns: Object.fromEntries(schema.fields.map((f) => [f.name, kept.columns[f.name]!])),
        numRows: kept.numRows,
      };
    }
  }
  return { schema, batches: selected() };
}

async function openText(
  location: string,
  format: "csv" | "jsonl",
  options: TextSourceOptions,
  signal: AbortSignal,
): Promise<BatchSource> {
  const { storage, path } = await ferry.resolve(location);
  const stream = await storage.read(path, { signal });
  if (format === "csv") {
    const parser = stream.pipe(
      parse({
        columns: true,
        bom: true,
        delimiter: options.delimiter ?? ",",
        relax_column_count: false,
        cast: false,
      }),
    );
    return csvBatches(parser, { allStrings: options.allStrings, hint: "use --all-strings" });
  }
  return jsonLinesBatches(stream);
}

/** `-` as a destination: standard output. */
export const STDOUT = "-";

/** Batches as CSV or JSON lines, one batch of text at a time, to a file or (`-`) standard output. */
export async function writeText(
  location: string,
  format: "csv" | "jsonl",
  source: BatchSource,
  signal: AbortSignal,
): Promise<number> {
  const fields = source.schema.fields;
  const encoder = new TextEncoder();
  let rows = 0;
  async function* text(): AsyncGenerator<Uint8Array> {
    if (format === "csv") yield encoder.encode(stringify([fields.map((f) => f.name)]));
    for await (const batch of source.batches) {
      rows += batch.numRows;
      const chunk =
        format === "jsonl"
          ? rowsOf(batch)
              .map((row) => `${JSON.stringify(row)}\n`)
              .join("")
          : stringify(
              Array.from({ length: batch.numRows }, (_, i) =>
                fields.map((f) => textValue(f.type, batch.columns[f.name]![i])),
              ),
            );
      yield encoder.encode(chunk);
    }
  }
  if (location === STDOUT) {
    await pipeline(Readable.from(text()), process.stdout, { end: false, signal });
    return rows;
  }
  const { storage, path } = await ferry.resolve(location);
  await storage.write(path, text(), {
    signal,
    contentType: format === "csv" ? "text/csv" : "application/x-ndjson",
  });
  return rows;
}

export interface TextSourceOptions {
  /** CSV field delimiter (default ","). */
  delimiter?: string | undefined;
  /** Keep every CSV column as text. */
  allStrings?: boolean | undefined;
}
