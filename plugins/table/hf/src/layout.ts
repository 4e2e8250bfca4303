/**
 * Finding a Hugging Face dataset on any storage: which of the on-disk layouts it uses, and which files
 * make up each split (research: datasets `save_to_disk`/`load_from_disk`, `push_to_hub`, the packaged
 * builders' default data_files patterns in data_files.py, the dataset viewer's `refs/convert/parquet`):
 * - DatasetDict from save_to_disk: `dataset_dict.json` + one save_to_disk folder per split (a listed
 *   split whose folder is missing is left out, with a note);
 * - one split from save_to_disk: `state.json` (+ `dataset_info.json`) and Arrow IPC stream shards
 *   `data-NNNNN-of-NNNNN.arrow`, or the pre-2.8 single `dataset.arrow`;
 * - a Hub repository: README.md YAML `configs` (+ `dataset_info` features), or, without configs, the
 *   default patterns `datasets` applies, first match wins: `data/{split}-NNNNN-of-NNNNN*.*`; folders
 *   named for a split (`train/`, `data/dev/`, `my_test/`); files named for one (`train.csv`,
 *   `test-00000-of-00001.parquet`); with a card and none of those, every data file is `train`;
 * - the parquet conversion branch: `{config}/{split}/NNNN.parquet` (and `partial-{split}`).
 * Data files are parquet, Arrow, CSV or JSON lines. A tree that matches none of these (a Hive table,
 * `x/y/*.parquet`, a ferry table folder) is not a dataset.
 */
import { errors, FerryError, joinKey, relativeKey, type Storage } from "@ferry/plugin-kit";
import picomatch from "picomatch";
import { parse as parseYaml } from "yaml";
import { type Features, featuresFromJson, featuresFromYaml } from "./features.ts";

export type FileFormat = "arrow" | "parquet" | "csv" | "json";

const FORMATS: readonly (readonly [RegExp, FileFormat])[] = [
  [/\.parquet$/i, "parquet"],
  [/\.arrow$/i, "arrow"],
  [/\.csv$/i, "csv"],
  [/\.(jsonl|ndjson|json)$/i, "json"],
];

/** The format of a data file by its extension; undefined for anything else (README.md, .gitattributes). */
export function fileFormat(file: string): FileFormat | undefined {
  if (file.split("/").some((segment) => segment.startsWith("."))) return undefined;
  return FORMATS.find(([pattern]) => pattern.test(file))?.[1];
}

export interface SplitFiles {
  split: string;
  format: FileFormat;
  /** Keys in the storage, in shard order. */
  files: string[];
  features?: Features | undefined;
  /** Row count when the metadata states it (dataset_info splits). */
  numRows?: number | undefined;
}

export interface DatasetLayout {
  kind: "dataset_dict" | "save_to_disk" | "hub" | "parquet_convert";
  /** Config names (Hub layouts); ["default"] otherwise. */
  configs: string[];
  /** Split names of the chosen config, in the order the metadata lists them (the ones present). */
  splits: string[];
  /** What was left out and why (a split listed in dataset_dict.json whose folder is missing). */
  notes: string[];
  /** Files of one split of one config. */
  resolve(split: string, config?: string): Promise<SplitFiles>;
}

async function readText(storage: Storage, path: string): Promise<string | undefined> {
  try {
    return new TextDecoder().decode(await storage.readBytes(path));
  } catch (error) {
    if (FerryError.isInstance(error, "NotFound")) return undefined;
    throw error;
  }
}

async function readJson(storage: Storage, path: string): Promise<Record<string, unknown> | undefined> {
  const text = await readText(storage, path);
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== "object" || value === null || Array.isArray(value))
      throw new Error("not a JSON object");
    return value as Record<string, unknown>;
  } catch (error) {
    throw errors.invalidInput(`${storage.root}/${path} is not valid JSON: ${(error as Error).message}`, {
      system: storage.system,
      path,
      cause: error,
    });
  }
}

