/**
 * The Table resource: `table(data, location?)` picks a flavour from the data; `write`, `fetch`,
 * `stream`, `count`, `schema`, `to`, `rm`; `Table.from(location)` opens an existing table folder.
 * Metadata (flavour, partitioning, schema) is not written next to the data: `toConfig()` gives it to
 * the resource registry.
 */
import type { Filter, StreamOptions, TableReader, WriteResult, WriteTableOptions } from "@ferry/parquet";
import type { BatchSource, ColumnBatch, Schema, Storage, TableFlavour } from "@ferry/plugin-kit";
import { errors } from "@ferry/plugin-kit";
import { ferry } from "./default.ts";
import {
  childLocation,
  formatLocation,
  type Location,
  type LocationLike,
  parseLocation,
  withPath,
} from "./location.ts";
import type { PluginRegistry } from "./plugins.ts";
import type { RegistryEntry } from "./registry/entry.ts";
import { entryLocation, loadNamed, type SaveNamedOptions, saveNamed } from "./registry/named.ts";
import type { LoadOptions, ResourceRegistryOptions } from "./registry/registry.ts";
import type { ResourceFactoryContext } from "./registry/resources.ts";
import {
  type Chained,
  chained,
  checkOptions,
  guardRm,
  isPlainObject,
  isResourceSpec,
  PendingPlace,
  Place,
  type PlaceLike,
  type ResourceSpec,
  type RmOptions,
  specKeys,
  specPlace,
  splitSpec,
} from "./resource-spec.ts";
import { defaultKey, type ResourceTransferOptions, transferResource } from "./resource-target.ts";

/** The parquet codec, loaded on the first Table operation: moving folders never loads it. */
const codec = (): Promise<typeof import("@ferry/parquet")> => import("@ferry/parquet");

const WRITE_OPTION_KEYS = [
  "mode",
  "partitionBy",
  "rowGroupSize",
  "maxRowsPerFile",
  "maxOpenFiles",
  "codec",
  "pageSize",
  "signal",
] as const;
const TABLE_OPTION_KEYS = [
  ...WRITE_OPTION_KEYS,
  "schema",
  "flavour",
  "registry",
  "name",
  "metadata",
  "maxPageExpansion",
] as const;
const STREAM_OPTION_KEYS = [
  "batchSize",
  "columns",
  "filter",
  "shuffle",
  "dropLast",
  "prefetch",
  "signal",
] as const;
const FETCH_OPTION_KEYS = ["columns", "filter", "signal"] as const;

/** What `fetch`, `fetchBatch` and `head` take. */
export interface FetchOptions {
  /** Columns to read, in this order (default: all). */
  columns?: readonly string[] | undefined;
  /** Only the rows this keeps: `["year", ">=", 2020]`, `"year >= 2020 and split = 'train'"` (see Filter). */
  filter?: Filter | undefined;
  signal?: AbortSignal | undefined;
}

/** What `write()`'s promise chains to: `table.write().save()`. */
type TableChain = "save" | "to" | "fetch" | "count" | "exists";
const TABLE_CHAIN: readonly TableChain[] = ["save", "to", "fetch", "count", "exists"];

export interface TableOptions extends WriteTableOptions {
  /** Explicit schema for plain data (instead of inferring it). */
  schema?: Schema | undefined;
  /** Force a flavour (an instance, or the name of a registered / first-party one). Default: detected from the data. */
  flavour?: TableFlavour | string | undefined;
  /** Registry resolving locations and flavours (default: `ferry`). */
  registry?: PluginRegistry | undefined;
  /** Resource registry name (`~/x`, `@/x`, or bare): `save()` saves under it. */
  name?: string | undefined;
  /** Free-form metadata saved with the table's registry entry. */
  metadata?: Record<string, unknown> | undefined;
  /** Reading: how far a data page may decompress (see ReaderOptions; default 1000 × its compressed size). */
  maxPageExpansion?: number | undefined;
}

