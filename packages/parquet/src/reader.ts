/**
 * Reading a table folder: its schema (from the newest footer and the partition directories), its row
 * count (footers only), and its rows as batches of exactly `batchSize`, one row group in memory at a
 * time, optionally shuffled reproducibly (row-group order, then a bounded shuffle buffer).
 */

import type { ColumnBatch, DataType, Field, Schema, Storage } from "@ferry/plugin-kit";
import { errors, throwIfAborted } from "@ferry/plugin-kit";
import pLimit from "p-limit";
import { rowGroupBuffers } from "./buffer-pool.ts";
import {
  type ColumnarGroup,
  type ColumnVector,
  columnValues,
  readColumnarGroup,
  readValueGroup,
  valuesColumn,
} from "./columnar.ts";
import { concatChunks } from "./concat.ts";
import {
  type CompiledFilter,
  compileFilter,
  exactRange,
  extraColumns,
  type Filter,
  keyOfValue,
  matchingRows,
  mayMatch,
  type Range,
} from "./filter.ts";
import { type BloomCache, groupMayMatch } from "./filter-stats.ts";
import { listParts, type PartFile } from "./layout.ts";
import { candidateRows, type PageIndexCache, type RowRanges, rowCount } from "./page-index.ts";
import { readRowRanges } from "./page-read.ts";
import { describeType, keyValueMetadata, sameType, schemaFromKeyValue } from "./parquet-schema.ts";
import { DEFAULT_MAX_PAGE_EXPANSION, type OpenPart, openPart, type ReadStats } from "./part-reader.ts";
import { inferPartitionType, parsePartitionValue, partitionPairs } from "./partition.ts";
import { createRandom, shuffleInPlace } from "./random.ts";
import { pickFields } from "./select.ts";
import { takeValues, takeVector } from "./take.ts";

/** Footer reads in flight at once for count() and shuffled streams. */
const FOOTER_CONCURRENCY = 8;

export interface ShuffleOptions {
  /** Same seed, same order. */
  seed: number | string;
  /** Rows held for the shuffle (memory ≈ bufferSize rows). Default: max(10 × batchSize, 10 000). */
  bufferSize?: number | undefined;
}

export interface StreamOptions {
  /** Rows per batch; every batch has exactly this many except possibly the last. Default 1024. */
  batchSize?: number | undefined;
  /** Columns to read, in this order (default: all). */
  columns?: readonly string[] | undefined;
  /**
   * Only the rows this keeps (see Filter). Parts in Hive partitions it rules out are not opened, row
   * groups whose statistics or bloom filters rule it out are not fetched.
   */
  filter?: Filter | undefined;
  shuffle?: ShuffleOptions | undefined;
  /** Drop a last batch shorter than batchSize. */
  dropLast?: boolean | undefined;
  /**
   * Row groups read ahead while the current one is consumed (0 reads strictly one at a time). Memory
   * is about (1 + prefetch) row groups. Default: 1, but only while the row groups in flight hold at
   * most READ_AHEAD_BYTES (16 MiB) of compressed data: a bigger row group is read alone.
   */
  prefetch?: number | undefined;
  signal?: AbortSignal | undefined;
}

export interface ReaderOptions {
  /**
   * A data page may decompress to at most this many times its compressed size (pages up to 64 MiB
   * always may); past it the read is refused as InvalidInput, a decompression bomb. Default 1000.
   */
  maxPageExpansion?: number | undefined;
}

export interface ResolvedSchema {
  schema: Schema;
  /** Names of the columns that come from `col=value/` directories. */
  partitionColumns: string[];
}

/** Decoded columns of one unit of reading (a row group, an Arrow record batch). */
export interface Group {
  columns: Record<string, unknown[]>;
  rows: number;
}

