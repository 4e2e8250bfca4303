/** ferry types ⇄ apache-arrow types, field and schema metadata included. */
import { type DataType, errors, type Field, type Schema } from "@ferry/plugin-kit";
import * as A from "apache-arrow";

const UNITS = {
  s: A.TimeUnit.SECOND,
  ms: A.TimeUnit.MILLISECOND,
  us: A.TimeUnit.MICROSECOND,
  ns: A.TimeUnit.NANOSECOND,
} as const;
const UNIT_NAMES = ["s", "ms", "us", "ns"] as const;

function toMap(metadata: Readonly<Record<string, string>> | undefined): Map<string, string> {
  return new Map(Object.entries(metadata ?? {}));
}

function fromMap(metadata: Map<string, string> | undefined): Record<string, string> | undefined {
  return metadata && metadata.size > 0 ? Object.fromEntries(metadata) : undefined;
}

export function toArrowType(type: DataType, column: string): A.DataType {
  switch (type.type) {
    case "null":
      return new A.Null();
    case "bool":
      return new A.Bool();
    case "int":
      return new A.Int(type.signed, type.bits);
    case "float":
      return new A.Float(
        type.bits === 16 ? A.Precision.HALF : type.bits === 32 ? A.Precision.SINGLE : A.Precision.DOUBLE,
      );
    case "string":
      return new A.Utf8();
    case "binary":
      return new A.Binary();
    case "date":
      return new A.DateDay();
    case "timestamp":
      return new A.Timestamp(UNITS[type.unit], type.timezone ?? null);
    case "time":
      return type.unit === "ms" ? new A.TimeMillisecond() : new A.Time(UNITS[type.unit], 64);
    case "duration":
      return new A.Duration(UNITS[type.unit]);
    case "interval":
      return new A.Interval(A.IntervalUnit.MONTH_DAY_NANO);
    case "unreadable":
      throw errors.unsupported(`column "${column}" cannot be read: ${type.reason}`);
    case "decimal":
      return new A.Decimal(type.scale, type.precision, type.precision > 38 ? 256 : 128);
    case "list":
      return new A.List(toArrowField(type.item, `${column}[]`));
    case "struct":
      return new A.Struct(type.fields.map((f) => toArrowField(f, `${column}.${f.name}`)));
  }
}

export function toArrowField(field: Field, column = field.name): A.Field {
  return new A.Field(field.name, toArrowType(field.type, column), field.nullable, toMap(field.metadata));
}

export function toArrowSchema(schema: Schema): A.Schema {
  return new A.Schema(
    schema.fields.map((f) => toArrowField(f)),
    toMap(schema.metadata),
  );
}

function unsupported(column: string, type: A.DataType): never {
  throw errors.unsupported(
    `column "${column}" has arrow type ${String(type)}, which ferry's tables cannot hold`,
  );
}

export function fromArrowType(type: A.DataType, column: string): DataType {
  if (A.DataType.isNull(type)) return { type: "null" };
  if (A.DataType.isBool(type)) return { type: "bool" };
  if (A.DataType.isInt(type))
    return { type: "int", bits: type.bitWidth as 8 | 16 | 32 | 64, signed: type.isSigned };
  if (A.DataType.isFloat(type)) {
    return {
      type: "float",
      bits: type.precision === A.Precision.HALF ? 16 : type.precision === A.Precision.SINGLE ? 32 : 64,
    };
  }
  if (A.DataType.isUtf8(type) || A.DataType.isLargeUtf8(type) || A.DataType.isUtf8View(type))
    return { type: "string" };
  if (
    A.DataType.isBinary(type) ||
    A.DataType.isLargeBinary(type) ||
    A.DataType.isFixedSizeBinary(type) ||
    A.DataType.isBinaryView(type)
  ) {
    return { type: "binary" };
  }
  if (A.DataType.isDate(type)) return { type: "date" };
  if (A.DataType.isTimestamp(type)) {
    const unit = UNIT_NAMES[type.unit]!;
    return type.timezone ? { type: "timestamp", unit, timezone: type.timezone } : { type: "timestamp", unit };
  }
  if (A.DataType.isDecimal(type)) return { type: "decimal", precision: type.precision, scale: type.scale };
  // Seconds have no parquet TIME unit: arrow's time32[s] becomes milliseconds (from-arrow.ts scales the values).
  if (A.DataType.isTime(type))
    return { type: "time", unit: type.unit === A.TimeUnit.SECOND ? "ms" : UNIT_NAMES[type.unit]! };
  if (A.DataType.isDuration(type)) return { type: "duration", unit: UNIT_NAMES[type.unit]! };
  if (A.DataType.isInterval(type)) return { type: "interval" };
  if (A.DataType.isList(type) || A.DataType.isLargeList(type) || A.DataType.isFixedSizeList(type)) {
    const child = type.children[0]!;
    return { type: "list", item: fromArrowField(child, `${column}[]`) };
  }
  if (A.DataType.isStruct(type))
    return { type: "struct", fields: type.children.map((f) => fromArrowField(f, `${column}.${f.name}`)) };
  if (A.DataType.isMap(type)) {
    const entries = type.children[0]!;
    return { type: "list", item: { ...fromArrowField(entries, `${column}.entries`), nullable: false } };
  }
  if (A.DataType.isDictionary(type)) return fromArrowType(type.dictionary, column);
  return unsupported(column, type);
}

export function fromArrowField(field: A.Field, column = field.name): Field {
  const metadata = fromMap(field.metadata);
  return {
    name: field.name,
    type: fromArrowType(field.type, column),
    // arrow builds Null columns non-nullable; every value of one is null.
    nullable: field.nullable || A.DataType.isNull(field.type),
    ...(metadata ? { metadata } : {}),
  };
}

export function fromArrowSchema(schema: A.Schema): Schema {
  const metadata = fromMap(schema.metadata);
  return { fields: schema.fields.map((f) => fromArrowField(f)), ...(metadata ? { metadata } : {}) };
}