function display(storage: Storage, path: string): string {
  return `${storage.root.replace(/\/$/, "")}/${path}`;
}

/** Detect the layout of the dataset at `base`. NotFound when nothing there looks like a dataset. */
export async function detectLayout(storage: Storage, base: string): Promise<DatasetLayout> {
  const dict = await readJson(storage, joinKey(base, "dataset_dict.json"));
  if (dict) return datasetDictLayout(storage, base, dict);
  const state = await readJson(storage, joinKey(base, "state.json"));
  if (state) return saveToDiskLayout(storage, base, state);
  const readme = await readText(storage, joinKey(base, "README.md"));
  const files = await listFiles(storage, base);
  const card =
    readme === undefined ? undefined : parseCard(readme, display(storage, joinKey(base, "README.md")));
  if (card?.configs && card.configs.length > 0)
    return hubLayout(storage, base, files, card, cardConfigs(storage, base, card));
  const dataFiles = files.filter((file) => fileFormat(file) !== undefined);
  if (dataFiles.length > 0 && dataFiles.every((file) => CONVERTED.test(file)))
    return convertLayout(storage, base, files);
  const splits = defaultSplitPatterns(dataFiles, card !== undefined);
  if (splits) return hubLayout(storage, base, files, card, new Map([["default", splits]]));
  throw errors.notFound(
    `no Hugging Face dataset at ${display(storage, base)}: expected dataset_dict.json, state.json, a README.md with configs, data files named for their split (train.parquet, data/test-00000-of-00001.parquet, validation/*.csv, ...), or {config}/{split}/NNNN.parquet`,
    { system: storage.system, path: base },
  );
}

const SPLIT_NAME = /^\w+(\.\w+)*$/;
const SHARDED = /^data\/([^/]+)-\d{5}-of-\d{5}[^/]*\.[^/]+$/;
const KEYWORDS: Record<string, string[]> = {
  train: ["train", "training"],
  validation: ["validation", "valid", "dev", "val"],
  test: ["test", "testing", "eval", "evaluation"],
};
const SEP = "[-._ 0-9]";
const IN_DIR_NAME = ["**/{k}/**", `**/{k}${SEP}*/**`, `**/*${SEP}{k}/**`, `**/*${SEP}{k}${SEP}*/**`];
const IN_FILE_NAME = [`**/{k}${SEP}*`, `**/*${SEP}{k}${SEP}*`];

/**
 * Split → glob patterns as `datasets` infers them for data files without configs
 * (data_files.py `_get_data_files_patterns`); undefined when no pattern matches.
 */
function defaultSplitPatterns(files: readonly string[], hasCard: boolean): Map<string, string[]> | undefined {
  const sharded = new Set<string>();
  for (const file of files) {
    const split = SHARDED.exec(file)?.[1];
    if (split !== undefined && SPLIT_NAME.test(split)) sharded.add(split);
  }
  if (sharded.size > 0) {
    const named = Object.keys(KEYWORDS).filter((split) => sharded.has(split));
    const others = [...sharded].filter((split) => !(split in KEYWORDS)).sort();
    return new Map(
      [...named, ...others].map((split) => [
        split,
        [`data/${split}-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9]*.*`],
      ]),
    );
  }
  for (const templates of [IN_DIR_NAME, IN_FILE_NAME]) {
    const splits = new Map<string, string[]>();
    for (const [split, keywords] of Object.entries(KEYWORDS)) {
      const patterns = keywords.flatMap((keyword) => templates.map((t) => t.replaceAll("{k}", keyword)));
      const matchers = patterns.map((pattern) => picomatch(pattern));
      if (files.some((file) => matchers.some((match) => match(file)))) splits.set(split, patterns);
    }
    if (splits.size > 0) return splits;
  }
  // A dataset card with data files named for no split: they are all `train`, as datasets takes them.
  return hasCard && files.length > 0 ? new Map([["train", ["**"]]]) : undefined;
}