/** How one row group's file columns are decoded: as JS values, or in columnar form. */
interface GroupDecoder<C> {
  read(
    open: OpenPart,
    groupIndex: number,
    fields: readonly Field[],
    where: string,
    maxPageExpansion: number,
    /** Whether row groups may be decoded on worker threads (codec-threads.ts): whole reads, not streams. */
    threads: boolean,
  ): Promise<Record<string, C>>;
  /** A column of `rows` copies of `value` (partition values, nulls of a column a part lacks). */
  fill(value: unknown, rows: number): C;
  /** The column's JS values (what a filter compares). */
  values(field: Field, column: C): readonly unknown[];
  /** Columns read in columnar form (some rows of a row group, by the page index) in this decoder's form. */
  fromVectors(fields: readonly Field[], vectors: Record<string, ColumnVector>): Record<string, C>;
  /** The rows at these ascending indexes. */
  take(column: C, rows: Uint32Array): C;
}

/** What a read returns (`fields`), what it decodes for that (`read`: and the filter's columns), and the filter. */
interface Selection {
  fields: readonly Field[];
  read: readonly Field[];
  filter: CompiledFilter | undefined;
}

/**
 * JS values, decoded through the columnar path (fewer and shorter-lived intermediate objects than
 * hyparquet's values: faster, and streaming holds less memory) where it covers the column.
 */
const VALUES: GroupDecoder<unknown[]> = {
  read: readValueGroup,
  fill: (value, rows) => new Array(rows).fill(value),
  values: (_field, column) => column,
  take: takeValues,
  fromVectors: (fields, vectors) =>
    Object.fromEntries(fields.map((f) => [f.name, columnValues(f.type, vectors[f.name]!)])),
};

const COLUMNAR: GroupDecoder<ColumnVector> = {
  read: (open, g, fields, where, max, threads) =>
    readColumnarGroup(open, g, fields, where, max, undefined, threads),
  fill: (value, rows) => valuesColumn(new Array(rows).fill(value)),
  values: (field, column) => columnValues(field.type, column),
  take: takeVector,
  fromVectors: (_fields, vectors) => vectors,
};

/** Compatible when the values decode the same way: timestamp s and ms are both Date, timezone is a label. */
function compatible(stored: DataType, file: DataType): boolean {
  // A duration is stored as a plain INT64 count (its unit lives in ferry.schema).
  if (stored.type === "duration") return file.type === "int" && file.bits === 64 && file.signed;
  if (stored.type === "timestamp" && file.type === "timestamp") {
    const unit = (u: string) => (u === "s" ? "ms" : u);
    return unit(stored.unit) === unit(file.unit);
  }
  if (stored.type === "list" && file.type === "list") return compatible(stored.item.type, file.item.type);
  if (stored.type === "struct" && file.type === "struct") {
    return (
      stored.fields.length === file.fields.length &&
      stored.fields.every(
        (f, i) => f.name === file.fields[i]!.name && compatible(f.type, file.fields[i]!.type),
      )
    );
  }
  return sameType(stored, file);
}

export class TableReader {
  readonly storage: Storage;
  readonly path: string;
  /** Display location used in error messages. */
  readonly where: string;
  /** Bytes fetched so far by this reader. */
  readonly stats: ReadStats = { bytesRead: 0, requests: 0, largestRead: 0 };
  #parts: Promise<PartFile[]> | undefined;
  readonly #open = new Map<string, Promise<OpenPart>>();
  #schema: Promise<ResolvedSchema> | undefined;

  readonly #maxPageExpansion: number;

  /** `parts`: read exactly these files (in this order) instead of listing the folder at `path`. */
  constructor(
    storage: Storage,
    path: string,
    where: string,
    parts?: readonly PartFile[],
    options: ReaderOptions = {},
  ) {
    this.storage = storage;
    this.path = path;
    this.where = where;
    if (parts) this.#parts = Promise.resolve([...parts]);
    const limit = options.maxPageExpansion ?? DEFAULT_MAX_PAGE_EXPANSION;
    if (!(limit >= 1))
      throw errors.invalidInput(`maxPageExpansion must be a number of at least 1, got ${limit}`);
    this.#maxPageExpansion = limit;
  }

  parts(signal?: AbortSignal): Promise<PartFile[]> {
    this.#parts ??= listParts(this.storage, this.path, signal);
    return this.#parts;
  }

