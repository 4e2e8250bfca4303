/**
 * describeTableFlavour: the suite every table flavour runs. A flavour is exercised only through its
 * own contract (fromBatches / toBatches / fromBatch / detect) and through ferry's Table, so a
 * third-party flavour runs it unchanged:
 *
 *   describeTableFlavour("arrow", () => arrow(), { refuses: ["decimal(20, 4)"] });
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { local, PluginRegistry, Table, table } from "@ferry/core";
import { describeType } from "@ferry/parquet";
import {
  type ColumnBatch,
  type DataType,
  FerryError,
  type Field,
  type LocationLike,
  type Schema,
  type TableFlavour,
  t,
} from "@ferry/plugin-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TYPE_CASES, type TypeCase } from "./table-cases.ts";

export { TYPE_CASES, type TypeCase } from "./table-cases.ts";

/** A documented conversion: the type a column comes back as, and each value's new form. */
export interface TypeConversion {
  type: DataType;
  value: (value: unknown) => unknown;
}

export interface TableFlavourSuiteOptions {
  /**
   * Type case names (`describeType` of the type, e.g. "uint64", "decimal(20, 4)") the flavour cannot
   * hold: converting them must raise InvalidInput or Unsupported naming the column.
   */
  refuses?: readonly string[];
  /** Type case names the flavour stores as another type, with how each value changes. */
  converts?: Readonly<Record<string, TypeConversion>>;
  /** A fresh table location per test (default: a new local temporary directory). */
  location?: () => LocationLike | Promise<LocationLike>;
  /** Plugin-specific tests, run inside this suite's describe block. */
  extra?: () => void;
}

const ROWS = 23;

function batchOf(fields: readonly Field[], columns: Record<string, readonly unknown[]>): ColumnBatch {
  const numRows = fields.length === 0 ? 0 : (columns[fields[0]!.name]?.length ?? 0);
  return { schema: { fields }, columns, numRows };
}

/** A flavour value's columns, through the flavour's own toBatches. */
export async function flavourColumns<T>(
  flavour: TableFlavour<T>,
  value: T,
): Promise<{ schema: Schema; columns: Record<string, unknown[]>; numRows: number }> {
  const source = await flavour.toBatches(value);
  const columns: Record<string, unknown[]> = Object.fromEntries(
    source.schema.fields.map((f) => [f.name, [] as unknown[]]),
  );
  let numRows = 0;
  for await (const batch of source.batches) {
    for (const field of source.schema.fields) columns[field.name]!.push(...(batch.columns[field.name] ?? []));
    numRows += batch.numRows;
  }
  return { schema: source.schema, columns, numRows };
}

function isTypedRefusal(error: unknown, column: string): boolean {
  return (
    FerryError.isInstance(error) &&
    (error.code === "InvalidInput" || error.code === "Unsupported") &&
    error.message.includes(`"${column}"`)
  );
}

export function describeTableFlavour<T>(
  name: string,
  factory: () => TableFlavour<T> | Promise<TableFlavour<T>>,
  options: TableFlavourSuiteOptions = {},
): void {
  describe(`table flavour conformance: ${name}`, () => {
    const suite = new FlavourUnderTest(name, factory, options);
    describeTypeRoundTrips(suite);
    describeStreaming(suite);
    describeReads(suite);
    describeDetection(suite);
    options.extra?.();
  });
}

/** The flavour a suite runs against, made fresh before its tests, with the helpers its cases share. */
class FlavourUnderTest<T> {
  flavour!: TableFlavour<T>;
  readonly refuses: Set<string>;
  readonly supported: TypeCase[];
  private readonly converts: Readonly<Record<string, TypeConversion>>;
  private readonly options: TableFlavourSuiteOptions;
  private scratch = "";
  private counter = 0;

  constructor(
    name: string,
    factory: () => TableFlavour<T> | Promise<TableFlavour<T>>,
    options: TableFlavourSuiteOptions,
  ) {
    this.options = options;
    this.refuses = new Set(options.refuses ?? []);
    this.converts = options.converts ?? {};
    this.supported = TYPE_CASES.filter((c) => !this.refuses.has(c.name));
    beforeAll(async () => {
      this.flavour = await factory();
      this.scratch = await mkdtemp(join(tmpdir(), `ferry-flavour-${name}-`));
    });
    afterAll(async () => {
      await rm(this.scratch, { recursive: true, force: true });
    });
  }

  async freshLocation(): Promise<LocationLike> {
    return this.options.location ? this.options.location() : join(this.scratch, `t${this.counter++}`);
  }

