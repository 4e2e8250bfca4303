/**
 * The formats `ferry table convert` reads and writes besides tables: CSV and JSON lines, streamed in
 * batches (the first batch fixes the schema), and the JSON/text form of every ferry value.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  type BatchSource,
  type ColumnBatch,
  type DataType,
  describeType,
  errors,
  type Field,
  ferry,
  inferType,
  type Schema,
  Table,
} from "@ferry/core";
import { parse } from "csv-parse";
import { stringify } from "csv-stringify/sync";

export type Format = "csv" | "jsonl" | "parquet" | "table";

/** Rows per batch while converting (and rows used to infer a text file's column types). */
export const CONVERT_BATCH = 10_000;

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
// ---------------------------------------------------------------------------------------------
// Text sources: a first batch fixes the schema, later batches must fit it.

const INTEGER = /^-?\d{1,18}$/;
const FLOAT = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-?(inf|infinity|nan)$/i;

/** CSV cells are text: int64, float64, bool or string, by what every non-empty cell of the column parses as. */
function csvType(values: readonly (string | null)[]): DataType {
  const present = values.filter((v): v is string => v !== null);
  if (present.length > 0 && present.every((v) => INTEGER.test(v)))
    return { type: "int", bits: 64, signed: true };
  if (present.length > 0 && present.every((v) => FLOAT.test(v))) return { type: "float", bits: 64 };
  if (present.length > 0 && present.every((v) => /^(true|false)$/i.test(v))) return { type: "bool" };
  return { type: "string" };
}

function csvValue(field: Field, text: string | null, row: number): unknown {
  if (text === null) return null;
  switch (field.type.type) {
    case "int":
      if (INTEGER.test(text)) return BigInt(text);
      break;
    case "float":
      if (FLOAT.test(text))
        return Number(/^-?inf/i.test(text) ? text.replace(/inf(inity)?/i, "Infinity") : text);
      break;
    case "bool":
      if (/^(true|false)$/i.test(text)) return text.toLowerCase() === "true";
      break;
    default:
      return text;
  }
  throw errors.invalidInput(
    `row ${row}: column "${field.name}" was inferred as ${describeType(field.type)} from the first rows but holds ${JSON.stringify(text)} (use --all-strings)`,
  );
}

async function* chunkRows<T>(rows: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let chunk: T[] = [];
  for await (const row of rows) {
    chunk.push(row);
    if (chunk.length === size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}

async function* jsonLines(lines: AsyncIterable<string>): AsyncGenerator<Record<string, unknown>> {
  let number = 0;
  for await (const line of lines) {
    number++;
    if (line.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw errors.invalidInput(`line ${number}: not JSON (${(error as Error).message})`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value))
      throw errors.invalidInput(`line ${number}: not a JSON object`);
    yield value as Record<string, unknown>;
  }
}

async function* splitLines(bytes: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  let rest = "";
  const decoder = new TextDecoder();
  for await (const chunk of bytes) {
    rest += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
    const lines = rest.split("\n");
    rest = lines.pop()!;
    yield* lines;
  }
  rest += decoder.decode();
  if (rest !== "") yield rest;
}

/** Row objects in batches; the schema comes from the first batch (given types win). */
async function rowSource(
  rows: AsyncIterable<Record<string, unknown>>,
  typeFor: (name: string, values: unknown[]) => DataType,
  convertValue: (field: Field, value: unknown, row: number) => unknown,
): Promise<BatchSource> {
  const chunks = chunkRows(rows, CONVERT_BATCH);
  const first = await chunks.next();
  const firstRows = first.done ? [] : first.value;
  const names: string[] = [];
  for (const row of firstRows) for (const key of Object.keys(row)) if (!names.includes(key)) names.push(key);
  const schema: Schema = {
    fields: names.map((name) => ({
      name,
      type: typeFor(
        name,
        firstRows.map((r) => r[name] ?? null),
      ),
      nullable: true,
    })),
  };
  let offset = 0;
  const toBatch = (chunk: Record<string, unknown>[]): ColumnBatch => {
    const columns = Object.fromEntries(
      schema.fields.map((f) => [
        f.name,
        chunk.map((row, i) => convertValue(f, row[f.name] ?? null, offset + i + 1)),
      ]),
    );
    offset += chunk.length;
    return { schema, columns, numRows: chunk.length };
  };
  async function* batches(): AsyncGenerator<ColumnBatch> {
    if (firstRows.length > 0) yield toBatch(firstRows);
    for await (const chunk of chunks) yield toBatch(chunk);
  }
  return { schema, batches: batches() };
}

export async function openSource(
  location: string,
  format: Format,
  options: TextSourceOptions,
  signal: AbortSignal,
): Promise<BatchSource> {
  if (format === "parquet" || format === "table") {
    const table = Table.from(location);
    return {
      schema: await table.schema({ signal }),
      batches: table.streamBatches({ batchSize: CONVERT_BATCH, signal }),
    };
  }
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
    const rows = (async function* () {
      for await (const row of parser as AsyncIterable<Record<string, string>>) {
        yield Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v === "" ? null : v]));
      }
    })();
    return rowSource(
      rows,
      (_name, values) => (options.allStrings ? { type: "string" } : csvType(values as (string | null)[])),
      (field, value, row) => csvValue(field, value as string | null, row),
    );
  }
  return rowSource(
    jsonLines(splitLines(stream)),
    (name, values) => inferType(values, name),
    (_field, value) => value,
  );
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
