/** The part files of one table write, with their partitions, row groups and open-file limit. */

import type { ColumnBatch, Field, Schema, Storage } from "@ferry/plugin-kit";
import { errors } from "@ferry/plugin-kit";
import { ChunkQueue } from "./concat.ts";
import { isParquetFileKey, partKey } from "./layout.ts";
import { encodeColumns, PartWriter, type PartWriterOptions } from "./part-writer.ts";
import { partitionSegment } from "./partition.ts";

interface PartitionState {
  directory: string;
  writer: PartWriter | undefined;
  buffer: Record<string, ChunkQueue>;
  buffered: number;
  /** When its writer last took rows (for closing the least recently used one). */
  lastWrite: number;
}

export interface PartsPlan {
  storage: Storage;
  /** The table's location: one parquet file, or the folder of its parts. */
  path: string;
  schema: Schema;
  fileSchema: Schema;
  partitionFields: readonly Field[];
  rowGroupSize: number;
  maxRowsPerFile: number;
  maxOpenFiles: number;
  /** The number of the first part written. */
  firstNumber: number;
  partWriterOptions: PartWriterOptions;
}

/**
 * The part files of one write. Rows are buffered per partition and written a row group at a time;
 * past `maxOpenFiles` open parts the least recently written one is finished.
 */
export class PartsWriter {
  /** Keys of the finished parts. */
  readonly written: string[] = [];
  rows = 0;
  readonly #plan: PartsPlan;
  readonly #partitions = new Map<string, PartitionState>();
  readonly #openWriters = new Set<PartWriter>();
  #nextNumber: number;
  #writes = 0;
  #totalBuffered = 0;

  constructor(plan: PartsPlan) {
    this.#plan = plan;
    this.#nextNumber = plan.firstNumber;
  }

  async add(batch: ColumnBatch): Promise<void> {
    const { fileSchema, partitionFields } = this.#plan;
    const encoded = encodeColumns(fileSchema.fields, batch.columns, batch.numRows);
    // Partition values are validated like any column; their JS form names the directory.
    encodeColumns(partitionFields, batch.columns, batch.numRows);
    if (partitionFields.length === 0) {
      await this.#buffer(this.#stateFor(""), (name) => encoded[name]!, batch.numRows);
    } else {
      for (const [directory, rowIndexes] of rowsByDirectory(partitionFields, batch)) {
        const rowsOf = (name: string) => {
          const source = encoded[name]!;
          return rowIndexes.map((row) => source[row]);
        };
        await this.#buffer(this.#stateFor(directory), rowsOf, rowIndexes.length);
      }
      await this.#writeFullestWhileOverBudget();
    }
    this.rows += batch.numRows;
  }

  /** Write what is buffered and finish every part; an empty table still gets one part with its schema. */
  async finish(): Promise<void> {
    for (const state of this.#partitions.values()) {
      await this.#flush(state, true);
      await this.#closeWriter(state);
    }
    if (this.written.length === 0) {
      const state = this.#stateFor("");
      await this.#openWriter(state);
      await this.#closeWriter(state);
    }
  }

  /** Abort the open parts and delete the finished ones. */
  async abort(error: unknown): Promise<void> {
    const failure = errors.aborted("table write failed", { cause: error });
    await Promise.all([...this.#openWriters].map((writer) => writer.abort(failure)));
    await this.#plan.storage.delete(this.written).catch(() => undefined);
  }

  async #buffer(state: PartitionState, rowsOf: (name: string) => unknown[], count: number): Promise<void> {
    for (const field of this.#plan.fileSchema.fields) state.buffer[field.name]!.push(rowsOf(field.name));
    state.buffered += count;
    this.#totalBuffered += count;
    await this.#flush(state, false);
  }

  /** Many partitions each holding a partial row group would hold the whole input: write the fullest. */
  async #writeFullestWhileOverBudget(): Promise<void> {
    const bufferBudget = 2 * this.#plan.rowGroupSize;
    while (this.#totalBuffered > bufferBudget) {
      let fullest: PartitionState | undefined;
      for (const state of this.#partitions.values())
        if (!fullest || state.buffered > fullest.buffered) fullest = state;
      await this.#flush(fullest!, true);
    }
  }

  /** Write full row groups (and with `force` the rest) of a partition's buffer. */
  async #flush(state: PartitionState, force: boolean): Promise<void> {
    const { fileSchema, rowGroupSize, maxRowsPerFile } = this.#plan;
    while (state.buffered >= rowGroupSize || (force && state.buffered > 0)) {
      const writer = state.writer ?? (await this.#openWriter(state));
      const take = Math.min(state.buffered, rowGroupSize, maxRowsPerFile - writer.rows);
      const group: Record<string, unknown[]> = {};
      for (const field of fileSchema.fields) {
        group[field.name] = state.buffer[field.name]!.take(take);
      }
      state.buffered -= take;
      this.#totalBuffered -= take;
      state.lastWrite = ++this.#writes;
      await writer.writeRows(group, take);
      if (writer.rows >= maxRowsPerFile) await this.#closeWriter(state);
    }
  }

  async #openWriter(state: PartitionState): Promise<PartWriter> {
    const { storage, fileSchema, schema, partWriterOptions } = this.#plan;
    if (this.#openWriters.size >= this.#plan.maxOpenFiles) await this.#closeLeastRecentlyWritten();
    const writer = await PartWriter.open(
      storage,
      this.#keyFor(state.directory),
      fileSchema,
      schema,
      partWriterOptions,
    );
    state.writer = writer;
    this.#openWriters.add(writer);
    return writer;
  }

  /** One file at the location itself, or numbered parts in its folder. */
  #keyFor(directory: string): string {
    const { path } = this.#plan;
    return isParquetFileKey(path) ? path : partKey(path, directory, this.#nextNumber++);
  }

  async #closeWriter(state: PartitionState): Promise<void> {
    const writer = state.writer;
    if (!writer) return;
    state.writer = undefined;
    await writer.finish();
    this.#openWriters.delete(writer);
    this.written.push(writer.path);
  }

  async #closeLeastRecentlyWritten(): Promise<void> {
    let oldest: PartitionState | undefined;
    for (const state of this.#partitions.values()) {
      if (state.writer && (!oldest || state.lastWrite < oldest.lastWrite)) oldest = state;
    }
    if (!oldest) return;
    await this.#flush(oldest, true);
    await this.#closeWriter(oldest);
  }

  #stateFor(directory: string): PartitionState {
    let state = this.#partitions.get(directory);
    if (!state) {
      state = {
        directory,
        writer: undefined,
        buffer: Object.fromEntries(this.#plan.fileSchema.fields.map((f) => [f.name, new ChunkQueue()])),
        buffered: 0,
        lastWrite: 0,
      };
      this.#partitions.set(directory, state);
    }
    return state;
  }
}

/** The batch's row indexes grouped by their partition directory (`col=value/...`), in first-seen order. */
function rowsByDirectory(partitionFields: readonly Field[], batch: ColumnBatch): Map<string, number[]> {
  const byDirectory = new Map<string, number[]>();
  for (let row = 0; row < batch.numRows; row++) {
    const directory = partitionFields
      .map((field: Field) => partitionSegment(field, batch.columns[field.name]![row]))
      .join("/");
    let list = byDirectory.get(directory);
    if (!list) {
      list = [];
      byDirectory.set(directory, list);
    }
    list.push(row);
  }
  return byDirectory;
}
