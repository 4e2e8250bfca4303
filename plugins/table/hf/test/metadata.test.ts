/**
 * The `huggingface` key of parquet (and Arrow) metadata: where `datasets` keeps a split's Features.
 * Read when the card has none, and written on HF tables exactly as `datasets` writes it, compared with
 * what the files in shared/data/hf carry.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Table, table } from "@ferry/core";
import { sharedData } from "@ferry/test-harness";
import { RecordBatchReader } from "apache-arrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import hf, { HfDataset, loadDataset } from "../src/index.ts";

const DATA = sharedData("hf");
const SST2 = join(DATA, "sst2_save_to_disk");
const HUB = join(DATA, "hub_parquet");

/** One key of a parquet file's key/value metadata, read from its footer. */
async function parquetKeyValue(file: string, key: string): Promise<string | undefined> {
  const reader = await Table.from(file).reader();
  const [part] = await reader.parts();
  const { metadata } = await reader.open(part!);
  return metadata.key_value_metadata?.find((kv) => kv.key === key)?.value;
}

async function arrowKeyValue(file: string, key: string): Promise<string | undefined> {
  const reader = RecordBatchReader.from(readFileSync(file));
  reader.open();
  return reader.schema.metadata.get(key);
}

function onlyPart(folder: string): string {
  const parts = readdirSync(folder).filter((name) => name.endsWith(".parquet"));
  expect(parts).toHaveLength(1);
  return join(folder, parts[0]!);
}

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "ferry-hf-metadata-"));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("Features from the parquet files' huggingface metadata", () => {
  it("a Hub repo without a card still has its ClassLabel names", async () => {
    const repo = join(scratch, "no-card");
    cpSync(join(HUB, "data"), join(repo, "data"), { recursive: true });
    const train = await loadDataset(repo, { split: "train" });
    expect(train.features).toEqual({
      text: { kind: "value", dtype: "string" },
      label: { kind: "class_label", names: ["negative", "positive"] },
    });
    expect(await train.classNames("label")).toEqual(["negative", "positive"]);
    const schema = await train.schema();
    expect(schema.fields.find((f) => f.name === "label")?.metadata?.["hf.feature"]).toBe(
      JSON.stringify({ names: ["negative", "positive"], _type: "ClassLabel" }),
    );
  });

  it("Table.from(a file datasets wrote, { flavour: hf() }) has its ClassLabel names too", async () => {
    const file = join(HUB, "data", "train-00000-of-00001.parquet");
    const train = await Table.from<HfDataset>(file, { flavour: hf() }).fetch();
    expect(await train.classNames("label")).toEqual(["negative", "positive"]);
    const head = await Table.from<HfDataset>(file, { flavour: hf() }).head(2);
    expect(await head.classNames("label")).toEqual(["negative", "positive"]);
    // The plain schema carries the file's own metadata, as pyarrow's does.
    const schema = await Table.from(file).schema();
    expect(JSON.parse(schema.metadata!.huggingface!).info.features.label).toEqual({
      names: ["negative", "positive"],
      _type: "ClassLabel",
    });
  });
});

describe("HF tables carry the huggingface metadata as datasets writes it", () => {
  it("a Hub parquet split written by ferry has the same huggingface key, byte for byte", async () => {
    for (const split of ["train", "validation", "test"]) {
      const source = join(HUB, "data", `${split}-00000-of-00001.parquet`);
      const expected = await parquetKeyValue(source, "huggingface");
      expect(expected).toBeDefined();
      const target = join(scratch, `hub-${split}`);
      await table(await loadDataset(HUB, { split }), target, { flavour: hf() }).write();
      expect(await parquetKeyValue(onlyPart(target), "huggingface")).toBe(expected);
    }
  });

  it("a save_to_disk split written by ferry has the huggingface key of its Arrow shard", async () => {
    const shard = join(SST2, "validation", "data-00000-of-00001.arrow");
    const expected = await arrowKeyValue(shard, "huggingface");
    expect(expected).toBeDefined();
    const target = join(scratch, "sst2-validation");
    await table(await loadDataset(SST2, { split: "validation" }), target, { flavour: hf() }).write();
    const written = await parquetKeyValue(onlyPart(target), "huggingface");
    expect(written).toBe(expected);
    const features = JSON.parse(readFileSync(join(SST2, "validation", "dataset_info.json"), "utf8")).features;
    expect(JSON.parse(written!)).toEqual({ info: { features } });
  });

  it("written again from the table it made, the metadata is unchanged; non-ASCII names are escaped as Python does", async () => {
    const first = join(scratch, "hub-train");
    await table(await loadDataset(HUB, { split: "train" }), first, { flavour: hf() }).write();
    const reread = await Table.from(first, { flavour: hf() }).fetch();
    const second = join(scratch, "hub-train-again");
    await table(reread, second, { flavour: hf() }).write();
    expect(await parquetKeyValue(onlyPart(second), "huggingface")).toBe(
      await parquetKeyValue(join(HUB, "data", "train-00000-of-00001.parquet"), "huggingface"),
    );

    const labelled = join(scratch, "unicode");
    const schema = {
      fields: [
        {
          name: "label",
          type: { type: "int", bits: 64, signed: true } as const,
          nullable: true,
          metadata: { "hf.feature": JSON.stringify({ names: ["négatif", "😀"], _type: "ClassLabel" }) },
        },
      ],
    };
    await table(
      HfDataset.fromBatches(schema, [{ schema, columns: { label: [0n, 1n] }, numRows: 2 }]),
      labelled,
      {
        flavour: hf(),
      },
    ).write();
    expect(await parquetKeyValue(onlyPart(labelled), "huggingface")).toBe(
      '{"info": {"features": {"label": {"names": ["n\\u00e9gatif", "\\ud83d\\ude00"], "_type": "ClassLabel"}}}}',
    );
  });
});
