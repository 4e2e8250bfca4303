/**
 * A Hugging Face dataset split read from any storage, streamed the way ferry tables are: parquet
 * splits one row group at a time through range reads (core's TableReader), Arrow IPC shards one record
 * batch at a time from a read stream — so a remote dataset is never downloaded whole.
 */

import { ferry, type PluginRegistry } from "@ferry/core";
import {
  createRandom,
  csvBatches,
  type Group,
  jsonLinesBatches,
  orderedBatches,
  type PartFile,
  pickFields,
  type StreamOptions,
  shuffledBatches,
  shuffleInPlace,
  TableReader,
} from "@ferry/parquet";
import {
  type BatchSource,
  type ColumnBatch,
  errors,
  FerryError,
  type Field,
  type LocationLike,
  relativeKey,
  type Schema,
  type Storage,
} from "@ferry/plugin-kit";
import { fromArrowSchema, recordBatchToColumns } from "@ferry/table-arrow";
import { RecordBatchReader } from "apache-arrow";
import { parse } from "csv-parse";
import {
  annotateSchema,
  classLabelNames,
  type Features,
  featuresFromHuggingfaceMetadata,
  featuresFromSchema,
  HF_METADATA_KEY,
} from "./features.ts";
import { detectLayout, type SplitFiles } from "./layout.ts";

const DATASET = Symbol.for("ferry.hf.dataset");

type Source =
  | { kind: "parquet"; reader: TableReader }
  | { kind: "arrow"; storage: Storage; files: string[]; where: string }
  | { kind: "text"; format: "csv" | "json"; storage: Storage; files: string[]; where: string }
  | { kind: "memory"; schema: Schema; batches: ColumnBatch[] };

/** Sources read file by file from a read stream (their rows are not indexed). */
type FileSource = Extract<Source, { kind: "arrow" | "text" }>;

export interface LoadDatasetOptions {
  /** Split to load (default: "train" when present, else the first listed split). */
  split?: string;
  /** Hub config name (default: the card's default config, else the first). */
  config?: string;
  /** Registry resolving the location (default: ferry's). */
  registry?: PluginRegistry;
  signal?: AbortSignal;
}

export class HfDataset {
  readonly [DATASET] = true;
  /** The split name ("train", "test", ...), or undefined for data that came from elsewhere. */
  readonly split: string | undefined;
  readonly config: string | undefined;
  /** Features from the dataset's metadata (dataset_info.json, the card, or the Arrow metadata). */
  readonly features: Features | undefined;
  /** Row count stated by the metadata, when it states one (count() reads the files). */
  readonly declaredRows: number | undefined;
  /** What was left out while loading (a split listed in dataset_dict.json but missing). */
  readonly notes: readonly string[];
  readonly #source: Source;
  #schema: Promise<Schema> | undefined;

  constructor(
    source: Source,
    details: {
      split?: string;
      config?: string;
      features?: Features;
      declaredRows?: number;
      notes?: readonly string[];
    } = {},
  ) {
    this.#source = source;
    this.split = details.split;
    this.config = details.config;
    this.features = details.features;
    this.declaredRows = details.declaredRows;
    this.notes = details.notes ?? [];
  }

  static isInstance(value: unknown): value is HfDataset {
    return (
      typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[DATASET] === true
    );
  }

  /** In-memory dataset from ferry batches (features rebuilt from the schema's annotations). */
  static fromBatches(schema: Schema, batches: ColumnBatch[]): HfDataset {
    return new HfDataset({ kind: "memory", schema, batches }, { features: featuresFromSchema(schema) });
  }