  #whereOf(part: PartFile): string {
    return part.relative === "" ? this.where : `${this.where.replace(/\/$/, "")}/${part.relative}`;
  }

  open(part: PartFile, signal?: AbortSignal): Promise<OpenPart> {
    let pending = this.#open.get(part.path);
    if (!pending) {
      pending = openPart(this.storage, part, this.#whereOf(part), signal, this.stats);
      this.#open.set(part.path, pending);
    }
    return pending;
  }

  /** Footers of many parts, a few requests in flight at once (remote tables can have thousands of parts). */
  #openAll(parts: readonly PartFile[], signal?: AbortSignal): Promise<OpenPart[]> {
    const limit = pLimit(FOOTER_CONCURRENCY);
    return Promise.all(parts.map((part) => limit(() => this.open(part, signal))));
  }

  async #requireParts(signal?: AbortSignal): Promise<PartFile[]> {
    const parts = await this.parts(signal);
    if (parts.length === 0)
      throw errors.notFound(`no table at ${this.where} (no parquet files there)`, { path: this.where });
    return parts;
  }

  resolveSchema(signal?: AbortSignal): Promise<ResolvedSchema> {
    this.#schema ??= (async () => {
      const parts = await this.#requireParts(signal);
      // The newest part defines the schema: columns added later read as nulls in older parts.
      const newest = await this.open(parts.at(-1)!, signal);
      const partitionValues = new Map<string, string[]>();
      for (const part of parts) {
        for (const [name, raw] of partitionPairs(part.relative)) {
          let list = partitionValues.get(name);
          if (!list) {
            list = [];
            partitionValues.set(name, list);
          }
          list.push(raw);
        }
      }
      const partitionColumns = [...partitionValues.keys()].filter(
        (name) => !newest.fileSchema.fields.some((f) => f.name === name),
      );
      const stored = schemaFromKeyValue(newest.metadata);
      if (stored && this.#storedSchemaFits(stored, newest, partitionColumns))
        return { schema: stored, partitionColumns };
      const fields: Field[] = [...newest.fileSchema.fields];
      for (const name of partitionColumns)
        fields.push({ name, type: inferPartitionType(partitionValues.get(name)!), nullable: true });
      // Another writer's metadata (a `huggingface` key from `datasets`) reaches the flavour.
      const metadata = keyValueMetadata(newest.metadata);
      return { schema: { fields, ...(metadata ? { metadata } : {}) }, partitionColumns };
    })();
    return this.#schema;
  }

  #storedSchemaFits(stored: Schema, part: OpenPart, partitionColumns: readonly string[]): boolean {
    const dataFields = stored.fields.filter((f) => !partitionColumns.includes(f.name));
    if (dataFields.length !== part.fileSchema.fields.length) return false;
    if (partitionColumns.some((name) => !stored.fields.some((f) => f.name === name))) return false;
    return dataFields.every((field) => {
      const inFile = part.fileSchema.fields.find((f) => f.name === field.name);
      return inFile !== undefined && compatible(field.type, inFile.type);
    });
  }

  async schema(signal?: AbortSignal): Promise<Schema> {
    return (await this.resolveSchema(signal)).schema;
  }

  /**
   * Row count from the footers alone (no data pages are read). Every part must fit the table's schema,
   * as fetch() requires: a count never includes rows that reading would refuse.
   */
  async count(signal?: AbortSignal, filter?: Filter): Promise<number> {
    if (filter !== undefined) return this.#countMatching(filter, signal);
    const parts = await this.#requireParts(signal);
    const { schema, partitionColumns } = await this.resolveSchema(signal);
    let total = 0;
    for (const open of await this.#openAll(parts, signal)) {
      this.#columnsIn(open, schema.fields, partitionColumns);
      total += open.numRows;
    }
    return total;
  }

  /** Rows the filter keeps: only the filter's columns are decoded, and only where it could match. */
  async #countMatching(filter: Filter, signal?: AbortSignal): Promise<number> {
    const { schema, partitionColumns } = await this.resolveSchema(signal);
    const selection = this.#select(schema, [], filter);
    let total = 0;
    for await (const group of this.#groups(selection, schema, partitionColumns, { signal }))
      total += group.rows;
    return total;
  }

  #select(schema: Schema, columns: readonly string[] | undefined, filter: Filter | undefined): Selection {
    const fields = this.#selectFields(schema, columns);
    const compiled = filter === undefined ? undefined : compileFilter(filter, schema);
    return { fields, read: [...fields, ...extraColumns(compiled, fields, schema)], filter: compiled };
  }

  #selectFields(schema: Schema, columns: readonly string[] | undefined): Field[] {
    return pickFields(
      schema,
      columns,
      (name, available) => `column "${name}" is not in the table at ${this.where} (columns: ${available})`,
    );
  }

  /**
   * Which of `fields` a part stores and which it lacks (read as nulls); refuses a part whose columns
   * do not fit the table's schema, naming the part and the column.
   */
  #columnsIn(
    open: OpenPart,
    fields: readonly Field[],
    partitionColumns: readonly string[],
  ): { fileColumns: Field[]; absent: string[] } {
    const where = this.#whereOf(open.part);
    const fileColumns: Field[] = [];
    const absent: string[] = [];
    for (const field of fields) {
      if (partitionColumns.includes(field.name)) continue;
      const inFile = open.fileSchema.fields.find((f) => f.name === field.name);
      if (!inFile) {
        // A part written before a nullable column was added reads as nulls there (schema evolution).
        if (!field.nullable)
          throw errors.invalidInput(
            `${where}: non-nullable column "${field.name}" is missing from this part`,
          );
        absent.push(field.name);
        continue;
      }
      if (!compatible(field.type, inFile.type)) {
        throw errors.invalidInput(
          `${where}: column "${field.name}" is ${describeType(inFile.type)} here but ${describeType(field.type)} in the table`,
        );
      }
      fileColumns.push(field);
    }
    return { fileColumns, absent };
  }

  /** One row group of one part, with partition columns filled in from its directory. */
  async #readGroup<C>(
    open: OpenPart,
    groupIndex: number,
    fields: readonly Field[],
    partitionColumns: readonly string[],
    decoder: GroupDecoder<C>,
    pages: { ranges: RowRanges; cache: PageIndexCache } | undefined,
    threads: boolean,
  ): Promise<{ columns: Record<string, C>; rows: number }> {
    const where = this.#whereOf(open.part);
    const { fileColumns, absent } = this.#columnsIn(open, fields, partitionColumns);
    for (const field of fileColumns) {
      const type = open.fileSchema.fields.find((f) => f.name === field.name)!.type;
      if (type.type === "unreadable")
        throw errors.unsupported(
          `${where}: column ${JSON.stringify(field.name)} cannot be read: ${type.reason}`,
        );
    }
    // With row ranges (a filter and a page index), only the pages holding them are read.
    const rows = pages ? rowCount(pages.ranges) : (open.rowGroups[groupIndex] ?? 0);
    const max = this.#maxPageExpansion;
    const columns = pages
      ? decoder.fromVectors(
          fileColumns,
          await readRowRanges(open, groupIndex, fileColumns, pages.ranges, where, max, pages.cache),
        )
      : await decoder.read(open, groupIndex, fileColumns, where, max, threads);
    for (const name of absent) columns[name] = decoder.fill(null, rows);
    const pairs = new Map(partitionPairs(open.part.relative));
    for (const field of fields) {
      if (!partitionColumns.includes(field.name)) continue;
      const raw = pairs.get(field.name);
      const value = raw === undefined ? null : parsePartitionValue(raw, field.type, field.name);
      columns[field.name] = decoder.fill(value, rows);
    }
    return { columns, rows };
  }

  /**
   * The rows of `selection` one row group at a time. With a filter: parts whose partition values rule
   * it out are never opened, row groups whose statistics or bloom filters rule it out never fetched,
   * and the rest keep only the rows it keeps.
   */
  async *#groups<C = unknown[]>(
    selection: Selection,
    schema: Schema,
    partitionColumns: readonly string[],
    options: StreamOptions,
    decoder: GroupDecoder<C> = VALUES as unknown as GroupDecoder<C>,
    threads = false,
  ): AsyncGenerator<{ columns: Record<string, C>; rows: number }> {
    const ahead = readAhead(options.prefetch, selection.read);
    // A whole read holds every row group anyway: more in flight keep the decoding threads busy.
    if (threads && options.prefetch === undefined) {
      ahead.count = WHOLE_READ_AHEAD;
      ahead.bytes = WHOLE_READ_AHEAD * READ_AHEAD_BYTES;
    }
    const { filter } = selection;
    const partitions = (part: PartFile) => partitionRanges(part, schema, partitionColumns, filter);
    const parts = (await this.#requireParts(options.signal)).filter(
      (part) => !filter || mayMatch(filter, partitions(part)),
    );
    const blooms: BloomCache = new Map();
    const cache: PageIndexCache = new Map();
    // Rows of a row group the page index leaves (by part and group); none recorded: the whole group.
    const candidates = new Map<string, RowRanges>();
    const unitKey = (open: OpenPart, g: number) => `${open.part.path}\u0000${g}`;
    const wanted = async (open: OpenPart, g: number): Promise<boolean> => {
      if (!filter) return true;
      if (!(await groupMayMatch(filter, open, g, partitions(open.part), blooms))) return false;
      const ranges = await candidateRows(filter, open, g, partitions(open.part), cache);
      if (ranges) candidates.set(unitKey(open, g), ranges);
      return ranges === undefined || ranges.length > 0;
    };
    const read = async ([open, g]: readonly [OpenPart, number]) => {
      const ranges = candidates.get(unitKey(open, g));
      const pages = ranges && { ranges, cache };
      const group = await this.#readGroup(open, g, selection.read, partitionColumns, decoder, pages, threads);
      return keepRows(group, selection, decoder);
    };
    if (!options.shuffle) {
      const reader = this;
      const inOrder = async function* (): AsyncGenerator<readonly [OpenPart, number]> {
        for (const part of parts) {
          const open = await reader.open(part, options.signal);
          for (let g = 0; g < open.rowGroups.length; g++) if (await wanted(open, g)) yield [open, g] as const;
        }
      };
      yield* prefetched(inOrder(), read, ahead);
      return;
    }
    const opened = await this.#openAll(parts, options.signal);
    const all = opened.flatMap((open) => open.rowGroups.map((_, g) => [open, g] as const));
    const units: (readonly [OpenPart, number])[] = [];
    for (const unit of all) if (await wanted(...unit)) units.push(unit);
    shuffleInPlace(units, createRandom(`${options.shuffle.seed}:groups`));
    yield* prefetched(units, read, ahead);
  }

  /** Batches of exactly `batchSize` rows (the last may be short unless `dropLast`). */
  async *stream(options: StreamOptions = {}): AsyncGenerator<ColumnBatch> {
    const batchSize = options.batchSize ?? 1024;
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw errors.invalidInput(`batchSize must be a positive integer, got ${batchSize}`);
    const { schema: tableSchema, partitionColumns } = await this.resolveSchema(options.signal);
    const selection = this.#select(tableSchema, options.columns, options.filter);
    const { fields } = selection;
    const schema: Schema = { fields, ...(tableSchema.metadata ? { metadata: tableSchema.metadata } : {}) };
    const groups = this.#groups(selection, tableSchema, partitionColumns, options);
    const batches = options.shuffle
      ? shuffledBatches(groups, fields, batchSize, options.shuffle)
      : orderedBatches(groups, fields, batchSize);
    for await (const columns of batches) {
      const numRows = columns[fields[0]?.name ?? ""]?.length ?? 0;
      if (numRows < batchSize && options.dropLast) return;
      yield { schema, columns, numRows };
      throwIfAborted(options.signal, { path: this.where });
    }
  }

  /**
   * Row groups in order, in columnar form (typed arrays, offsets and bytes, validity bitmaps: see
   * columnar.ts), one per row group of each part; what the columnar path does not decode comes as values.
   */
  async columnar(
    options: Pick<StreamOptions, "columns" | "filter" | "prefetch" | "signal"> = {},
  ): Promise<{ schema: Schema; groups: AsyncGenerator<ColumnarGroup> }> {
    const { schema: tableSchema, partitionColumns } = await this.resolveSchema(options.signal);
    const selection = this.#select(tableSchema, options.columns, options.filter);
    const { fields } = selection;
    const schema: Schema = { fields, ...(tableSchema.metadata ? { metadata: tableSchema.metadata } : {}) };
    const groups = this.#groups(selection, tableSchema, partitionColumns, options, COLUMNAR, true);
    return { schema, groups };
  }

  /** Every row (of the selected columns) in one batch: the caller asked for the whole table in memory. */
  async fetch(options: Pick<StreamOptions, "columns" | "filter" | "signal"> = {}): Promise<ColumnBatch> {
    const { schema: tableSchema, partitionColumns } = await this.resolveSchema(options.signal);
    const selection = this.#select(tableSchema, options.columns, options.filter);
    const { fields } = selection;
    const groups: Group[] = [];
    let numRows = 0;
    const decoded = this.#groups(selection, tableSchema, partitionColumns, options, VALUES, true);
    for await (const group of decoded) {
      groups.push(group);
      numRows += group.rows;
    }
    const columns: Record<string, unknown[]> = Object.fromEntries(
      fields.map((f) => [f.name, concatChunks(groups.map((group) => group.columns[f.name]))]),
    );
    return {
      schema: { fields, ...(tableSchema.metadata ? { metadata: tableSchema.metadata } : {}) },
      columns,
      numRows,
    };
  }
}

