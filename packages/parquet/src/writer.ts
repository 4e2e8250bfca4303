/**
 * Writing batches as a table folder. Rows are buffered per partition up to one row group, so memory
 * is bounded by rowGroupSize × open partitions. Overwrite removes the old parts only after every new
 * one is complete; a failed write removes what it wrote and leaves the old table as it was.
 */

import type { BatchSource, ColumnBatch, Field, Schema, Storage } from "@ferry/plugin-kit";
import { baseName, errors, joinKey, parentKey, throwIfAborted } from "@ferry/plugin-kit";
import { type FileMetaData, parquetMetadata } from "hyparquet";
import { ChunkQueue } from "./concat.ts";
import { isParquetFileKey, lastPartNumber, listParts, type PartFile, partKey, partNumber } from "./layout.ts";
import { describeType, fromParquetSchema, sameType, schemaFromKeyValue } from "./parquet-schema.ts";
import { type Codec, encodeColumns, PartWriter } from "./part-writer.ts";
import { checkPartitionField, partitionSegment } from "./partition.ts";
import type { TableReader } from "./reader.ts";

export type WriteMode = "overwrite" | "append" | "error";

export interface WriteTableOptions {
  /** `overwrite` (default) replaces the table, `append` adds parts after the existing ones, `error` refuses to touch an existing table. */
  mode?: WriteMode | undefined;
  /** Hive-partition by these columns (`col=value/` directories). */
  partitionBy?: readonly string[] | undefined;
  /** Rows per row group: the unit of streaming reads, so the memory knob for readers. Default 100 000. */
  rowGroupSize?: number | undefined;
  /** Start a new part file after this many rows (default: one part per partition per write). */
  maxRowsPerFile?: number | undefined;
  /**
   * Part files open at once when partitioning (default 16). Past it the least recently written
   * partition's part is finished; its later rows go to a new part, so order is kept.
   */
  maxOpenFiles?: number | undefined;
  /** Compression codec. Default SNAPPY. */
  codec?: Codec | undefined;
  /** Target data page size in bytes (default 1 MiB). */
  pageSize?: number | undefined;
  signal?: AbortSignal | undefined;
}

export interface WriteResult {
  /** Keys of the part files written, in order. */
  files: string[];
  rows: number;
  schema: Schema;
}

interface PartitionState {
  directory: string;
  writer: PartWriter | undefined;
  buffer: Record<string, ChunkQueue>;
  buffered: number;
  /** When its writer last took rows (for closing the least recently used one). */
  lastWrite: number;
}

/**
 * The parts a write replaces or appends to. A location ending in `.parquet` is one file (and never
 * a folder of parts); any other location is a folder (and never a single parquet file).
 */
async function existingParts(
  storage: Storage,
  path: string,
  where: string,
  options: WriteTableOptions,
): Promise<PartFile[]> {
  const parts = await listParts(storage, path, options.signal);
  const oneFile = parts.length === 1 && parts[0]!.relative === "";
  if (!isParquetFileKey(path)) {
    if (oneFile)
      throw errors.invalidInput(
        `${where} is a parquet file, not a table folder: write the table to a folder`,
        {
          path: where,
        },
      );
    return parts;
  }
  if (parts.length > 0 && !oneFile)
    throw errors.invalidInput(
      `${where} is a folder of parquet files: a table written to a path ending in .parquet is one file, so give the folder a name without .parquet`,
      { path: where },
    );
  for (const option of ["partitionBy", "maxRowsPerFile"] as const) {
    const value = options[option];
    if (value !== undefined && (!Array.isArray(value) || value.length > 0))
      throw errors.invalidInput(
        `${option} writes several files, which needs a table folder: ${where} ends in .parquet and is one file`,
        { path: where },
      );
  }
  if (oneFile && options.mode === "append")
    throw errors.invalidInput(
      `cannot append to ${where}: it is one parquet file (write to a table folder to append parts)`,
      { path: where },
    );
  return parts;
}

export function positiveInteger(value: number | undefined, name: string, fallback: number): number {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n < 1)
    throw errors.invalidInput(`${name} must be a positive integer, got ${value}`);
  return n;
}

/**
 * What `append` requires: every column of the table, with the same type (field metadata aside). New
 * columns are welcome when nullable — the schema evolves and older parts read them as null.
 */
function assertAppendable(existing: Schema, incoming: Schema, where: string): void {
  const problems: string[] = [];
  for (const field of existing.fields) {
    const given = incoming.fields.find((f) => f.name === field.name);
    if (!given) problems.push(`column "${field.name}" is missing from the data`);
    else if (!sameType(field.type, given.type))
      problems.push(
        `column "${field.name}" is ${describeType(field.type)} in the table but ${describeType(given.type)} in the data`,
      );
  }
  for (const field of incoming.fields) {
    if (!field.nullable && !existing.fields.some((f) => f.name === field.name))
      problems.push(
        `new column "${field.name}" is not nullable, and the table's earlier rows have no value for it`,
      );
  }
  if (problems.length > 0) {
    const describe = (s: Schema) => s.fields.map((f) => `${f.name}: ${describeType(f.type)}`).join(", ");
    throw errors.invalidInput(
      `cannot append to ${where}: ${problems.join("; ")} (the table is (${describe(existing)}), the data (${describe(incoming)}))`,
    );
  }
}