  /** Column schema, each field annotated with its HF feature (`hf.feature`, and `hf.class_label` names). */
  schema(signal?: AbortSignal): Promise<Schema> {
    this.#schema ??= (async () => {
      const source = this.#source;
      if (source.kind === "memory") return source.schema;
      if (source.kind === "parquet") return annotateSchema(await source.reader.schema(signal), this.features);
      if (source.kind === "text") {
        const opened = await openText(source, source.files[0]!, undefined, signal);
        opened.close();
        return annotateSchema(opened.source.schema, this.features);
      }
      const reader = await openArrow(source.storage, source.files[0]!, source.where, signal);
      const schema = fromArrowSchema(reader.schema);
      await reader.cancel();
      const features =
        this.features ??
        featuresFromHuggingfaceMetadata(
          reader.schema.metadata.get(HF_METADATA_KEY),
          `${source.where}/${relativeName(source.files[0]!)}`,
        );
      return annotateSchema(schema, features);
    })();
    return this.#schema;
  }

  /** ClassLabel names of a column (index → name), if the column is a ClassLabel. */
  async classNames(column: string): Promise<string[] | undefined> {
    const field = (await this.schema()).fields.find((f) => f.name === column);
    if (!field) throw errors.invalidInput(`column "${column}" is not in this dataset`);
    return classLabelNames(field);
  }

  /** Rows: from parquet footers, or by streaming Arrow shards (their row counts are not indexed). */
  async count(signal?: AbortSignal): Promise<number> {
    const source = this.#source;
    if (source.kind === "parquet") return source.reader.count(signal);
    if (source.kind === "memory") return source.batches.reduce((total, batch) => total + batch.numRows, 0);
    let total = 0;
    for await (const group of this.#fileGroups(source, undefined, signal, undefined)) total += group.rows;
    return total;
  }

  /** Batches of exactly `batchSize` rows (the last may be short unless dropLast), optionally shuffled by seed. */
  async *stream(options: StreamOptions = {}): AsyncGenerator<ColumnBatch> {
    const source = this.#source;
    const schema = await this.schema(options.signal);
    if (source.kind === "parquet") {
      for await (const batch of source.reader.stream(options))
        yield { ...batch, schema: pick(schema, options.columns) };
      return;
    }
    const batchSize = options.batchSize ?? 1024;
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw errors.invalidInput(`batchSize must be a positive integer, got ${batchSize}`);
    const selected = pick(schema, options.columns);
    const groups =
      source.kind === "memory"
        ? memoryGroups(source.batches, selected.fields)
        : this.#fileGroups(source, selected.fields, options.signal, options.shuffle?.seed);
    const batches = options.shuffle
      ? shuffledBatches(groups, selected.fields, batchSize, options.shuffle)
      : orderedBatches(groups, selected.fields, batchSize);
    for await (const columns of batches) {
      const numRows = columns[selected.fields[0]?.name ?? ""]?.length ?? 0;
      if (numRows < batchSize && options.dropLast) return;
      yield { schema: selected, columns, numRows };
      options.signal?.throwIfAborted();
    }
  }

  /** Every row of the selected columns in one batch (the caller asked for the split in memory). */
  async fetch(options: Pick<StreamOptions, "columns" | "signal"> = {}): Promise<ColumnBatch> {
    if (this.#source.kind === "parquet") {
      const batch = await this.#source.reader.fetch(options);
      return { ...batch, schema: pick(await this.schema(options.signal), options.columns) };
    }
    const schema = pick(await this.schema(options.signal), options.columns);
    const columns: Record<string, unknown[]> = Object.fromEntries(
      schema.fields.map((f) => [f.name, [] as unknown[]]),
    );
    let numRows = 0;
    for await (const batch of this.stream({ ...options, batchSize: 65_536 })) {
      for (const field of schema.fields)
        for (const value of batch.columns[field.name]!) columns[field.name]!.push(value);
      numRows += batch.numRows;
    }
    return { schema, columns, numRows };
  }

  /** The rows as `{ column: values[] }`, like `Dataset.to_dict()`. */
  async toDict(columns?: readonly string[]): Promise<Record<string, unknown[]>> {
    return (await this.fetch({ columns })).columns as Record<string, unknown[]>;
  }

  async *#fileGroups(
    source: FileSource,
    fields: readonly Field[] | undefined,
    signal: AbortSignal | undefined,
    seed: number | string | undefined,
  ): AsyncGenerator<Group> {
    const files = [...source.files];
    if (seed !== undefined) shuffleInPlace(files, createRandom(`${seed}:shards`));
    if (source.kind === "text") {
      // Every file is held to the first one's columns and types.
      const schema = await this.schema(signal);
      for (const file of files) yield* textGroups(source, file, schema, fields, signal);
      return;
    }
    for (const file of files) {
      const reader = await openArrow(source.storage, file, source.where, signal);
      const schema = fromArrowSchema(reader.schema);
      try {
        for await (const batch of reader) {
          signal?.throwIfAborted();
          const all = recordBatchToColumns(batch, schema).columns;
          const columns = fields
            ? Object.fromEntries(fields.map((f) => [f.name, all[f.name] as unknown[]]))
            : (all as Record<string, unknown[]>);
          yield { columns, rows: batch.numRows };
        }
      } catch (error) {
        throw errors.invalidInput(
          `${source.where}/${relativeName(file)}: not a readable Arrow IPC stream (${(error as Error).message})`,
          {
            cause: error,
          },
        );
      } finally {
        await reader.cancel();
      }
    }
  }
}

