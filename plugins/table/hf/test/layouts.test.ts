/**
 * The data-file layouts `datasets` resolves without a card's configs (data_files.py default patterns):
 * `data/{split}-NNNNN-of-NNNNN.*`, split-named folders, split-named files, with the keyword synonyms
 * (dev → validation, eval → test), in parquet, CSV or JSON lines; a DatasetDict whose listed split is
 * missing; and trees that are no Hugging Face dataset.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { sharedData } from "@ferry/test-harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeDataset, loadDataset, loadDatasetDict } from "../src/index.ts";

const DATA = sharedData("hf");
const SST2 = join(DATA, "sst2_save_to_disk");
const HUB = join(DATA, "hub_parquet");
const hubFile = (split: string) => join(HUB, "data", `${split}-00000-of-00001.parquet`);

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "ferry-hf-layouts-"));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A folder holding `files` (relative path → a Hub split's parquet file, or text). */
function repo(name: string, files: Record<string, { split: string } | string>): string {
  const root = join(scratch, name);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    if (typeof content === "string") writeFileSync(join(root, path), content);
    else cpSync(hubFile(content.split), join(root, path));
  }
  return root;
}

async function counts(location: string): Promise<Record<string, number>> {
  const splits = await loadDatasetDict(location);
  const entries = await Promise.all(
    Object.entries(splits).map(async ([name, ds]) => [name, await ds.count()]),
  );
  return Object.fromEntries(entries);
}

describe("parquet data files without a card", () => {
  it("root {split}.parquet", async () => {
    const root = repo("root-files", {
      "train.parquet": { split: "train" },
      "test.parquet": { split: "test" },
    });
    expect(await describeDataset(root)).toMatchObject({ layout: "hub", splits: ["train", "test"] });
    expect(await counts(root)).toEqual({ train: 5, test: 3 });
    expect(await (await loadDataset(root, { split: "test" })).classNames("label")).toEqual([
      "negative",
      "positive",
    ]);
  });

  it("{split}/*.parquet folders, dev read as validation", async () => {
    const root = repo("split-folders", {
      "train/a.parquet": { split: "train" },
      "train/b.parquet": { split: "validation" },
      "dev/0.parquet": { split: "validation" },
    });
    expect((await describeDataset(root)).splits).toEqual(["train", "validation"]);
    expect(await counts(root)).toEqual({ train: 7, validation: 2 });
  });

  it("root {split}-NNNNN-of-NNNNN.parquet shards", async () => {
    const root = repo("root-shards", {
      "train-00000-of-00002.parquet": { split: "train" },
      "train-00001-of-00002.parquet": { split: "train" },
      "validation-00000-of-00001.parquet": { split: "validation" },
    });
    expect(await counts(root)).toEqual({ train: 10, validation: 2 });
  });

  it("data/{split}/*.parquet, and data/{split}-NNNNN-of-NNNNN with any split name", async () => {
    const nested = repo("data-folders", {
      "data/train/0000.parquet": { split: "train" },
      "data/test/0000.parquet": { split: "test" },
    });
    expect(await counts(nested)).toEqual({ train: 5, test: 3 });
    const named = repo("data-shards", {
      "data/train-00000-of-00001.parquet": { split: "train" },
      "data/unsupervised-00000-of-00001.parquet": { split: "test" },
    });
    expect((await describeDataset(named)).splits).toEqual(["train", "unsupervised"]);
    expect(await counts(named)).toEqual({ train: 5, unsupervised: 3 });
  });
});