/** Exact ranges of the filter's partition columns for one part (its `col=value/` directories). */
function partitionRanges(
  part: PartFile,
  schema: Schema,
  partitionColumns: readonly string[],
  filter: CompiledFilter | undefined,
): (column: string) => Range | undefined {
  if (!filter || partitionColumns.length === 0) return () => undefined;
  const pairs = new Map(partitionPairs(part.relative));
  return (column) => {
    if (!partitionColumns.includes(column)) return undefined;
    const field = schema.fields.find((f) => f.name === column)!;
    const raw = pairs.get(column);
    const value = raw === undefined ? null : parsePartitionValue(raw, field.type, column);
    return exactRange(keyOfValue(filter, column, value));
  };
}

/** The rows the filter keeps, in the selected columns only (the filter's own columns dropped). */
function keepRows<C>(
  group: { columns: Record<string, C>; rows: number },
  selection: Selection,
  decoder: GroupDecoder<C>,
): { columns: Record<string, C>; rows: number } {
  const { filter, fields, read } = selection;
  if (!filter && read.length === fields.length) return group;
  const columns: Record<string, C> = {};
  if (!filter) {
    for (const field of fields) columns[field.name] = group.columns[field.name]!;
    return { columns, rows: group.rows };
  }
  const kept = matchingRows(
    filter,
    (name) => decoder.values(read.find((f) => f.name === name)!, group.columns[name]!),
    group.rows,
  );
  for (const field of fields) {
    const column = group.columns[field.name]!;
    columns[field.name] = kept.length === group.rows ? column : decoder.take(column, kept);
  }
  return { columns, rows: kept.length };
}