export async function writeTable(
  storage: Storage,
  path: string,
  source: BatchSource,
  existing: TableReader,
  options: WriteTableOptions = {},
): Promise<WriteResult> {
  const mode = options.mode ?? "overwrite";
  const rowGroupSize = positiveInteger(options.rowGroupSize, "rowGroupSize", 100_000);
  const maxRowsPerFile = positiveInteger(options.maxRowsPerFile, "maxRowsPerFile", Number.MAX_SAFE_INTEGER);
  const maxOpenFiles = positiveInteger(options.maxOpenFiles, "maxOpenFiles", 16);
  // Rows buffered across all partitions; past it the fullest buffer is written as a (smaller) row group.
  const bufferBudget = 2 * rowGroupSize;
  const schema = source.schema;
  if (schema.fields.length === 0) {
    throw errors.invalidInput("a table needs at least one column (for data with no rows, give a schema)");
  }
  const names = new Set<string>();
  for (const field of schema.fields) {
    if (names.has(field.name))
      throw errors.invalidInput(`column "${field.name}" appears twice in the schema`);
    names.add(field.name);
  }
  const partitionFields = (options.partitionBy ?? []).map((name) =>
    checkPartitionField(
      schema.fields.find((f) => f.name === name),
      name,
    ),
  );
  if (partitionFields.length === schema.fields.length && partitionFields.length > 0) {
    throw errors.invalidInput(
      "every column is a partition column: at least one column must be stored in the files",
    );
  }
  const fileSchema: Schema = { fields: schema.fields.filter((f) => !partitionFields.includes(f)) };

  const oldParts = await existingParts(storage, path, existing.where, options);
  if (oldParts.length > 0 && mode === "error") {
    throw errors.alreadyExists(`a table already exists at ${existing.where}`, { path: existing.where });
  }
  if (oldParts.length > 0 && mode === "append")
    assertAppendable(await existing.schema(options.signal), schema, existing.where);
  let nextNumber = mode === "append" ? lastPartNumber(oldParts) + 1 : 0;
  // One file at the location itself, or numbered parts in its folder.
  const keyFor = (directory: string) =>
    isParquetFileKey(path) ? path : partKey(path, directory, nextNumber++);

  const partitions = new Map<string, PartitionState>();
  const written: string[] = [];
  const openWriters = new Set<PartWriter>();
  let rows = 0;

  const partWriterOptions = {
    codec: options.codec ?? "SNAPPY",
    rowGroupSize,
    pageSize: options.pageSize,
    signal: options.signal,
  };

  let writes = 0;
  let totalBuffered = 0;

  const flush = async (state: PartitionState, force: boolean): Promise<void> => {
    while (state.buffered >= rowGroupSize || (force && state.buffered > 0)) {
      if (!state.writer) {
        if (openWriters.size >= maxOpenFiles) await closeLeastRecentlyWritten();
        state.writer = await PartWriter.open(
          storage,
          keyFor(state.directory),
          fileSchema,
          schema,
          partWriterOptions,
        );
        openWriters.add(state.writer);
      }
      const room = maxRowsPerFile - state.writer.rows;
      const take = Math.min(state.buffered, rowGroupSize, room);
      const group: Record<string, unknown[]> = {};
      for (const field of fileSchema.fields) {
        group[field.name] = state.buffer[field.name]!.take(take);
      }
      state.buffered -= take;
      totalBuffered -= take;
      state.lastWrite = ++writes;
      await state.writer.writeRows(group, take);
      if (state.writer.rows >= maxRowsPerFile) await closeWriter(state);
    }
  };

  const closeWriter = async (state: PartitionState): Promise<void> => {
    const writer = state.writer;
    if (!writer) return;
    state.writer = undefined;
    await writer.finish();
    openWriters.delete(writer);
    written.push(writer.path);
  };

  const closeLeastRecentlyWritten = async (): Promise<void> => {
    let oldest: PartitionState | undefined;
    for (const state of partitions.values()) {
      if (state.writer && (!oldest || state.lastWrite < oldest.lastWrite)) oldest = state;
    }
    if (!oldest) return;
    await flush(oldest, true);
    await closeWriter(oldest);
  };

  const stateFor = (directory: string): PartitionState => {
    let state = partitions.get(directory);
    if (!state) {
      state = {
        directory,
        writer: undefined,
        buffer: Object.fromEntries(fileSchema.fields.map((f) => [f.name, new ChunkQueue()])),
        buffered: 0,
        lastWrite: 0,
      };
      partitions.set(directory, state);
    }
    return state;
  };

  const addBatch = async (batch: ColumnBatch): Promise<void> => {
    const encoded = encodeColumns(fileSchema.fields, batch.columns, batch.numRows);
    // Partition values are validated like any column; their JS form names the directory.
    encodeColumns(partitionFields, batch.columns, batch.numRows);
    if (partitionFields.length === 0) {
      const state = stateFor("");
      for (const field of fileSchema.fields) {
        state.buffer[field.name]!.push(encoded[field.name]!);
      }
      state.buffered += batch.numRows;
      totalBuffered += batch.numRows;
      await flush(state, false);
    } else {
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
      for (const [directory, rowIndexes] of byDirectory) {
        const state = stateFor(directory);
        for (const field of fileSchema.fields) {
          const source = encoded[field.name]!;
          state.buffer[field.name]!.push(rowIndexes.map((row) => source[row]));
        }
        state.buffered += rowIndexes.length;
        totalBuffered += rowIndexes.length;
        await flush(state, false);
      }
      // Many partitions each holding a partial row group would hold the whole input: write the fullest.
      while (totalBuffered > bufferBudget) {
        let fullest: PartitionState | undefined;
        for (const state of partitions.values())
          if (!fullest || state.buffered > fullest.buffered) fullest = state;
        await flush(fullest!, true);
      }
    }
    rows += batch.numRows;
  };

  try {
    for await (const batch of source.batches) {
      throwIfAborted(options.signal, { path: existing.where });
      await addBatch(batch);
    }
    for (const state of partitions.values()) {
      await flush(state, true);
      await closeWriter(state);
    }
    if (written.length === 0) {
      // An empty table is still a table: one part with no rows keeps its schema readable.
      const state = stateFor("");
      state.writer = await PartWriter.open(storage, keyFor(""), fileSchema, schema, partWriterOptions);
      openWriters.add(state.writer);
      await closeWriter(state);
    }
  } catch (error) {
    const failure = errors.aborted("table write failed", { cause: error });
    await Promise.all([...openWriters].map((writer) => writer.abort(failure)));
    await storage.delete(written).catch(() => undefined);
    if (options.signal?.aborted)
      throw errors.aborted(`table write to ${existing.where} aborted`, {
        cause: error,
        path: existing.where,
      });
    throw error;
  }

  if (mode === "overwrite" && oldParts.length > 0) {
    const keep = new Set(written);
    await storage.delete(
      oldParts.map((p) => p.path).filter((p) => !keep.has(p)),
      { signal: options.signal },
    );
    await removeEmptyPartitionDirectories(storage, path, oldParts, options.signal);
  }
  const order = (key: string) => partNumber(baseName(key)) ?? 0;
  return { files: written.sort((a, b) => order(a) - order(b)), rows, schema };
}

