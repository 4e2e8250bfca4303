/**
 * Rows of text files as ferry batches: CSV rows (cells already split by a CSV parser) and JSON lines,
 * in batches of `batchSize` rows. The first batch fixes the schema (unless one is given) and later
 * batches must fit it. Used by `ferry table convert` / `head` and by table plugins reading CSV or
 * JSON-lines data files.
 */
import type { BatchSource, ColumnBatch, DataType, Field, Schema } from "@ferry/plugin-kit";
import { errors } from "@ferry/plugin-kit";
import { describeType } from "./parquet-schema.ts";
import { inferType } from "./plain.ts";

/** Rows per batch (and rows used to infer a text file's column types). */
export const TEXT_BATCH_ROWS = 10_000;

export interface TextRowsOptions {
  /** Where the rows come from, for messages (a file name). */
  where?: string | undefined;
  /** The schema to hold the rows to, instead of inferring one from the first batch. */
  schema?: Schema | undefined;
}

export interface CsvRowsOptions extends TextRowsOptions {
  /** Keep every column as text. */
  allStrings?: boolean | undefined;
  /** Added to a "value does not fit the inferred type" error, e.g. the flag that keeps text. */
  hint?: string | undefined;
}

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

function csvValue(field: Field, text: string | null, row: number, options: CsvRowsOptions): unknown {
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
    `${prefix(options)}row ${row}: column "${field.name}" was inferred as ${describeType(field.type)} from the first rows but holds ${JSON.stringify(text)}${options.hint ? ` (${options.hint})` : ""}`,
  );
}

function prefix(options: TextRowsOptions): string {
  return options.where ? `${options.where}: ` : "";
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

async function* jsonLines(
  lines: AsyncIterable<string>,
  options: TextRowsOptions,
): AsyncGenerator<Record<string, unknown>> {
  let number = 0;
  for await (const line of lines) {
    number++;
    if (line.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw errors.invalidInput(`${prefix(options)}line ${number}: not JSON (${(error as Error).message})`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value))
      throw errors.invalidInput(`${prefix(options)}line ${number}: not a JSON object`);
    yield value as Record<string, unknown>;
  }
}

async function* splitLines(bytes: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
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

/** Row objects in batches; the schema comes from the first batch unless given. */
async function rowSource(
  rows: AsyncIterable<Record<string, unknown>>,
  options: TextRowsOptions,
  typeFor: (name: string, values: unknown[]) => DataType,
  convertValue: (field: Field, value: unknown, row: number) => unknown,
): Promise<BatchSource> {
  const chunks = chunkRows(rows, TEXT_BATCH_ROWS);
  const first = await chunks.next();
  const firstRows = first.done ? [] : first.value;
  let schema = options.schema;
  if (!schema) {
    const names: string[] = [];
    for (const row of firstRows)
      for (const key of Object.keys(row)) if (!names.includes(key)) names.push(key);
    schema = {
      fields: names.map((name) => ({
        name,
        type: typeFor(
          name,
          firstRows.map((r) => r[name] ?? null),
        ),
        nullable: true,
      })),
    };
  }
  const fixed = schema;
  let offset = 0;
  const names = new Set(fixed.fields.map((f) => f.name));
  const toBatch = (chunk: Record<string, unknown>[]): ColumnBatch => {
    // A key the schema lacks would be dropped without a word: refuse it, naming row and column.
    chunk.forEach((row, i) => {
      const extra = Object.keys(row).find((key) => !names.has(key));
      if (extra !== undefined)
        throw errors.invalidInput(
          `${prefix(options)}row ${offset + i + 1}: column "${extra}" is not among the columns of the first rows (${[...names].join(", ")})`,
        );
    });
    const columns = Object.fromEntries(
      fixed.fields.map((f) => [
        f.name,
        chunk.map((row, i) => convertValue(f, row[f.name] ?? null, offset + i + 1)),
      ]),
    );
    offset += chunk.length;
    return { schema: fixed, columns, numRows: chunk.length };
  };
  async function* batches(): AsyncGenerator<ColumnBatch> {
    try {
      if (firstRows.length > 0) yield toBatch(firstRows);
      for await (const chunk of chunks) yield toBatch(chunk);
    } finally {
      await chunks.return(undefined);
    }
  }
  return { schema: fixed, batches: batches() };
}

/** CSV rows (header-keyed cells, as csv-parse's `columns: true` gives them; "" is null) as batches. */
export function csvBatches(
  rows: AsyncIterable<Record<string, string>>,
  options: CsvRowsOptions = {},
): Promise<BatchSource> {
  const cells = (async function* () {
    for await (const row of rows) {
      yield Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v === "" ? null : v]));
    }
  })();
  return rowSource(
    cells,
    options,
    (_name, values) => (options.allStrings ? { type: "string" } : csvType(values as (string | null)[])),
    (field, value, row) => csvValue(field, value as string | null, row, options),
  );
}

/** JSON lines (one object per line; blank lines skipped) as batches, typed like plain JS data. */
export function jsonLinesBatches(
  bytes: AsyncIterable<Uint8Array | string>,
  options: TextRowsOptions = {},
): Promise<BatchSource> {
  return rowSource(
    jsonLines(splitLines(bytes), options),
    options,
    (name, values) => inferType(values, name),
    (_field, value) => value,
  );
}