/**
 * Without a `prefetch` option, row groups are read ahead only while those in flight hold at most this
 * many compressed bytes of the selected columns: a bigger row group is read alone (each one in flight
 * costs about three times its compressed size: its fetched bytes, its decoded bytes, its values).
 */
export const READ_AHEAD_BYTES = 16 * 1024 * 1024;

/** Row groups in flight in a whole read (fetch, columnar) when no `prefetch` is given (and 4 × 16 MiB of them at most). */
const WHOLE_READ_AHEAD = 4;

/** How far to read ahead: `count` row groups, and only while the groups in flight fit `bytes`. */
interface ReadAhead {
  count: number;
  bytes: number;
  size: (unit: readonly [OpenPart, number]) => number;
}

function readAhead(prefetch: number | undefined, fields: readonly Field[]): ReadAhead {
  if (prefetch !== undefined && (!Number.isInteger(prefetch) || prefetch < 0))
    throw errors.invalidInput(`prefetch must be 0 or more row groups, got ${prefetch}`);
  const names = new Set(fields.map((f) => f.name));
  return {
    count: prefetch ?? 1,
    bytes: prefetch === undefined ? READ_AHEAD_BYTES : Number.POSITIVE_INFINITY,
    size: ([open, g]) =>
      (open.metadata.row_groups[g]?.columns ?? []).reduce(
        (sum, chunk) =>
          names.has(chunk.meta_data?.path_in_schema[0] ?? "")
            ? sum + Number(chunk.meta_data!.total_compressed_size)
            : sum,
        0,
      ),
  };
}