  make(fields: readonly Field[], columns: Record<string, readonly unknown[]>): Promise<T> {
    return this.flavour.fromBatches({ schema: { fields }, batches: [batchOf(fields, columns)] });
  }

  open(location: LocationLike) {
    return Table.from<T>(location, { flavour: this.flavour });
  }

  /** A streamed item's columns, whether the flavour streams its own values or plain batches. */
  async asColumns(item: unknown) {
    return this.flavour.fromBatch
      ? flavourColumns(this.flavour, item as T)
      : { ...(item as ColumnBatch), columns: { ...(item as ColumnBatch).columns } };
  }

  /** The type and values a case comes back with, after the flavour's documented conversion if any. */
  expectedOf(c: TypeCase) {
    const conversion = this.converts[c.name];
    return conversion
      ? {
          type: describeType(conversion.type),
          values: c.values.map((v) => (v === null ? null : conversion.value(v))),
        }
      : { type: c.name, values: [...c.values] };
  }
}

/** `n` rows of an int32 id 0..n-1 and a string name. */
function numbered(n: number) {
  return {
    fields: [t.field("id", t.int32()), t.field("name", t.string())],
    columns: {
      id: Array.from({ length: n }, (_, i) => i),
      name: Array.from({ length: n }, (_, i) => `row ${i}`),
    },
  };
}

function describeTypeRoundTrips<T>(suite: FlavourUnderTest<T>): void {
  it.each(suite.supported.map((c) => [c.name, c] as const))(
    "round-trips %s through a written table",
    async (_, c) => {
      const value = await suite.make([c.field], { [c.field.name]: c.values });
      expect(suite.flavour.detect(value)).toBe(true);
      const location = await suite.freshLocation();
      await table(value, location, { flavour: suite.flavour }).write();
      const back = await flavourColumns(suite.flavour, await suite.open(location).fetch());
      const expected = suite.expectedOf(c);
      expect(describeType(back.schema.fields[0]!.type)).toBe(expected.type);
      expect(back.columns[c.field.name]).toEqual(expected.values);
    },
  );

  it("round-trips every supported type together", async () => {
    const fields = suite.supported.map((c) => c.field);
    const value = await suite.make(
      fields,
      Object.fromEntries(suite.supported.map((c) => [c.field.name, c.values])),
    );
    const location = await suite.freshLocation();
    await table(value, location, { flavour: suite.flavour }).write();
    const back = await flavourColumns(suite.flavour, await suite.open(location).fetch());
    expect(back.schema.fields.map((f) => f.name)).toEqual(fields.map((f) => f.name));
    for (const c of suite.supported)
      expect(back.columns[c.field.name], c.name).toEqual(suite.expectedOf(c).values);
  });

  it.each([...suite.refuses].map((n) => [n] as const))(
    "refuses %s with a typed error naming the column",
    async (typeName) => {
      const c = TYPE_CASES.find((candidate) => candidate.name === typeName);
      expect(c, `"${typeName}" is not a type case name`).toBeDefined();
      const error = await suite.make([c!.field], { [c!.field.name]: c!.values }).catch((e: unknown) => e);
      expect(isTypedRefusal(error, c!.field.name), String(error)).toBe(true);
    },
  );
}