/**
 * On systems with real directories, partition directories an overwrite emptied would linger (object
 * stores drop them by themselves): remove the ones that hold nothing any more, deepest first.
 */
async function removeEmptyPartitionDirectories(
  storage: Storage,
  tablePath: string,
  oldParts: readonly PartFile[],
  signal?: AbortSignal,
): Promise<void> {
  if (storage.capabilities.directories !== "real") return;
  const directories = new Set<string>();
  for (const part of oldParts) {
    for (let dir = parentKey(part.relative); dir !== ""; dir = parentKey(dir))
      directories.add(joinKey(tablePath, dir));
  }
  const deepestFirst = [...directories].sort((a, b) => b.split("/").length - a.split("/").length);
  for (const dir of deepestFirst) {
    const listing = storage.list(dir, { limit: 1, signal })[Symbol.asyncIterator]();
    const first = await listing.next();
    await listing.return?.();
    if (first.done) await storage.deleteDirectory(dir, { signal });
  }
}

/**
 * Store one parquet file a flavour encoded itself (its library's native writer) as the table's part,
 * with the same modes: overwrite removes old parts after the new one is written, append continues the
 * numbering after checking the schema, error refuses an existing table.
 */
export async function writeEncodedPart(
  storage: Storage,
  path: string,
  bytes: Uint8Array,
  existing: TableReader,
  options: WriteTableOptions = {},
): Promise<WriteResult> {
  const mode = options.mode ?? "overwrite";
  let metadata: FileMetaData;
  try {
    metadata = parquetMetadata(bytes);
  } catch (error) {
    throw errors.invalidInput(
      `the flavour's parquet encoder produced an unreadable file (${(error as Error).message})`,
      { cause: error },
    );
  }
  const schema = schemaFromKeyValue(metadata) ?? fromParquetSchema(metadata, existing.where);
  const oldParts = await existingParts(storage, path, existing.where, options);
  if (oldParts.length > 0 && mode === "error") {
    throw errors.alreadyExists(`a table already exists at ${existing.where}`, { path: existing.where });
  }
  if (oldParts.length > 0 && mode === "append")
    assertAppendable(await existing.schema(options.signal), schema, existing.where);
  const key = isParquetFileKey(path)
    ? path
    : partKey(path, "", mode === "append" ? lastPartNumber(oldParts) + 1 : 0);
  await storage.write(key, bytes, {
    signal: options.signal,
    size: bytes.byteLength,
    contentType: "application/vnd.apache.parquet",
  });
  const replaced = oldParts.map((p) => p.path).filter((p) => p !== key);
  if (mode === "overwrite" && replaced.length > 0) await storage.delete(replaced, { signal: options.signal });
  return { files: [key], rows: Number(metadata.num_rows), schema };
}
