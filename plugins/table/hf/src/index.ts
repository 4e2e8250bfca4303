/**
 * @ferry/table-hf — Hugging Face datasets from any storage ferry reaches: save_to_disk folders (one split
 * or a DatasetDict, current and pre-2.8 layouts), Hub-style repositories (README YAML configs, or data
 * files named for their split as `datasets` finds them: parquet, Arrow, CSV, JSON lines) and the
 * parquet-conversion layout ({config}/{split}/NNNN.parquet).
 */
import type { BatchSource, ColumnBatch, Schema, TableFlavour } from "@ferry/plugin-kit";
import { HfDataset } from "./dataset.ts";
import {
  annotateSchema,
  featuresFromHuggingfaceMetadata,
  featuresFromSchema,
  HF_METADATA_KEY,
  huggingfaceMetadata,
} from "./features.ts";

export {
  type DatasetDescription,
  describeDataset,
  HfDataset,
  type LoadDatasetOptions,
  loadDataset,
  loadDatasetDict,
} from "./dataset.ts";
export {
  classLabelNames,
  type Feature,
  type Features,
  featureFromJson,
  featuresFromHuggingfaceMetadata,
  featuresFromJson,
  featuresFromYaml,
  featureToJson,
  HF_METADATA_KEY,
  huggingfaceMetadata,
  pythonJson,
} from "./features.ts";
export { type DatasetLayout, detectLayout, type FileFormat, fileFormat, type SplitFiles } from "./layout.ts";

export type HfFlavourOptions = {
  /** Rows per batch when an HfDataset is written as a ferry table (default 10 000). */
  batchSize?: number;
};

/** The table flavour: `table(dataset, "s3://…").write()` stores a split as a parquet table; `Table.from(…, { flavour: hf() })` reads one back as an HfDataset. */
export function hf(options: HfFlavourOptions = {}): TableFlavour<HfDataset> {
  const batchSize = options.batchSize ?? 10_000;
  return {
    name: "hf",
    detect: (value): value is HfDataset => HfDataset.isInstance(value),
    async toBatches(dataset): Promise<BatchSource> {
      // The features ride in the files' `huggingface` metadata, as `datasets` writes them, for Python to read.
      const schema = await dataset.schema();
      const metadata = {
        ...schema.metadata,
        [HF_METADATA_KEY]: huggingfaceMetadata(featuresFromSchema(schema)),
      };
      return { schema: { ...schema, metadata }, batches: dataset.stream({ batchSize }) };
    },
    async fromBatches(source) {
      const batches: ColumnBatch[] = [];
      for await (const batch of source.batches) batches.push(batch);
      return HfDataset.fromBatches(withFileFeatures(source.schema), batches);
    },
    fromBatch: (batch) => HfDataset.fromBatches(withFileFeatures(batch.schema), [batch]),
  };
}

/**
 * A table `datasets` wrote carries its features in the files' `huggingface` metadata, not in ferry's
 * field annotations: they are attached to the columns that have none.
 */
function withFileFeatures(schema: Schema): Schema {
  if (schema.fields.some((field) => field.metadata?.["hf.feature"] !== undefined)) return schema;
  const features = featuresFromHuggingfaceMetadata(schema.metadata?.[HF_METADATA_KEY], "the table");
  return annotateSchema(schema, features);
}

export default hf;