/** What the resource registry saves for a table (no data, no secrets). */
export interface TableConfig {
  type: "table";
  /** Canonical URL of the table folder. */
  location: string;
  flavour: string;
  partitioning: string[];
  schema: Schema | undefined;
}

/** A location; with no path (a bare bucket, or nothing at all) a fresh `ferry-table/<32 hex>` below it. */
function tableLocation(input: LocationLike | undefined, registry: PluginRegistry): Location {
  const location = parseLocation(input ?? `./${defaultKey("table")}`, { cwd: registry.cwd });
  if (location.path === "") return childLocation(location, defaultKey("table"));
  // A root only its plugin can tell (github://owner/repo) gets its key once read: see the constructor.
  return location;
}

export class Table<T = unknown> {
  /** The table a registry entry describes (how the resource registry loads a saved one). */
  static fromEntry(entry: RegistryEntry, { plugins }: ResourceFactoryContext): Table {
    return new Table(undefined, entryLocation(entry), {
      registry: plugins,
      ...(entry.flavour === undefined ? {} : { flavour: entry.flavour }),
      partitionBy: entry.partitioning ?? [],
      name: entry.name,
      metadata: entry.metadata,
    });
  }

  /** The data the table was created with (what `write()` writes); undefined for a table opened from storage. */
  readonly data: T | undefined;
  protected readonly options: TableOptions;
  protected readonly registry: PluginRegistry;
  readonly #place: Place;
  /** What the last `write()` / `writeBatches()` wrote: part files, rows, schema. */
  lastWrite: WriteResult | undefined;
  /** Notes of the transfer that made this table (`to()`), e.g. a fallback to streaming. */
  notes: readonly string[] = [];
  #flavour: Promise<TableFlavour<T>> | undefined;
  #storage: Promise<Storage> | undefined;
  #partitioning: string[];
  #writtenSchema: Schema | undefined;

  /** The registry name it was created, saved or loaded with. */
  name: string | undefined;
  readonly metadata: Record<string, unknown>;