describe("CSV and JSON lines data files", () => {
  it("train.csv / test.csv, typed as datasets' CSV builder types them", async () => {
    const root = repo("csv", {
      "train.csv": 'id,text,score,ok\n1,"good, really",0.5,true\n2,bad,,false\n',
      "test.csv": "id,text,score,ok\n3,meh,1.5,true\n",
    });
    expect(await describeDataset(root)).toMatchObject({ layout: "hub", splits: ["train", "test"] });
    const train = await loadDataset(root);
    expect((await train.schema()).fields.map((f) => [f.name, f.type.type])).toEqual([
      ["id", "int"],
      ["text", "string"],
      ["score", "float"],
      ["ok", "bool"],
    ]);
    expect(await train.toDict()).toEqual({
      id: [1n, 2n],
      text: ["good, really", "bad"],
      score: [0.5, null],
      ok: [true, false],
    });
    expect(await train.count()).toBe(2);
    expect(await (await loadDataset(root, { split: "test" })).toDict(["text"])).toEqual({ text: ["meh"] });
  });

  it("data/{split}.jsonl, streamed in exact batches and shuffled by seed", async () => {
    const lines = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => JSON.stringify({ id: from + i, tags: [`t${i % 3}`] })).join("\n");
    const root = repo("jsonl", {
      "data/train.jsonl": `${lines(0, 25)}\n`,
      "data/validation.jsonl": `${lines(100, 4)}\n`,
    });
    expect(await counts(root)).toEqual({ train: 25, validation: 4 });
    const train = await loadDataset(root);
    const sizes: number[] = [];
    for await (const batch of train.stream({ batchSize: 10, columns: ["id"] })) sizes.push(batch.numRows);
    expect(sizes).toEqual([10, 10, 5]);
    const ids: number[] = [];
    for await (const batch of train.stream({ batchSize: 7, shuffle: { seed: 3, bufferSize: 8 } }))
      ids.push(...(batch.columns.id as number[]));
    expect([...ids].sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(ids).not.toEqual([...ids].sort((a, b) => a - b));
    expect((await train.toDict()).tags?.[4]).toEqual(["t1"]);
  });

  it("a card's configs may point at CSV files", async () => {
    const root = repo("csv-card", {
      "README.md": [
        "---",
        "configs:",
        "- config_name: default",
        "  data_files:",
        "  - split: train",
        "    path: raw/train-*.csv",
        "---",
        "",
      ].join("\n"),
      "raw/train-a.csv": "x\n1\n2\n",
      "raw/train-b.csv": "x\n3\n",
    });
    expect(await (await loadDataset(root)).toDict()).toEqual({ x: [1n, 2n, 3n] });
  });

  it("a broken JSON line names the file and line", async () => {
    const root = repo("bad-jsonl", { "train.jsonl": '{"a":1}\n{"a":\n' });
    await expect((await loadDataset(root)).toDict()).rejects.toMatchObject({
      code: "InvalidInput",
      message: expect.stringMatching(/train\.jsonl: line 2: not JSON/),
    });
  });
});

describe("a DatasetDict with a listed split missing, and trees that are no dataset", () => {
  it("loads the splits that exist, with a note naming the missing one", async () => {
    const description = await describeDataset(SST2);
    expect(description.splits).toEqual(["validation", "test"]);
    expect(description.notes).toEqual([
      expect.stringMatching(
        /split "train" is listed in dataset_dict\.json but .*train\/state\.json is missing/,
      ),
    ]);
    const splits = await loadDatasetDict(SST2);
    expect(Object.keys(splits)).toEqual(["validation", "test"]);
    expect(splits.validation!.notes).toEqual(description.notes);
    const first = await loadDataset(SST2);
    expect(first.split).toBe("validation");
    expect(first.notes).toEqual(description.notes);
    await expect(loadDataset(SST2, { split: "train" })).rejects.toMatchObject({
      code: "NotFound",
      message: expect.stringMatching(/split "train" is listed in dataset_dict\.json but .*missing/),
    });
  });

  it("a generic x/y/*.parquet tree or a ferry table folder is not a Hugging Face dataset", async () => {
    const hive = repo("hive", {
      "year=2024/month=1/part-0.parquet": { split: "train" },
      "year=2024/month=2/part-0.parquet": { split: "test" },
    });
    await expect(describeDataset(hive)).rejects.toMatchObject({
      code: "NotFound",
      message: expect.stringMatching(/no Hugging Face dataset at .*hive/),
    });
    const nested = repo("x-y", { "x/y/a.parquet": { split: "train" } });
    await expect(loadDataset(nested)).rejects.toMatchObject({ code: "NotFound" });
    const ferryTable = repo("ferry-table", {
      "part-00000-0123456789abcdef0123456789abcdef.parquet": { split: "train" },
    });
    await expect(loadDataset(ferryTable)).rejects.toMatchObject({ code: "NotFound" });
  });
});