/** A CSV or JSON-lines data file as batches (its schema inferred from its first rows unless given). */
async function openText(
  source: Extract<Source, { kind: "text" }>,
  file: string,
  schema: Schema | undefined,
  signal: AbortSignal | undefined,
): Promise<{ source: BatchSource; close(): void }> {
  const stream = await source.storage.read(file, { signal });
  const where = display(source.storage, file);
  try {
    const opened =
      source.format === "csv"
        ? await csvBatches(stream.pipe(parse({ columns: true, bom: true, cast: false })), { where, schema })
        : await jsonLinesBatches(stream, { where, schema });
    return { source: opened, close: () => stream.destroy() };
  } catch (error) {
    stream.destroy();
    throw notReadable(error, where, source.format);
  }
}

/** csv-parse's own errors (a row with too many cells, an unclosed quote) become InvalidInput naming the file. */
function notReadable(error: unknown, where: string, format: "csv" | "json"): unknown {
  if (FerryError.isInstance(error)) return error;
  return errors.invalidInput(
    `${where}: not readable as ${format === "csv" ? "CSV" : "JSON lines"} (${(error as Error).message})`,
    { cause: error },
  );
}

async function* textGroups(
  source: Extract<Source, { kind: "text" }>,
  file: string,
  schema: Schema,
  fields: readonly Field[] | undefined,
  signal: AbortSignal | undefined,
): AsyncGenerator<Group> {
  const opened = await openText(source, file, schema, signal);
  try {
    for await (const batch of opened.source.batches) {
      signal?.throwIfAborted();
      const columns = fields
        ? Object.fromEntries(fields.map((f) => [f.name, batch.columns[f.name] as unknown[]]))
        : (batch.columns as Record<string, unknown[]>);
      yield { columns, rows: batch.numRows };
    }
  } catch (error) {
    throw notReadable(error, display(source.storage, file), source.format);
  } finally {
    opened.close();
  }
}

function relativeName(file: string): string {
  return file.slice(file.lastIndexOf("/") + 1);
}

function pick(schema: Schema, columns: readonly string[] | undefined): Schema {
  const fields = pickFields(
    schema,
    columns,
    (name, available) => `column "${name}" is not in this dataset (columns: ${available})`,
  );
  return { ...schema, fields };
}

async function* memoryGroups(
  batches: readonly ColumnBatch[],
  fields: readonly Field[],
): AsyncGenerator<Group> {
  for (const batch of batches) {
    yield {
      columns: Object.fromEntries(fields.map((f) => [f.name, [...(batch.columns[f.name] ?? [])]])),
      rows: batch.numRows,
    };
  }
}

async function openArrow(storage: Storage, file: string, where: string, signal: AbortSignal | undefined) {
  const stream = await storage.read(file, { signal });
  try {
    const reader = await RecordBatchReader.from(stream);
    await reader.open();
    return reader;
  } catch (error) {
    stream.destroy();
    throw errors.invalidInput(
      `${where}/${relativeName(file)}: not a readable Arrow IPC stream (${(error as Error).message})`,
      {
        system: storage.system,
        path: file,
        cause: error,
      },
    );
  }
}

