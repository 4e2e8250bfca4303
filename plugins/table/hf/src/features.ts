/**
 * Hugging Face `Features` (datasets/features/features.py) ↔ ferry fields.
 *
 * Features arrive in two spellings: the JSON of dataset_info.json / the Arrow schema's `huggingface`
 * metadata (`{"label": {"names": [...], "_type": "ClassLabel"}}`), and the README YAML list
 * (`- name: label\n  dtype: {class_label: {names: {'0': negative}}}`). Both normalise to `Feature`.
 * The feature of each column is kept in the field's metadata under `hf.feature` (JSON), and a
 * ClassLabel's names also under `hf.class_label`, so users can map label ids to names.
 */
import { type DataType, errors, type Field, type Schema } from "@ferry/plugin-kit";

export type Feature =
  | { kind: "value"; dtype: string }
  | { kind: "class_label"; names: string[] }
  | { kind: "list"; feature: Feature; length?: number }
  | { kind: "struct"; fields: Record<string, Feature> }
  | { kind: "media"; type: string; options: Record<string, unknown> }
  | { kind: "translation"; languages: string[] }
  | { kind: "other"; type: string; spec: unknown };

export type Features = Record<string, Feature>;

const MEDIA = new Set(["Image", "Audio", "Video", "Pdf", "Nifti", "Mesh"]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A feature from dataset_info.json / Arrow metadata JSON. */
export function featureFromJson(spec: unknown, where: string): Feature {
  if (Array.isArray(spec)) {
    if (spec.length !== 1)
      throw errors.invalidInput(`${where}: a list feature must have exactly one item feature`);
    return { kind: "list", feature: featureFromJson(spec[0], where) };
  }
  if (!isRecord(spec))
    throw errors.invalidInput(`${where}: a feature must be an object, got ${JSON.stringify(spec)}`);
  const type = spec._type;
  if (type === undefined) {
    const fields: Record<string, Feature> = {};
    for (const [name, child] of Object.entries(spec))
      fields[name] = featureFromJson(child, `${where}.${name}`);
    return { kind: "struct", fields };
  }
  switch (type) {
    case "Value":
      if (typeof spec.dtype !== "string")
        throw errors.invalidInput(`${where}: Value feature without a dtype`);
      return { kind: "value", dtype: spec.dtype };
    case "ClassLabel": {
      const names = spec.names;
      if (!Array.isArray(names) || !names.every((name) => typeof name === "string")) {
        // Old files may carry only num_classes: names are then the indexes.
        if (typeof spec.num_classes === "number") {
          return {
            kind: "class_label",
            names: Array.from({ length: spec.num_classes }, (_, index) => String(index)),
          };
        }
        throw errors.invalidInput(`${where}: ClassLabel feature without names`);
      }
      return { kind: "class_label", names };
    }
    case "List":
    case "LargeList":
    case "Sequence": {
      const item = featureFromJson(spec.feature, `${where}[]`);
      const length = typeof spec.length === "number" && spec.length >= 0 ? spec.length : undefined;
      // Sequence of a dict is a dict of lists (TFDS compatibility, as datasets does).
      if (type === "Sequence" && item.kind === "struct") {
        const fields: Record<string, Feature> = {};
        for (const [name, child] of Object.entries(item.fields))
          fields[name] = withLength({ kind: "list", feature: child }, length);
        return { kind: "struct", fields };
      }
      return withLength({ kind: "list", feature: item }, length);
    }
    case "Translation":
      return { kind: "translation", languages: [...((spec.languages as string[] | undefined) ?? [])].sort() };
    default:
      if (typeof type === "string" && MEDIA.has(type)) {
        const { _type: _, ...options } = spec;
        return { kind: "media", type, options };
      }
      return { kind: "other", type: String(type), spec };
  }
}

function withLength(feature: Feature & { kind: "list" }, length: number | undefined): Feature {
  return length === undefined ? feature : { ...feature, length };
}

export function featuresFromJson(spec: unknown, where: string): Features {
  if (!isRecord(spec)) throw errors.invalidInput(`${where}: features must be an object`);
  const features: Features = {};
  for (const [name, child] of Object.entries(spec))
    features[name] = featureFromJson(child, `${where}.${name}`);
  return features;
}

/** A feature from the README YAML list form (`Features._to_yaml_list`). */
function featureFromYaml(entry: Record<string, unknown>, where: string): Feature {
  if ("dtype" in entry) return yamlDtype(entry.dtype, where);
  if ("list" in entry) return { kind: "list", feature: yamlDtypeOrFields(entry.list, where) };
  if ("sequence" in entry) return { kind: "list", feature: yamlDtypeOrFields(entry.sequence, where) };
  if ("struct" in entry) return yamlDtypeOrFields(entry.struct, where);
  throw errors.invalidInput(`${where}: feature has no dtype, list, sequence or struct`);
}

function yamlDtypeOrFields(value: unknown, where: string): Feature {
  if (Array.isArray(value)) return { kind: "struct", fields: featuresFromYaml(value, where) };
  if (isRecord(value) && ("dtype" in value || "list" in value || "struct" in value))
    return featureFromYaml(value, where);
  return yamlDtype(value, where);
}

function yamlDtype(dtype: unknown, where: string): Feature {
  if (typeof dtype === "string") {
    if (MEDIA.has(dtype.charAt(0).toUpperCase() + dtype.slice(1))) {
      return { kind: "media", type: dtype.charAt(0).toUpperCase() + dtype.slice(1), options: {} };
    }
    return { kind: "value", dtype };
  }
  if (isRecord(dtype) && isRecord(dtype.class_label)) {
    const names = dtype.class_label.names;
    if (isRecord(names)) {
      const ordered = Object.entries(names).sort(([a], [b]) => Number(a) - Number(b));
      return { kind: "class_label", names: ordered.map(([, name]) => String(name)) };
    }
    if (Array.isArray(names)) return { kind: "class_label", names: names.map(String) };
  }
  if (isRecord(dtype) && ("list" in dtype || "struct" in dtype || "sequence" in dtype))
    return featureFromYaml(dtype, where);
  if (Array.isArray(dtype)) return { kind: "struct", fields: featuresFromYaml(dtype, where) };
  return { kind: "other", type: "yaml", spec: dtype };
}

export function featuresFromYaml(list: unknown, where: string): Features {
  if (!Array.isArray(list)) throw errors.invalidInput(`${where}: features must be a YAML list`);
  const features: Features = {};
  for (const entry of list) {
    if (!isRecord(entry) || typeof entry.name !== "string")
      throw errors.invalidInput(`${where}: each feature needs a name`);
    features[entry.name] = featureFromYaml(entry, `${where}.${entry.name}`);
  }
  return features;
}

/** The JSON spelling (as in dataset_info.json) of a feature. */
export function featureToJson(feature: Feature): unknown {
  switch (feature.kind) {
    case "value":
      return { dtype: feature.dtype, _type: "Value" };
    case "class_label":
      return { names: feature.names, _type: "ClassLabel" };
    case "list":
      return {
        feature: featureToJson(feature.feature),
        ...(feature.length === undefined ? {} : { length: feature.length }),
        _type: "List",
      };
    case "struct":
      return Object.fromEntries(
        Object.entries(feature.fields).map(([name, child]) => [name, featureToJson(child)]),
      );
    case "media":
      return { ...feature.options, _type: feature.type };
    case "translation":
      return { languages: feature.languages, _type: "Translation" };
    case "other":
      return feature.spec;
  }
}

/** `json.dumps(value)` as Python writes it: ", " and ": " separators, every non-ASCII character escaped. */
export function pythonJson(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "string")
    return JSON.stringify(value).replace(
      /[\u007f-\uffff]/g,
      (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(", ")}]`;
  if (isRecord(value))
    return `{${Object.entries(value)
      .map(([key, item]) => `${pythonJson(key)}: ${pythonJson(item)}`)
      .join(", ")}}`;
  throw errors.invalidInput(`a Hugging Face feature cannot hold ${typeof value} values`);
}

/** Where `datasets` keeps a split's Features in parquet and Arrow metadata. */
export const HF_METADATA_KEY = "huggingface";

/** The value `datasets` writes under the `huggingface` key (ArrowWriter._build_metadata, no fingerprint). */
export function huggingfaceMetadata(features: Features): string {
  const json = Object.fromEntries(Object.entries(features).map(([name, f]) => [name, featureToJson(f)]));
  return pythonJson({ info: { features: json } });
}

/** Features from a `huggingface` metadata value (undefined when there is none or it names no features). */
export function featuresFromHuggingfaceMetadata(
  text: string | undefined,
  where: string,
): Features | undefined {
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw errors.invalidInput(
      `${where}: its "huggingface" metadata is not JSON (${(error as Error).message})`,
      {
        cause: error,
      },
    );
  }
  const features = isRecord(parsed) && isRecord(parsed.info) ? parsed.info.features : undefined;
  return features === undefined ? undefined : featuresFromJson(features, `${where} "huggingface" metadata`);
}

/** Attach each column's feature (and ClassLabel names) to the schema read from the data files. */
export function annotateSchema(schema: Schema, features: Features | undefined): Schema {
  if (!features) return schema;
  return {
    ...schema,
    fields: schema.fields.map((field) => annotateField(field, features[field.name])),
  };
}

function annotateField(field: Field, feature: Feature | undefined): Field {
  if (!feature) return field;
  const metadata: Record<string, string> = {
    ...(field.metadata ?? {}),
    "hf.feature": JSON.stringify(featureToJson(feature)),
  };
  if (feature.kind === "class_label") metadata["hf.class_label"] = JSON.stringify(feature.names);
  return { ...field, metadata };
}

/** The ClassLabel names of a field, if it has any. */
export function classLabelNames(field: Field): string[] | undefined {
  const names = field.metadata?.["hf.class_label"];
  return names === undefined ? undefined : (JSON.parse(names) as string[]);
}

/** Features rebuilt from a ferry schema (used when ferry data becomes an HF dataset). */
export function featuresFromSchema(schema: Schema): Features {
  const features: Features = {};
  for (const field of schema.fields) {
    const stored = field.metadata?.["hf.feature"];
    features[field.name] =
      stored === undefined ? featureFromType(field.type) : featureFromJson(JSON.parse(stored), field.name);
  }
  return features;
}

function featureFromType(type: DataType): Feature {
  switch (type.type) {
    case "null":
      return { kind: "value", dtype: "null" };
    case "bool":
      return { kind: "value", dtype: "bool" };
    case "int":
      return { kind: "value", dtype: `${type.signed ? "" : "u"}int${type.bits}` };
    case "float":
      return { kind: "value", dtype: `float${type.bits}` };
    case "string":
      return { kind: "value", dtype: "string" };
    case "binary":
      return { kind: "value", dtype: "binary" };
    case "date":
      return { kind: "value", dtype: "date32" };
    case "timestamp":
      return {
        kind: "value",
        dtype: `timestamp[${type.unit}${type.timezone ? `, tz=${type.timezone}` : ""}]`,
      };
    case "decimal":
      return { kind: "value", dtype: `decimal128(${type.precision}, ${type.scale})` };
    case "time":
      return { kind: "value", dtype: `time${type.unit === "ms" ? 32 : 64}[${type.unit}]` };
    case "duration":
      return { kind: "value", dtype: `duration[${type.unit}]` };
    case "interval":
      return { kind: "value", dtype: "month_day_nano_interval" };
    case "unreadable":
      // Never written: core refuses to write a column it could not read.
      return { kind: "value", dtype: "null" };
    case "list":
      return { kind: "list", feature: featureFromType(type.item.type) };
    case "struct":
      return {
        kind: "struct",
        fields: Object.fromEntries(type.fields.map((field) => [field.name, featureFromType(field.type)])),
      };
  }
}