async function listFiles(storage: Storage, base: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of storage.list(base, { recursive: true })) {
    const relative = relativeKey(base, entry.path);
    if (relative !== undefined && relative !== "") files.push(relative);
  }
  return files;
}

async function datasetDictLayout(
  storage: Storage,
  base: string,
  dict: Record<string, unknown>,
): Promise<DatasetLayout> {
  const listed = dict.splits;
  if (!Array.isArray(listed) || !listed.every((split) => typeof split === "string")) {
    throw errors.invalidInput(`${display(storage, joinKey(base, "dataset_dict.json"))} has no "splits" list`);
  }
  const missing = (split: string) =>
    `split "${split}" is listed in dataset_dict.json but ${display(storage, joinKey(base, split, "state.json"))} is missing`;
  const present: string[] = [];
  for (const split of listed)
    if (await storage.exists(joinKey(base, split, "state.json"))) present.push(split);
  const absent = listed.filter((split) => !present.includes(split));
  if (present.length === 0 && absent.length > 0)
    throw errors.notFound(absent.map(missing).join("; "), { system: storage.system, path: base });
  return {
    kind: "dataset_dict",
    configs: ["default"],
    splits: present,
    notes: absent.map((split) => `${missing(split)}; loaded ${present.map((s) => `"${s}"`).join(", ")}`),
    async resolve(split) {
      if (!listed.includes(split)) {
        throw errors.notFound(
          `split "${split}" is not in this DatasetDict; it has ${listed.map((s) => `"${s}"`).join(", ")}`,
          {
            system: storage.system,
            path: base,
          },
        );
      }
      const splitBase = joinKey(base, split);
      const state = await readJson(storage, joinKey(splitBase, "state.json"));
      if (!state) {
        throw errors.notFound(missing(split), {
          system: storage.system,
          path: joinKey(splitBase, "state.json"),
        });
      }
      const layout = await saveToDiskLayout(storage, splitBase, state, split);
      return layout.resolve(split);
    },
  };
}

async function saveToDiskLayout(
  storage: Storage,
  base: string,
  state: Record<string, unknown>,
  listedSplit?: string,
): Promise<DatasetLayout> {
  const info = await readJson(storage, joinKey(base, "dataset_info.json"));
  const split = typeof state._split === "string" ? state._split : (listedSplit ?? "train");
  const dataFiles = state._data_files;
  let shards: string[];
  if (dataFiles === undefined) {
    shards = ["dataset.arrow"]; // datasets < 2.8 wrote one file
  } else if (
    Array.isArray(dataFiles) &&
    dataFiles.every((file) => typeof (file as { filename?: unknown })?.filename === "string")
  ) {
    shards = dataFiles.map((file) => (file as { filename: string }).filename);
  } else {
    throw errors.invalidInput(
      `${display(storage, joinKey(base, "state.json"))}: "_data_files" must list {"filename": ...} objects`,
    );
  }
  for (const shard of shards) {
    if (shard.includes("/") || shard === "." || shard === "..") {
      throw errors.invalidInput(
        `${display(storage, joinKey(base, "state.json"))} names a shard outside its folder: ${shard}`,
      );
    }
  }
  const features =
    info?.features === undefined
      ? undefined
      : featuresFromJson(info.features, `${display(storage, joinKey(base, "dataset_info.json"))} features`);
  const numRows = splitRows(info, split);
  return {
    kind: "save_to_disk",
    configs: ["default"],
    splits: [split],
    notes: [],
    async resolve() {
      const files = shards.map((shard) => joinKey(base, shard));
      for (const file of files) {
        if (!(await storage.exists(file))) {
          throw errors.notFound(
            `split "${split}": shard ${display(storage, file)} listed in state.json is missing`,
            {
              system: storage.system,
              path: file,
            },
          );
        }
      }
      return { split, format: "arrow", files, features, numRows };
    },
  };
}

