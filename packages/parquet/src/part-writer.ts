/**
 * One parquet part file written through `storage.write` as a stream: hyparquet-writer encodes a row
 * group into memory, the bytes are handed to the storage's write and the next row group is encoded
 * only once the storage has taken them (back-pressure), so memory is bounded by one row group.
 */

import type { Entry, Field, Schema, Storage } from "@ferry/plugin-kit";
import { errors } from "@ferry/plugin-kit";
import { ByteWriter, ParquetWriter } from "hyparquet-writer";
import { SCHEMA_METADATA_KEY, schemaToJson, toParquetSchema } from "./parquet-schema.ts";
import { encodeColumn } from "./values.ts";

export type Codec = "SNAPPY" | "GZIP" | "BROTLI" | "ZSTD" | "LZ4_RAW" | "UNCOMPRESSED";

export interface PartWriterOptions {
  codec: Codec;
  rowGroupSize: number;
  pageSize?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** Write-side codecs; hyparquet-writer has SNAPPY built in and takes the rest as functions. */
let wasmSnappy: ((input: Uint8Array) => Uint8Array) | undefined;

export async function writeCompressors(
  codec: Codec,
): Promise<Record<string, (input: Uint8Array) => Uint8Array>> {
  if (codec === "UNCOMPRESSED") return {};
  // hysnappy's WASM compressor: over ten times faster than hyparquet-writer's built-in JS snappy.
  if (codec === "SNAPPY") {
    wasmSnappy ??= (await import("hysnappy")).snappyCompressor();
    return { SNAPPY: wasmSnappy };
  }
  const zlib = await import("node:zlib");
  if (codec === "GZIP") return { GZIP: (input) => zlib.gzipSync(input) };
  if (codec === "BROTLI") return { BROTLI: (input) => zlib.brotliCompressSync(input) };
  if (codec === "ZSTD") return { ZSTD: (input) => zlib.zstdCompressSync(input) };
  throw errors.unsupported(
    `writing parquet with codec ${codec} is not supported (use SNAPPY, GZIP, BROTLI, ZSTD or UNCOMPRESSED)`,
  );
}

/** A single-producer, single-consumer byte channel: `push` resolves once the consumer has taken the chunk. */
class ByteChannel implements AsyncIterable<Uint8Array> {
  #queue: { chunk: Uint8Array; taken: () => void }[] = [];
  #closed = false;
  #failure: unknown;
  #wake: (() => void) | undefined;

  push(chunk: Uint8Array): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolve) => {
      this.#queue.push({ chunk, taken: resolve });
      this.#wake?.();
    });
  }

  close(): void {
    this.#closed = true;
    this.#wake?.();
  }

  fail(error: unknown): void {
    this.#failure = error;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      const next = this.#queue.shift();
      if (next) {
        next.taken();
        yield next.chunk;
        continue;
      }
      if (this.#failure !== undefined) throw this.#failure;
      if (this.#closed) return;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = undefined;
    }
  }
}

/** hyparquet's ByteWriter that hands everything encoded so far to the channel on each flush. */
class StreamingWriter extends ByteWriter {
  readonly #channel: ByteChannel;

  constructor(channel: ByteChannel) {
    super(1 << 16);
    this.#channel = channel;
  }

  #drain(): Promise<void> {
    if (this.index === 0) return Promise.resolve();
    const chunk = new Uint8Array(this.buffer.slice(0, this.index));
    this.index = 0;
    return this.#channel.push(chunk);
  }

  flush(): Promise<void> {
    return this.#drain();
  }

  override finish(): Promise<void> {
    return this.#drain().then(() => this.#channel.close());
  }
}

/**
 * The schema's own metadata, as pyarrow writes it: one key/value entry each (how `datasets` finds its
 * `huggingface` Features). Keys that describe a file's physical layout are the writer's own, never copied.
 */
function schemaKeyValues(schema: Schema): { key: string; value: string }[] {
  return Object.entries(schema.metadata ?? {})
    .filter(([key]) => key !== SCHEMA_METADATA_KEY && key !== "ARROW:schema")
    .map(([key, value]) => ({ key, value }));
}

/**
 * An open part file. `writeRows` appends row groups; `finish` writes the footer and resolves with the
 * storage entry once the write is complete. `abort` makes the storage write fail, leaving nothing.
 */
export class PartWriter {
  readonly path: string;
  readonly fields: readonly Field[];
  readonly #channel = new ByteChannel();
  readonly #writer: ParquetWriter;
  readonly #done: Promise<Entry>;
  readonly #options: PartWriterOptions;
  #rows = 0;

  private constructor(
    storage: Storage,
    path: string,
    fileSchema: Schema,
    tableSchema: Schema,
    options: PartWriterOptions,
    codecs: Record<string, (input: Uint8Array) => Uint8Array>,
  ) {
    this.path = path;
    this.fields = fileSchema.fields;
    this.#options = options;
    this.#writer = new ParquetWriter({
      writer: new StreamingWriter(this.#channel),
      schema: toParquetSchema(fileSchema.fields),
      codec: options.codec,
      compressors: codecs,
      kvMetadata: [
        ...schemaKeyValues(tableSchema),
        { key: SCHEMA_METADATA_KEY, value: schemaToJson(tableSchema) },
      ],
      createdBy: "ferry (hyparquet-writer)",
    });
    this.#done = storage.write(path, this.#channel, {
      signal: options.signal,
      contentType: "application/vnd.apache.parquet",
    });
    // Surface a failed storage write to the encoder at its next push instead of hanging.
    this.#done.catch((error: unknown) => this.#channel.fail(error));
  }

  /** `fileSchema`: the columns stored in this file; `tableSchema`: the full schema recorded in its metadata. */
  static async open(
    storage: Storage,
    path: string,
    fileSchema: Schema,
    tableSchema: Schema,
    options: PartWriterOptions,
  ): Promise<PartWriter> {
    return new PartWriter(
      storage,
      path,
      fileSchema,
      tableSchema,
      options,
      await writeCompressors(options.codec),
    );
  }

  get rows(): number {
    return this.#rows;
  }

  /** Append rows (column-major, already validated against `fields` by `encodeColumns`). */
  async writeRows(columns: Record<string, readonly unknown[]>, numRows: number): Promise<void> {
    if (numRows === 0) return;
    // A page index (each page's min, max and nulls, and where it is) lets readers skip pages.
    const columnData = this.fields.map((field) => ({
      name: field.name,
      data: columns[field.name] as unknown[],
      columnIndex: true,
      offsetIndex: true,
    }));
    await this.#writer.write({
      columnData: columnData as never,
      rowGroupSize: this.#options.rowGroupSize,
      ...(this.#options.pageSize ? { pageSize: this.#options.pageSize } : {}),
    });
    this.#rows += numRows;
  }

  async finish(): Promise<Entry> {
    await this.#writer.finish();
    return this.#done;
  }

  async abort(reason: unknown): Promise<void> {
    this.#channel.fail(reason);
    await this.#done.catch(() => undefined);
  }
}

/** Validate and convert column values for the writer, naming the column/row that does not fit. */
export function encodeColumns(
  fields: readonly Field[],
  columns: Readonly<Record<string, readonly unknown[]>>,
  numRows: number,
): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const field of fields) {
    const values = columns[field.name];
    if (!values)
      throw errors.invalidInput(`column "${field.name}" is in the schema but missing from the data`);
    if (values.length !== numRows) {
      throw errors.invalidInput(`column "${field.name}" has ${values.length} values, expected ${numRows}`);
    }
    out[field.name] = encodeColumn(field, values);
  }
  return out;
}
