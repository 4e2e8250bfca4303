/**
 * The type catalogue describeTableFlavour round-trips: one column per ferry type, with extremes and
 * nulls, named by `describeType` so a flavour declares what it refuses or converts by those names.
 */

import { describeType } from "@ferry/parquet";
import { type DataType, type Field, type Schema, t } from "@ferry/plugin-kit";

export interface TypeCase {
  /** `describeType(field.type)`, e.g. "int64", "timestamp[ns]", "list<int32>". */
  readonly name: string;
  readonly field: Field;
  readonly values: readonly unknown[];
}

function typeCase(column: string, type: DataType, values: readonly unknown[]): TypeCase {
  return { name: describeType(type), field: t.field(column, type), values };
}

export const TYPE_CASES: readonly TypeCase[] = [
  typeCase("bool", t.bool(), [true, false, null]),
  typeCase("int8", t.int8(), [-128, 127, null]),
  typeCase("int16", t.int16(), [-32768, 32767, null]),
  typeCase("int32", t.int32(), [-2147483648, 2147483647, null]),
  typeCase("int64", t.int64(), [-(2n ** 63n), 2n ** 63n - 1n, null]),
  typeCase("uint8", t.uint8(), [0, 255, null]),
  typeCase("uint16", t.uint16(), [0, 65535, null]),
  typeCase("uint32", t.uint32(), [0, 4294967295, null]),
  typeCase("uint64", t.uint64(), [0n, 2n ** 64n - 1n, null]),
  typeCase("float32", t.float32(), [1.5, -0.25, null]),
  typeCase("float64", t.float64(), [0.1 + 0.2, -1e300, null]),
  typeCase("string", t.string(), ["héllo ✓", "", null]),
  typeCase("binary", t.binary(), [new Uint8Array([0, 255, 7]), new Uint8Array(), null]),
  typeCase("date", t.date(), [new Date("2024-02-29T00:00:00Z"), new Date("1969-12-31T00:00:00Z"), null]),
  typeCase("ts_s", t.timestamp("s", "UTC"), [new Date("2024-01-02T03:04:05Z"), new Date(0), null]),
  typeCase("ts_ms", t.timestamp("ms"), [new Date("2024-01-02T03:04:05.678Z"), new Date(-1), null]),
  typeCase("ts_us", t.timestamp("us", "UTC"), [1_704_164_645_678_901n, -1n, null]),
  typeCase("ts_ns", t.timestamp("ns"), [1_704_164_645_678_901_234n, 0n, null]),
  typeCase("decimal", t.decimal(20, 4), ["1234567890123456.7890", "-0.0001", null]),
  typeCase("list", t.list(t.int32()), [[1, null, 3], [], null]),
  typeCase("list_str", t.list(t.string()), [["a", "b"], [null], null]),
  typeCase("struct", t.struct([t.field("x", t.float64()), t.field("label", t.string())]), [
    { x: 1.25, label: "p" },
    { x: -1, label: null },
    null,
  ]),
  typeCase("nulls", t.null(), [null, null, null]),
];

/** The seed table: `{ id: 1..6, grade: a,b,b,a,a,e }`. */
export const SEED_SCHEMA: Schema = { fields: [t.field("id", t.int64()), t.field("grade", t.string())] };
export const SEED_COLUMNS = { id: [1n, 2n, 3n, 4n, 5n, 6n], grade: ["a", "b", "b", "a", "a", "e"] };