function splitRows(info: Record<string, unknown> | undefined, split: string): number | undefined {
  const splits = info?.splits;
  if (Array.isArray(splits)) {
    const found = splits.find((entry) => (entry as { name?: string })?.name === split) as
      | { num_examples?: number }
      | undefined;
    return found?.num_examples;
  }
  if (splits && typeof splits === "object")
    return (splits as Record<string, { num_examples?: number }>)[split]?.num_examples;
  return undefined;
}

interface CardConfig {
  config_name: string;
  data_files?: unknown;
  default?: boolean;
}

interface Card {
  configs?: CardConfig[];
  datasetInfo?: Record<string, unknown> | Array<Record<string, unknown>> | undefined;
}

/** The YAML front matter of a dataset card. */
export function parseCard(readme: string, where: string): Card {
  const match = /^---\r?\n([\s\S]*?)\r?\n---\s*(\r?\n|$)/.exec(readme);
  if (!match) return {};
  let yaml: unknown;
  try {
    yaml = parseYaml(match[1]!);
  } catch (error) {
    throw errors.invalidInput(`${where}: the YAML header does not parse: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (typeof yaml !== "object" || yaml === null) return {};
  const record = yaml as Record<string, unknown>;
  const card: Card = {};
  if (record.configs !== undefined) {
    if (
      !Array.isArray(record.configs) ||
      !record.configs.every((config) => typeof (config as CardConfig)?.config_name === "string")
    ) {
      throw errors.invalidInput(`${where}: "configs" must be a list of entries with a config_name`);
    }
    card.configs = record.configs as CardConfig[];
  }
  if (record.dataset_info !== undefined) card.datasetInfo = record.dataset_info as Card["datasetInfo"];
  return card;
}

function infoFor(card: Card | undefined, config: string): Record<string, unknown> | undefined {
  const info = card?.datasetInfo;
  if (Array.isArray(info)) return info.find((entry) => (entry.config_name ?? "default") === config);
  if (info && ((info.config_name as string | undefined) ?? "default") === config) return info;
  return undefined;
}

/** Split → glob patterns of one config's `data_files`. */
function dataFilePatterns(config: CardConfig, where: string): Map<string, string[]> {
  const patterns = new Map<string, string[]>();
  const add = (split: string, path: unknown) => {
    const list = Array.isArray(path) ? path : [path];
    if (!list.every((item) => typeof item === "string"))
      throw errors.invalidInput(`${where}: data_files paths must be strings`);
    patterns.set(split, [...(patterns.get(split) ?? []), ...(list as string[])]);
  };
  const files = config.data_files;
  if (typeof files === "string") add("train", files);
  else if (Array.isArray(files)) {
    for (const item of files) {
      if (typeof item === "string") add("train", item);
      else if (item && typeof item === "object" && typeof (item as { split?: unknown }).split === "string") {
        add((item as { split: string }).split, (item as { path?: unknown }).path);
      } else throw errors.invalidInput(`${where}: each data_files entry needs a split and a path`);
    }
  } else if (files && typeof files === "object") {
    for (const [split, path] of Object.entries(files)) add(split, path);
  } else {
    throw errors.invalidInput(`${where}: config "${config.config_name}" has no data_files`);
  }
  return patterns;
}

/** Config → split → patterns, from the card's `configs`. */
function cardConfigs(storage: Storage, base: string, card: Card): Map<string, Map<string, string[]>> {
  const where = display(storage, joinKey(base, "README.md"));
  const configs = new Map<string, Map<string, string[]>>();
  for (const config of card.configs ?? [])
    configs.set(config.config_name, dataFilePatterns(config, `${where} configs`));
  return configs;
}

/** The files of one split: the most common data format among those its patterns match. */
function splitFiles(
  storage: Storage,
  base: string,
  files: readonly string[],
  patterns: readonly string[],
  what: string,
): { format: FileFormat; files: string[] } {
  const matchers = patterns.map((pattern) => picomatch(pattern.replace(/^\.\//, "")));
  const matched = files
    .filter((file) => matchers.some((match) => match(file)) || patterns.includes(file))
    .sort();
  const counts = new Map<FileFormat, number>();
  for (const file of matched) {
    const format = fileFormat(file);
    if (format) counts.set(format, (counts.get(format) ?? 0) + 1);
  }
  const format = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  if (format === undefined) {
    if (matched.length > 0)
      throw errors.unsupported(
        `${what}: ${matched[0]} is not parquet, Arrow, CSV or JSON lines; only those formats are read`,
        { system: storage.system, path: joinKey(base, matched[0]!) },
      );
    throw errors.notFound(`${what}: no file matches ${patterns.join(", ")} under ${display(storage, base)}`, {
      system: storage.system,
      path: base,
    });
  }
  return { format, files: matched.filter((file) => fileFormat(file) === format) };
}

function hubLayout(
  storage: Storage,
  base: string,
  files: string[],
  card: Card | undefined,
  configs: Map<string, Map<string, string[]>>,
): DatasetLayout {
  const where = display(storage, joinKey(base, "README.md"));
  const defaultConfig =
    card?.configs?.find((config) => config.default)?.config_name ?? [...configs.keys()][0]!;
  return {
    kind: "hub",
    configs: [...configs.keys()],
    splits: [...(configs.get(defaultConfig)?.keys() ?? [])],
    notes: [],
    async resolve(split, config = defaultConfig) {
      const patterns = configs.get(config);
      if (!patterns) {
        throw errors.notFound(
          `config "${config}" is not in ${where}; it has ${[...configs.keys()].map((c) => `"${c}"`).join(", ")}`,
        );
      }
      const splitPatterns = patterns.get(split);
      if (!splitPatterns) {
        throw errors.notFound(
          `split "${split}" is not in config "${config}"; it has ${[...patterns.keys()].map((s) => `"${s}"`).join(", ")}`,
        );
      }
      const found = splitFiles(storage, base, files, splitPatterns, `split "${split}" of config "${config}"`);
      const info = infoFor(card, config);
      const features =
        info?.features === undefined
          ? undefined
          : featuresFromYaml(info.features, `${where} dataset_info.features`);
      return {
        split,
        format: found.format,
        files: found.files.map((file) => joinKey(base, file)),
        features,
        numRows: splitRows(info, split),
      };
    },
  };
}

/** `{config}/{split}/NNNN.parquet` of the conversion branch (a `data/` folder is a Hub repo's, not a config). */
const CONVERTED = /^(?!data\/)([^/]+)\/((?:partial-)?[^/]+)\/(\d{4}\.parquet)$/;

function convertLayout(storage: Storage, base: string, files: string[]): DatasetLayout {
  const configs = new Map<string, Map<string, string[]>>();
  for (const file of files) {
    const match = CONVERTED.exec(file);
    if (!match) continue;
    const [, config, split] = match;
    const splits = configs.get(config!) ?? new Map<string, string[]>();
    splits.set(split!, [...(splits.get(split!) ?? []), file]);
    configs.set(config!, splits);
  }
  const first = configs.has("default") ? "default" : [...configs.keys()].sort()[0]!;
  return {
    kind: "parquet_convert",
    configs: [...configs.keys()].sort(),
    splits: [...(configs.get(first)?.keys() ?? [])],
    notes: [],
    async resolve(split, config = first) {
      const splits = configs.get(config);
      if (!splits)
        throw errors.notFound(
          `config "${config}" has no folder here; configs: ${[...configs.keys()].join(", ")}`,
        );
      const list = splits.get(split) ?? splits.get(`partial-${split}`);
      if (!list)
        throw errors.notFound(`split "${split}" of config "${config}" has no parquet files`, {
          system: storage.system,
        });
      return {
        split,
        format: "parquet",
        files: list.sort().map((file) => joinKey(base, file)),
        features: undefined,
      };
    },
  };
}