/**
 * Results of `read` over `units` in order, with up to `ahead.count` reads started before they are
 * needed, as long as the reads in flight fit `ahead.bytes` (a unit bigger than that is read alone).
 */
async function* prefetched<R>(
  units: AsyncIterable<readonly [OpenPart, number]> | Iterable<readonly [OpenPart, number]>,
  read: (unit: readonly [OpenPart, number]) => Promise<R>,
  ahead: ReadAhead,
): AsyncGenerator<R> {
  const pending: { result: Promise<R>; bytes: number }[] = [];
  let inFlight = 0;
  const next = async (): Promise<R> => {
    const head = pending.shift()!;
    inFlight -= head.bytes;
    return await head.result;
  };
  try {
    for await (const unit of units) {
      const bytes = ahead.size(unit);
      while (pending.length > 0 && inFlight + bytes > ahead.bytes) yield await next();
      const result = read(unit);
      // A read ahead that fails is reported when its turn comes; until then it must not count as unhandled.
      result.catch(() => undefined);
      pending.push({ result, bytes });
      inFlight += bytes;
      if (pending.length > ahead.count) yield await next();
    }
    while (pending.length > 0) yield await next();
  } finally {
    rowGroupBuffers.clear();
  }
}

function emptyColumns(fields: readonly Field[]): Record<string, unknown[]> {
  return Object.fromEntries(fields.map((f) => [f.name, [] as unknown[]]));
}

