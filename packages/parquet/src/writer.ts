/**
 * Writing batches as a table folder. Rows are buffered per partition up to one row group, so memory
 * is bounded by rowGroupSize × open partitions. Overwrite removes the old parts only after every new
 * one is complete; a failed write removes what it wrote and leaves the old table as it was.
 */

import type { BatchSource, Field, Schema, Storage } from "@ferry/plugin-kit";
import { baseName, errors, joinKey, parentKey, throwIfAborted } from "@ferry/plugin-kit";
import { type FileMetaData, parquetMetadata } from "hyparquet";
import { isParquetFileKey, lastPartNumber, listParts, type PartFile, partKey, partNumber } from "./layout.ts";
import { describeType, fromParquetSchema, sameType, schemaFromKeyValue } from "./parquet-schema.ts";
import type { Codec } from "./part-writer.ts";
import { checkPartitionField } from "./partition.ts";
import { PartsWriter } from "./parts-writer.ts";
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
  const limits = writeLimits(options);
  const schema = source.schema;
  const columns = storedColumns(schema, options.partitionBy ?? []);
  const oldParts = await partsToReplace(storage, path, existing, schema, options);
  const parts = new PartsWriter({
    storage,
    path,
    schema,
    ...columns,
    ...limits,
    firstNumber: mode === "append" ? lastPartNumber(oldParts) + 1 : 0,
    partWriterOptions: {
      codec: options.codec ?? "SNAPPY",
      rowGroupSize: limits.rowGroupSize,
      pageSize: options.pageSize,
      signal: options.signal,
    },
  });
  await writeAllBatches(parts, source, existing.where, options.signal);
  if (mode === "overwrite" && oldParts.length > 0) {
    const keep = new Set(parts.written);
    await storage.delete(
      oldParts.map((p) => p.path).filter((p) => !keep.has(p)),
      { signal: options.signal },
    );
    await removeEmptyPartitionDirectories(storage, path, oldParts, options.signal);
  }
  const order = (key: string) => partNumber(baseName(key)) ?? 0;
  return { files: parts.written.sort((a, b) => order(a) - order(b)), rows: parts.rows, schema };
}

function writeLimits(options: WriteTableOptions) {
  return {
    rowGroupSize: positiveInteger(options.rowGroupSize, "rowGroupSize", 100_000),
    maxRowsPerFile: positiveInteger(options.maxRowsPerFile, "maxRowsPerFile", Number.MAX_SAFE_INTEGER),
    maxOpenFiles: positiveInteger(options.maxOpenFiles, "maxOpenFiles", 16),
  };
}

/** The partition columns (named in directories) and the schema of the columns stored in the files. */
function storedColumns(
  schema: Schema,
  partitionBy: readonly string[],
): { partitionFields: Field[]; fileSchema: Schema } {
  if (schema.fields.length === 0) {
    throw errors.invalidInput("a table needs at least one column (for data with no rows, give a schema)");
  }
  const names = new Set<string>();
  for (const field of schema.fields) {
    if (names.has(field.name))
      throw errors.invalidInput(`column "${field.name}" appears twice in the schema`);
    names.add(field.name);
  }
  const partitionFields = partitionBy.map((name) =>
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
  return {
    partitionFields,
    fileSchema: { fields: schema.fields.filter((f) => !partitionFields.includes(f)) },
  };
}

/** The table's current parts, once the write mode allows writing `schema` over or after them. */
async function partsToReplace(
  storage: Storage,
  path: string,
  existing: TableReader,
  schema: Schema,
  options: WriteTableOptions,
): Promise<PartFile[]> {
  const mode = options.mode ?? "overwrite";
  const oldParts = await existingParts(storage, path, existing.where, options);
  if (oldParts.length > 0 && mode === "error") {
    throw errors.alreadyExists(`a table already exists at ${existing.where}`, { path: existing.where });
  }
  if (oldParts.length > 0 && mode === "append")
    assertAppendable(await existing.schema(options.signal), schema, existing.where);
  return oldParts;
}

/** Every batch into `parts`; on failure or abort, nothing of this write is left behind. */
async function writeAllBatches(
  parts: PartsWriter,
  source: BatchSource,
  where: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  try {
    for await (const batch of source.batches) {
      throwIfAborted(signal, { path: where });
      await parts.add(batch);
    }
    await parts.finish();
  } catch (error) {
    await parts.abort(error);
    if (signal?.aborted)
      throw errors.aborted(`table write to ${where} aborted`, { cause: error, path: where });
    throw error;
  }
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
  const oldParts = await partsToReplace(storage, path, existing, schema, options);
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