  constructor(data: T | undefined, location?: PlaceLike, options: TableOptions = {}) {
    checkOptions(options, TABLE_OPTION_KEYS, "a table");
    this.name = options.name;
    this.metadata = { ...options.metadata };
    this.data = data;
    this.options = { ...options };
    this.registry = options.registry ?? ferry;
    this.#partitioning = [...(options.partitionBy ?? [])];
    const given = location instanceof PendingPlace ? location : tableLocation(location, this.registry);
    this.#place = new Place(
      given,
      () => `table ${this.name ?? ""}`.trim(),
      (entry) => {
        this.name = entry.name;
        Object.assign(this.metadata, entry.metadata, options.metadata);
        if (options.flavour === undefined && entry.flavour !== undefined)
          this.options.flavour = entry.flavour;
        if (options.partitionBy === undefined) this.#partitioning = [...(entry.partitioning ?? [])];
      },
      async (parsed) => {
        const full = await this.registry.locate(parsed);
        return parsed === given && full.path === "" ? withPath(full, defaultKey("table")) : full;
      },
    );
  }

  /** Where the table's folder is. Known at once unless a saved name is being looked up: see `ready()`. */
  get location(): Location {
    return this.#place.location;
  }

  /** Resolves once the place is known (a saved name loaded, a default bucket found); every method awaits it. */
  async ready(): Promise<this> {
    await this.#place.ready();
    return this;
  }

  /** Open an existing table folder (or a single parquet file) to read it. */
  static from<T = Record<string, unknown[]>>(
    location: LocationLike,
    options: Omit<TableOptions, "flavour"> & { flavour?: TableFlavour<T> | string | undefined } = {},
  ): Table<T> {
    return new Table<T>(undefined, location, options as TableOptions);
  }

  /** Canonical URL of the table folder. */
  get url(): string {
    return this.location.url;
  }

  /** Display form used in messages. */
  get where(): string {
    return formatLocation(this.location);
  }

  storage(): Promise<Storage> {
    this.#storage ??= this.#place.ready().then((location) => this.registry.storageFor(location));
    return this.#storage;
  }

  /** A reader over the folder as it is now (each operation lists it afresh). */
  async reader(): Promise<TableReader> {
    const storage = await this.storage();
    const { TableReader } = await codec();
    return new TableReader(storage, this.location.path, this.where, undefined, {
      maxPageExpansion: this.options.maxPageExpansion,
    });
  }

  /** The flavour: given, detected from the data among registered flavours, or the plain one. */
  flavour(): Promise<TableFlavour<T>> {
    this.#flavour ??= (async () => {
      await this.#place.ready();
      const { plainFlavour } = await codec();
      const given = this.options.flavour;
      if (typeof given === "string")
        return given === plainFlavour.name ? plainFlavour : this.registry.flavour(given);
      if (given) return given;
      if (this.data === undefined) return plainFlavour;
      const detected = this.registry.flavours().find((flavour) => flavour.detect(this.data));
      if (detected) return detected;
      if (plainFlavour.detect(this.data)) return plainFlavour;
      throw errors.invalidInput(
        "cannot tell which table flavour this data is: pass plain data ({ column: [...] } or row objects), or register the flavour of your table type (ferry.use(arrow()))",
      );
    })() as Promise<TableFlavour<T>>;
    return this.#flavour;
  }

  async #batches(): Promise<BatchSource> {
    if (this.data === undefined)
      throw errors.invalidInput(
        `this table (${this.where}) was opened from storage: there is no data to write`,
      );
    const flavour = await this.flavour();
    const { plainBatches, plainFlavour } = await codec();
    if (flavour === (plainFlavour as TableFlavour))
      return plainBatches(this.data as never, this.options.schema);
    if (this.options.schema)
      throw errors.invalidInput(
        `an explicit schema is only for plain data; ${flavour.name} tables carry their own`,
      );
    return flavour.toBatches(this.data);
  }

  /**
   * Write the data to the table's location (overwrite by default; `mode: "append"` adds parts).
   * Chains: `await table.write().save()`; what was written is in `lastWrite`.
   */
  write(options: WriteTableOptions = {}): Chained<this, TableChain> {
    return chained(this.#write(options), TABLE_CHAIN);
  }

  async #write(options: WriteTableOptions): Promise<this> {
    checkOptions(options, WRITE_OPTION_KEYS, "table.write()");
    const merged: WriteTableOptions = { ...this.options, ...options };
    const flavour = await this.flavour();
    const reader = await this.reader();
    const storage = await this.storage();
    const {
      columnarWritable,
      encodeColumnarParquet,
      plainColumnar,
      plainFlavour,
      writeEncodedPart,
      writeTable,
    } = await codec();
    // A flavour whose library writes parquet natively (polars) encodes unpartitioned tables itself.
    const native =
      flavour.encodeParquet &&
      this.data !== undefined &&
      !merged.partitionBy?.length &&
      merged.maxRowsPerFile === undefined;
    const unpartitioned = !merged.partitionBy?.length && merged.maxRowsPerFile === undefined;
    // A columnar flavour (arrow) hands over buffers: the file is encoded without a JS value per row.
    const plain = flavour === (plainFlavour as TableFlavour);
    const offered =
      native || !unpartitioned || this.data === undefined
        ? undefined
        : plain
          ? plainColumnar(this.data as never, this.options.schema)
          : this.options.schema
            ? undefined // refused below: an explicit schema is for plain data only
            : flavour.toColumnar?.(this.data as T);
    const columnar = offered && columnarWritable(offered.schema) ? offered : undefined;
    const encoded = columnar
      ? await encodeColumnarParquet(columnar.schema, columnar.groups, merged)
      : native
        ? await flavour.encodeParquet!(this.data as T, {
            codec: merged.codec ?? "SNAPPY",
            rowGroupSize: merged.rowGroupSize ?? 100_000,
          })
        : undefined;
    const result = encoded
      ? await writeEncodedPart(storage, this.location.path, encoded, reader, merged)
      : await writeTable(storage, this.location.path, await this.#batches(), reader, merged);
    this.#partitioning = [...(merged.partitionBy ?? [])];
    this.#writtenSchema = result.schema;
    this.lastWrite = result;
    return this;
  }

  /**
   * Write batches you produce yourself (e.g. a converter's output) to this table's location. The
   * low-level form: it returns what was written (also kept in `lastWrite`) rather than chaining.
   */
  async writeBatches(source: BatchSource, options: WriteTableOptions = {}): Promise<WriteResult> {
    checkOptions(options, WRITE_OPTION_KEYS, "table.writeBatches()");
    const merged: WriteTableOptions = { ...this.options, ...options };
    const { writeTable } = await codec();
    const result = await writeTable(
      await this.storage(),
      this.location.path,
      source,
      await this.reader(),
      merged,
    );
    this.#partitioning = [...(merged.partitionBy ?? [])];
    this.#writtenSchema = result.schema;
    this.lastWrite = result;
    return result;
  }

  /** The whole table (or some columns, or the rows a filter keeps) in the flavour's type. */
  async fetch(options: FetchOptions = {}): Promise<T> {
    checkOptions(options, FETCH_OPTION_KEYS, "table.fetch()");
    const flavour = await this.flavour();
    if (flavour.decodeParquet && flavour.concat && options.filter === undefined) {
      // A flavour whose library reads parquet natively (polars) decodes unpartitioned tables itself.
      const reader = await this.reader();
      const { schema, partitionColumns } = await reader.resolveSchema(options.signal);
      if (partitionColumns.length === 0) {
        for (const name of options.columns ?? []) {
          if (!schema.fields.some((f) => f.name === name))
            throw errors.invalidInput(`column "${name}" is not in the table at ${this.where}`);
        }
        const storage = await this.storage();
        const values: T[] = [];
        for (const part of await reader.parts(options.signal)) {
          const bytes = await storage.readBytes(part.path, { signal: options.signal });
          values.push(await flavour.decodeParquet(bytes, { columns: options.columns }));
        }
        return flavour.concat(values);
      }
    }
    // A columnar flavour (arrow) takes typed arrays, not a JS value per row.
    if (flavour.fromColumnar) return flavour.fromColumnar(await (await this.reader()).columnar(options));
    const batch = await this.fetchBatch(options);
    return flavour.fromBatches({ schema: batch.schema, batches: [batch] });
  }

  /** The whole table (or some columns, or the rows a filter keeps) as one ColumnBatch. */
  async fetchBatch(options: FetchOptions = {}): Promise<ColumnBatch> {
    checkOptions(options, FETCH_OPTION_KEYS, "table.fetchBatch()");
    return (await this.reader()).fetch(options);
  }

  /** Batches of exactly `batchSize` rows in the flavour's batch type (ColumnBatch when it has none). */
  async *stream(options: StreamOptions = {}): AsyncGenerator<T | ColumnBatch> {
    checkOptions(options, STREAM_OPTION_KEYS, "table.stream()");
    const flavour = await this.flavour();
    for await (const batch of (await this.reader()).stream(options)) {
      yield flavour.fromBatch ? await flavour.fromBatch(batch) : batch;
    }
  }

  /** Batches as ColumnBatch, whatever the flavour. */
  async *streamBatches(options: StreamOptions = {}): AsyncGenerator<ColumnBatch> {
    checkOptions(options, STREAM_OPTION_KEYS, "table.streamBatches()");
    yield* (await this.reader()).stream(options);
  }

  /**
   * Rows, from the parquet footers only; with a filter, the rows it keeps (only the filter's columns
   * are read, and only in row groups that could match).
   */
  async count(
    options: { filter?: Filter | undefined; signal?: AbortSignal | undefined } = {},
  ): Promise<number> {
    checkOptions(options, ["filter", "signal"], "table.count()");
    return (await this.reader()).count(options.signal, options.filter);
  }

  async schema(options: { signal?: AbortSignal } = {}): Promise<Schema> {
    return (await this.reader()).schema(options.signal);
  }

  /**
   * The first `n` rows (default 5; of those a filter keeps) in the flavour's type, reading only the row
   * groups they are in.
   */
  async head(n = 5, options: FetchOptions = {}): Promise<T> {
    if (!Number.isInteger(n) || n < 0)
      throw errors.invalidInput(`head(n) takes a whole number of rows >= 0, got ${n}`);
    checkOptions(options, FETCH_OPTION_KEYS, "table.head()");
    const flavour = await this.flavour();
    const reader = await this.reader();
    const batches: ColumnBatch[] = [];
    if (n > 0) {
      for await (const batch of reader.stream({ ...options, batchSize: n, prefetch: 0 })) {
        batches.push(batch);
        break;
      }
    }
    const schema = batches[0]?.schema ?? (await reader.schema(options.signal));
    return flavour.fromBatches({ schema, batches });
  }

  /** Rows as plain objects (`{ column: value }`), in order: `for await (const row of table)`. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Record<string, unknown>> {
    const { batchToColumns, columnsToRows } = await codec();
    for await (const batch of (await this.reader()).stream()) {
      yield* columnsToRows(batchToColumns(batch));
    }
  }

  /**
   * Copy the table folder to another system or place and return the table there (this one is
   * unchanged) — the same `(system, path?, options)` and routing as `Folder.to` and `Blob.to`:
   * `to("s3")` uses the plugin's default bucket, an ssh alias its home, `"here"` the working directory.
   */
  async to(target: LocationLike, path?: string, options: ResourceTransferOptions = {}): Promise<Table<T>> {
    const reader = await this.reader();
    const parts = await reader.parts(options.signal);
    if (parts.length === 0) throw errors.notFound(`no table at ${this.where} to copy`, { path: this.where });
    if (parts.length === 1 && parts[0]!.relative === "") {
      throw errors.invalidInput(
        `${this.where} is a single parquet file, not a table folder; copy it as a Blob`,
      );
    }
    const { destination, summary } = await transferResource(
      "table",
      this.location,
      target,
      path,
      this.registry,
      options,
      { delete: true, include: ["**/*.parquet", "**/*.parq", "**/*.pq"] },
    );
    const copied = new Table<T>(this.data, destination, {
      ...this.options,
      registry: this.registry,
      partitionBy: this.#partitioning,
    });
    copied.notes = summary.notes;
    return copied;
  }

  /**
   * Delete the table folder and everything in it. A working directory, home directory, file-system,
   * bucket or container root (or a folder holding one) is InvalidInput unless `{ force: true }`.
   */
  async rm(options: RmOptions = {}): Promise<void> {
    checkOptions(options, ["force", "signal"], "table.rm()");
    const storage = await this.storage();
    await guardRm(this.location, this.registry, storage, options.force, "rm({ force: true })");
    const signal = options.signal ? { signal: options.signal } : {};
    // A table written to a path ending in .parquet is that one file.
    const { isParquetFileKey } = await codec();
    const parts = isParquetFileKey(this.location.path)
      ? await (await this.reader()).parts(options.signal)
      : [];
    if (parts.length === 1 && parts[0]!.relative === "") await storage.delete([this.location.path], signal);
    else await storage.deleteDirectory(this.location.path, signal);
  }

  /** Whether the location holds a table (at least one parquet file). */
  async exists(options: { signal?: AbortSignal } = {}): Promise<boolean> {
    return (await (await this.reader()).parts(options.signal)).length > 0;
  }

  /** What the resource registry saves: where, which flavour, partitioning and schema. */
  async toConfig(): Promise<TableConfig> {
    // What this object wrote, else what the folder holds (a table opened with Table.from), else nothing yet.
    const stored = this.#writtenSchema
      ? undefined
      : await (await this.reader()).resolveSchema().catch(() => undefined);
    return {
      type: "table",
      location: this.location.url,
      flavour: (await this.flavour()).name,
      partitioning: this.#writtenSchema || !stored ? [...this.#partitioning] : stored.partitionColumns,
      schema: this.#writtenSchema ?? stored?.schema,
    };
  }

  /** What the resource registry records when this table is saved (from `toConfig()`). */
  async registryDescription() {
    const config = await this.toConfig();
    return {
      type: "table" as const,
      location: this.location,
      flavour: config.flavour,
      partitioning: config.partitioning,
      schema: config.schema,
    };
  }

  /**
   * Save in the resource registry under `options.name`, or the name it was created with; data the
   * table was created with and has not written yet is written first. Returns this table.
   */
  async save(options: SaveNamedOptions = {}): Promise<this> {
    await this.ready();
    if (this.data !== undefined && this.#writtenSchema === undefined) await this.write();
    await saveNamed(this, options);
    return this;
  }

  /** The Table saved under `name` (`~/x` local, `@/x` shared); `version` loads an earlier save. */
  static fromName<T = Record<string, unknown[]>>(
    name: string,
    options: LoadOptions & ResourceRegistryOptions = {},
  ): Promise<Table<T>> {
    return loadNamed<Table<T>>(name, "table", options);
  }
}

/** Column data (`{ id: [...], grade: [...] }`): a plain object whose values are all arrays. */
function isColumnData(value: Record<string, unknown>): boolean {
  const values = Object.values(value);
  return values.length > 0 && values.every((column) => Array.isArray(column) || ArrayBuffer.isView(column));
}

/**
 * Runhouse's `{ data, name, path, system }` rather than table data: a plain object with those keys
 * and no location after it, that is not column data nor any registered flavour's table (a
 * DataFrame with a column called "name" stays a DataFrame).
 */
function isSpec(data: unknown, second: unknown): data is ResourceSpec & Record<string, unknown> {
  if (!isPlainObject(data) || isColumnData(data) || !isResourceSpec(data, ["data"])) return false;
  if (second !== undefined && (typeof second === "string" || !isPlainObject(second) || "system" in second))
    return false;
  const registry = (second as TableOptions | undefined)?.registry ?? ferry;
  return !registry.flavours().some((flavour) => flavour.detect(data));
}

/**
 * A table of `data` (plain JS data or any registered flavour's table) at `location`. Runhouse's
 * spelling works too: `table({ data, name, path, system })`. Always returns the Table at once; a
 * name alone, `table({ name })`, is the saved table, looked up by its first awaited method (or
 * `ready()`).
 */
export function table<T = Record<string, unknown[]>>(
  spec: ResourceSpec & { data?: T },
  options?: TableOptions,
): Table<T>;
export function table<T>(data: T, location?: LocationLike, options?: TableOptions): Table<T>;
export function table<T>(
  data: T | (ResourceSpec & { data?: T }),
  location?: LocationLike | TableOptions,
  options: TableOptions = {},
): Table<T> {
  if (isSpec(data, location)) {
    // Table options may ride in the spec too: table({ data, name, path, system, partitionBy }).
    const { spec, rest: inline } = splitSpec(data, ["data"]);
    const { data: rows, name, metadata } = spec as ResourceSpec & { data?: T };
    checkOptions(inline, [...specKeys(["data"]), ...TABLE_OPTION_KEYS], "table({ ... })");
    const given = { ...(inline as TableOptions), ...((location ?? {}) as TableOptions) };
    const registry = given.registry ?? ferry;
    return new Table<T>(rows, specPlace("table", spec, registry, { hasData: rows !== undefined }), {
      ...given,
      ...(name === undefined ? {} : { name }),
      ...(metadata ? { metadata } : {}),
    });
  }
  return new Table<T>(data as T, location as LocationLike | undefined, options);
}