/** Re-slice groups into batches of exactly `batchSize` rows (the last may be short). */
export async function* orderedBatches(
  groups: AsyncIterable<Group>,
  fields: readonly Field[],
  batchSize: number,
): AsyncGenerator<Record<string, unknown[]>> {
  let out = emptyColumns(fields);
  let outRows = 0;
  for await (const group of groups) {
    let position = 0;
    while (position < group.rows) {
      const take = Math.min(batchSize - outRows, group.rows - position);
      for (const field of fields) {
        const slice = group.columns[field.name]!.slice(position, position + take);
        const pending = out[field.name]!;
        out[field.name] = pending.length === 0 ? slice : pending.concat(slice);
      }
      outRows += take;
      position += take;
      if (outRows === batchSize) {
        yield out;
        out = emptyColumns(fields);
        outRows = 0;
      }
    }
  }
  if (outRows > 0) yield out;
}

/**
 * A shuffle buffer (as in tf.data): rows enter a pool of `bufferSize`; once it is full each new row
 * evicts a random one into the output. Rows are copied out of their row group, so memory is the pool.
 */
export async function* shuffledBatches(
  groups: AsyncIterable<Group>,
  fields: readonly Field[],
  batchSize: number,
  shuffle: ShuffleOptions,
): AsyncGenerator<Record<string, unknown[]>> {
  const bufferSize = shuffle.bufferSize ?? Math.max(10 * batchSize, 10_000);
  if (!Number.isInteger(bufferSize) || bufferSize < 1)
    throw errors.invalidInput(`shuffle bufferSize must be a positive integer, got ${bufferSize}`);
  const random = createRandom(`${shuffle.seed}:rows`);
  const pool: unknown[][] = [];
  let out = emptyColumns(fields);
  let outRows = 0;
  const emit = (row: unknown[]): boolean => {
    fields.forEach((field, c) => {
      out[field.name]!.push(row[c]);
    });
    outRows++;
    return outRows === batchSize;
  };
  for await (const group of groups) {
    const sources = fields.map((f) => group.columns[f.name]!);
    for (let i = 0; i < group.rows; i++) {
      const row = sources.map((column) => column[i]);
      if (pool.length < bufferSize) {
        pool.push(row);
        continue;
      }
      const j = Math.floor(random() * bufferSize);
      const evicted = pool[j]!;
      pool[j] = row;
      if (emit(evicted)) {
        yield out;
        out = emptyColumns(fields);
        outRows = 0;
      }
    }
  }
  shuffleInPlace(pool, random);
  for (const row of pool) {
    if (emit(row)) {
      yield out;
      out = emptyColumns(fields);
      outRows = 0;
    }
  }
  if (outRows > 0) yield out;
}

export type { PartFile };