function describeStreaming<T>(suite: FlavourUnderTest<T>): void {
  it.each([1, 2, 7, ROWS, ROWS + 1])(
    "streams batches of exactly %i rows (the last may be short)",
    async (batchSize) => {
      const { fields, columns } = numbered(ROWS);
      const location = await suite.freshLocation();
      await table(await suite.make(fields, columns), location, {
        flavour: suite.flavour,
        rowGroupSize: 5,
      }).write();
      const sizes: number[] = [];
      const ids: unknown[] = [];
      for await (const item of suite.open(location).stream({ batchSize })) {
        const batch = await suite.asColumns(item);
        sizes.push(batch.numRows);
        ids.push(...batch.columns.id!);
      }
      expect(ids).toEqual(columns.id);
      expect(sizes.slice(0, -1).every((size) => size === batchSize)).toBe(true);
      expect(sizes.at(-1)).toBe(ROWS % batchSize || Math.min(batchSize, ROWS));
      const dropped: number[] = [];
      for await (const item of suite.open(location).stream({ batchSize, dropLast: true }))
        dropped.push((await suite.asColumns(item)).numRows);
      expect(dropped).toEqual(Array(Math.floor(ROWS / batchSize)).fill(batchSize));
    },
  );

  it("shuffles reproducibly by seed", async () => {
    const { fields, columns } = numbered(60);
    const location = await suite.freshLocation();
    await table(await suite.make(fields, columns), location, {
      flavour: suite.flavour,
      rowGroupSize: 8,
    }).write();
    const order = async (seed: number) => {
      const ids: unknown[] = [];
      for await (const item of suite
        .open(location)
        .stream({ batchSize: 9, shuffle: { seed, bufferSize: 16 } }))
        ids.push(...(await suite.asColumns(item)).columns.id!);
      return ids;
    };
    const first = await order(1);
    expect(await order(1)).toEqual(first);
    expect(first).not.toEqual(columns.id);
    expect([...first].sort((a, b) => (a as number) - (b as number))).toEqual(columns.id);
    expect(await order(2)).not.toEqual(first);
  });

  it("the seed: { id: 1..6, grade: a,b,b,a,a,e } streams as (1,a)(2,b) / (3,b)(4,a) / (5,a)(6,e)", async () => {
    const fields = [t.field("id", t.int32()), t.field("grade", t.string())];
    const value = await suite.make(fields, { id: [1, 2, 3, 4, 5, 6], grade: ["a", "b", "b", "a", "a", "e"] });
    const location = await suite.freshLocation();
    await table(value, location, { flavour: suite.flavour }).write();
    const batches: unknown[][][] = [];
    for await (const item of suite.open(location).stream({ batchSize: 2 })) {
      const batch = await suite.asColumns(item);
      batches.push(batch.columns.id!.map((id, i) => [id, batch.columns.grade![i]]));
    }
    expect(batches).toEqual([
      [
        [1, "a"],
        [2, "b"],
      ],
      [
        [3, "b"],
        [4, "a"],
      ],
      [
        [5, "a"],
        [6, "e"],
      ],
    ]);
  });
}

function describeReads<T>(suite: FlavourUnderTest<T>): void {
  it("selects columns", async () => {
    const { fields, columns } = numbered(5);
    const location = await suite.freshLocation();
    await table(await suite.make(fields, columns), location, { flavour: suite.flavour }).write();
    const back = await flavourColumns(suite.flavour, await suite.open(location).fetch({ columns: ["name"] }));
    expect(back.schema.fields.map((f) => f.name)).toEqual(["name"]);
    expect(back.columns.name).toEqual(columns.name);
  });

  it("reads a Hive-partitioned table back with the partition column", async () => {
    const fields = [t.field("id", t.int32()), t.field("grade", t.string())];
    const columns = { id: [1, 2, 3, 4, 5, 6], grade: ["a", "b", "b", "a", null, "e"] };
    const location = await suite.freshLocation();
    await table(await suite.make(fields, columns), location, {
      flavour: suite.flavour,
      partitionBy: ["grade"],
    }).write();
    const back = await flavourColumns(suite.flavour, await suite.open(location).fetch());
    const rows = back.columns.id!.map((id, i) => [id, back.columns.grade![i]]);
    expect(rows.sort((a, b) => (a[0] as number) - (b[0] as number))).toEqual(
      columns.id.map((id, i) => [id, columns.grade[i]]),
    );
  });

  it("writes and reads an empty table, keeping its columns", async () => {
    const { fields } = numbered(0);
    const location = await suite.freshLocation();
    await table(await suite.make(fields, { id: [], name: [] }), location, { flavour: suite.flavour }).write();
    expect(await suite.open(location).count()).toBe(0);
    const back = await flavourColumns(suite.flavour, await suite.open(location).fetch());
    expect(back.numRows).toBe(0);
    expect(back.schema.fields.map((f) => f.name)).toEqual(["id", "name"]);
  });
}

function describeDetection<T>(suite: FlavourUnderTest<T>): void {
  it("is detected from its own values and picked by table() when registered", async () => {
    const { fields, columns } = numbered(3);
    const value = await suite.make(fields, columns);
    expect(suite.flavour.detect(value)).toBe(true);
    if (suite.flavour.name !== "plain") {
      expect(suite.flavour.detect({ id: [1, 2, 3] })).toBe(false);
      expect(suite.flavour.detect([{ id: 1 }])).toBe(false);
    }
    expect(suite.flavour.detect(null)).toBe(false);
    expect(suite.flavour.detect("text")).toBe(false);
    const registry = new PluginRegistry({ lazy: false }).use(local(), suite.flavour as TableFlavour);
    expect((await table(value, await suite.freshLocation(), { registry }).flavour()).name).toBe(
      suite.flavour.name,
    );
  });
}