async function sizes(
  storage: Storage,
  files: readonly string[],
  base: string,
  signal?: AbortSignal,
): Promise<PartFile[]> {
  return Promise.all(
    files.map(async (file) => ({
      path: file,
      relative: relativeKey(base, file) ?? file,
      size: (await storage.stat(file, { signal })).size,
    })),
  );
}

function display(storage: Storage, path: string): string {
  return `${storage.root.replace(/\/$/, "")}/${path}`.replace(/^\/+/, "/");
}

async function datasetFrom(
  storage: Storage,
  base: string,
  files: SplitFiles,
  config: string | undefined,
  notes: readonly string[],
  signal?: AbortSignal,
): Promise<HfDataset> {
  const where = display(storage, base);
  const details = {
    split: files.split,
    notes,
    ...(config ? { config } : {}),
    ...(files.features ? { features: files.features } : {}),
    ...(files.numRows === undefined ? {} : { declaredRows: files.numRows }),
  };
  if (files.format === "parquet") {
    const parts = await sizes(storage, files.files, base, signal);
    const reader = new TableReader(storage, base, where, parts);
    // Without features in the card, the first file's footer has them as `datasets` wrote them.
    if (!details.features && parts.length > 0) {
      const { metadata } = await reader.open(parts[0]!, signal);
      const features = featuresFromHuggingfaceMetadata(
        metadata.key_value_metadata?.find((kv) => kv.key === HF_METADATA_KEY)?.value,
        display(storage, parts[0]!.path),
      );
      if (features) Object.assign(details, { features });
    }
    return new HfDataset({ kind: "parquet", reader }, details);
  }
  if (files.format === "csv" || files.format === "json")
    return new HfDataset({ kind: "text", format: files.format, storage, files: files.files, where }, details);
  return new HfDataset({ kind: "arrow", storage, files: files.files, where }, details);
}

export interface DatasetDescription {
  layout: "dataset_dict" | "save_to_disk" | "hub" | "parquet_convert";
  configs: string[];
  /** The splits present (a split listed but missing is left out and named in `notes`). */
  splits: string[];
  notes: string[];
}

/** What is at a location: its layout, configs and splits, without reading any data. */
export async function describeDataset(
  location: LocationLike,
  options: Omit<LoadDatasetOptions, "split" | "config"> = {},
): Promise<DatasetDescription> {
  const { storage, path } = await (options.registry ?? ferry).resolve(location);
  const layout = await detectLayout(storage, path);
  return { layout: layout.kind, configs: layout.configs, splits: layout.splits, notes: layout.notes };
}

/** One split of the dataset at `location` (a save_to_disk folder, a DatasetDict, or a Hub-style repo). */
export async function loadDataset(
  location: LocationLike,
  options: LoadDatasetOptions = {},
): Promise<HfDataset> {
  const { storage, path } = await (options.registry ?? ferry).resolve(location);
  const layout = await detectLayout(storage, path);
  const split = options.split ?? (layout.splits.includes("train") ? "train" : layout.splits[0]);
  if (split === undefined) throw errors.notFound(`the dataset at ${display(storage, path)} lists no splits`);
  const files = await layout.resolve(split, options.config);
  return datasetFrom(storage, path, files, options.config, layout.notes, options.signal);
}

/** Every split of the dataset, by name. A split listed but missing is left out; each dataset's `notes` name it. */
export async function loadDatasetDict(
  location: LocationLike,
  options: Omit<LoadDatasetOptions, "split"> = {},
): Promise<Record<string, HfDataset>> {
  const { storage, path } = await (options.registry ?? ferry).resolve(location);
  const layout = await detectLayout(storage, path);
  const result: Record<string, HfDataset> = {};
  for (const split of layout.splits) {
    result[split] = await datasetFrom(
      storage,
      path,
      await layout.resolve(split, options.config),
      options.config,
      layout.notes,
      options.signal,
    );
  }
  return result;
}
