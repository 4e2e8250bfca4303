import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Table, table } from "@ferry/core";
import { FerryError } from "@ferry/plugin-kit";
import { sharedData } from "@ferry/test-harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import hf, { describeDataset, HfDataset, loadDataset, loadDatasetDict } from "../src/index.ts";

const DATA = sharedData("hf");
const SST2 = join(DATA, "sst2_save_to_disk");
const HUB = join(DATA, "hub_parquet");

async function expectCode(promise: Promise<unknown>, code: string, fragment: RegExp): Promise<void> {
  try {
    await promise;
  } catch (error) {
    expect(FerryError.isInstance(error, code as never), String(error)).toBe(true);
    expect((error as Error).message).toMatch(fragment);
    return;
  }
  throw new Error(`expected ${code}`);
}

describe("save_to_disk DatasetDict (SST-2)", () => {
  it("lists its splits and layout without reading data (train is listed but missing here)", async () => {
    expect(await describeDataset(SST2)).toEqual({
      layout: "dataset_dict",
      configs: ["default"],
      splits: ["validation", "test"],
      notes: [expect.stringMatching(/split "train" is listed in dataset_dict\.json but .* is missing/)],
    });
  });

  it("reads a split with its features: int32 idx, string sentence, ClassLabel label", async () => {
    const validation = await loadDataset(SST2, { split: "validation" });
    expect(validation.split).toBe("validation");
    expect(validation.declaredRows).toBe(872);
    expect(await validation.count()).toBe(872);
    const schema = await validation.schema();
    expect(schema.fields.map((f) => [f.name, f.type])).toEqual([
      ["idx", { type: "int", bits: 32, signed: true }],
      ["sentence", { type: "string" }],
      ["label", { type: "int", bits: 64, signed: true }],
    ]);
    expect(await validation.classNames("label")).toEqual(["negative", "positive"]);
    expect(await validation.classNames("idx")).toBeUndefined();
    const first = await validation.stream({ batchSize: 2 }).next();
    expect(first.value?.columns).toEqual({
      idx: [0, 1],
      sentence: ["it 's a charming and often affecting journey . ", "unflinchingly bleak and desperate "],
      label: [1n, 0n],
    });
  });

  it("a split listed in dataset_dict.json whose files are missing is a NotFound naming it when asked for", async () => {
    await expectCode(
      loadDataset(SST2, { split: "train" }),
      "NotFound",
      /split "train" is listed in dataset_dict\.json but .*train\/state\.json is missing/,
    );
    await expectCode(
      loadDataset(SST2, { split: "dev" }),
      "NotFound",
      /split "dev" is not in this DatasetDict/,
    );
  });

  it("streams exact batch sizes, drops the short tail on request, and shuffles reproducibly by seed", async () => {
    const test = await loadDataset(SST2, { split: "test" });
    const sizes: number[] = [];
    for await (const batch of test.stream({ batchSize: 500, columns: ["idx"] })) sizes.push(batch.numRows);
    expect(sizes).toEqual([500, 500, 500, 321]);
    const dropped: number[] = [];
    for await (const batch of test.stream({ batchSize: 500, columns: ["idx"], dropLast: true }))
      dropped.push(batch.numRows);
    expect(dropped).toEqual([500, 500, 500]);

    const order = async (seed: number) => {
      const ids: number[] = [];
      for await (const batch of test.stream({
        batchSize: 256,
        columns: ["idx"],
        shuffle: { seed, bufferSize: 300 },
      }))
        ids.push(...(batch.columns.idx as number[]));
      return ids;
    };
    const a = await order(7);
    expect(await order(7)).toEqual(a);
    expect(await order(8)).not.toEqual(a);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 1821 }, (_, i) => i));
  });

  it("a single split folder reads directly; an unknown column is a clear error", async () => {
    const validation = await loadDataset(join(SST2, "validation"));
    expect(validation.split).toBe("validation");
    expect((await validation.fetch({ columns: ["label"] })).numRows).toBe(872);
    await expectCode(validation.fetch({ columns: ["nope"] }), "InvalidInput", /column "nope"/);
  });
});

describe("other layouts", () => {
  let scratch: string;
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), "ferry-hf-"));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("a Hub-style repo: README YAML configs and features, data/{split}-*.parquet", async () => {
    expect(await describeDataset(HUB)).toEqual({
      layout: "hub",
      configs: ["default"],
      splits: ["train", "validation", "test"],
      notes: [],
    });
    const splits = await loadDatasetDict(HUB);
    expect(
      Object.fromEntries(
        await Promise.all(Object.entries(splits).map(async ([name, ds]) => [name, await ds.count()])),
      ),
    ).toEqual({
      train: 5,
      validation: 2,
      test: 3,
    });
    const train = splits.train!;
    expect(train.declaredRows).toBe(5);
    expect(await train.classNames("label")).toEqual(["negative", "positive"]);
    const rows = await train.toDict();
    expect(rows.text).toHaveLength(5);
    expect(rows.label!.every((label) => label === 0n || label === 1n)).toBe(true);
  });

  it("a Hub repo without configs falls back to data/{split}-NNNNN-of-NNNNN.parquet", async () => {
    const repo = join(scratch, "no-card");
    cpSync(join(HUB, "data"), join(repo, "data"), { recursive: true });
    expect((await describeDataset(repo)).splits.sort()).toEqual(["test", "train", "validation"]);
    expect(await (await loadDataset(repo, { split: "validation" })).count()).toBe(2);
  });

  it("the parquet-conversion layout {config}/{split}/NNNN.parquet", async () => {
    const repo = join(scratch, "converted");
    for (const split of ["train", "test"]) {
      mkdirSync(join(repo, "default", split), { recursive: true });
      cpSync(
        join(HUB, "data", `${split}-00000-of-00001.parquet`),
        join(repo, "default", split, "0000.parquet"),
      );
    }
    expect(await describeDataset(repo)).toEqual({
      layout: "parquet_convert",
      configs: ["default"],
      splits: ["test", "train"],
      notes: [],
    });
    expect(await (await loadDataset(repo, { split: "test" })).count()).toBe(3);
  });

  it("the pre-2.8 save_to_disk layout: one dataset.arrow, legacy ClassLabel and Sequence features", async () => {
    const legacy = join(scratch, "legacy");
    mkdirSync(legacy);
    cpSync(join(SST2, "validation", "data-00000-of-00001.arrow"), join(legacy, "dataset.arrow"));
    writeFileSync(
      join(legacy, "state.json"),
      JSON.stringify({
        _fingerprint: "x",
        _format_columns: null,
        _format_kwargs: {},
        _format_type: null,
        _indexes: {},
        _output_all_columns: false,
        _split: "validation",
      }),
    );
    const info = JSON.parse(readFileSync(join(SST2, "validation", "dataset_info.json"), "utf8"));
    info.features.label = { num_classes: 2, names: ["neg", "pos"], id: null, _type: "ClassLabel" };
    writeFileSync(join(legacy, "dataset_info.json"), JSON.stringify(info));
    const ds = await loadDataset(legacy);
    expect(await ds.count()).toBe(872);
    expect(await ds.classNames("label")).toEqual(["neg", "pos"]);
  });

  it("a folder that is no dataset, a broken state.json, a missing shard and a corrupt shard are typed errors", async () => {
    await expectCode(loadDataset(join(scratch, "nothing-here")), "NotFound", /no Hugging Face dataset/);
    const broken = join(scratch, "broken");
    mkdirSync(broken);
    writeFileSync(join(broken, "state.json"), "{not json");
    await expectCode(loadDataset(broken), "InvalidInput", /state\.json is not valid JSON/);
    writeFileSync(
      join(broken, "state.json"),
      JSON.stringify({ _data_files: [{ filename: "data-00000-of-00002.arrow" }], _split: "train" }),
    );
    await expectCode(
      loadDataset(broken),
      "NotFound",
      /shard .*data-00000-of-00002\.arrow listed in state\.json is missing/,
    );
    writeFileSync(join(broken, "data-00000-of-00002.arrow"), "definitely not arrow");
    await expectCode((await loadDataset(broken)).count(), "InvalidInput", /not a readable Arrow IPC stream/);
    writeFileSync(
      join(broken, "state.json"),
      JSON.stringify({ _data_files: [{ filename: "../escape.arrow" }] }),
    );
    await expectCode(loadDataset(broken), "InvalidInput", /outside its folder/);
  });

  it("an HF split written as a ferry table comes back as an HfDataset with its ClassLabel names", async () => {
    const validation = await loadDataset(SST2, { split: "validation" });
    const target = join(scratch, "as-table");
    await table(validation, target, { flavour: hf() }).write();
    const back = await Table.from<HfDataset>(target, { flavour: hf() }).fetch();
    expect(HfDataset.isInstance(back)).toBe(true);
    expect(await back.count()).toBe(872);
    expect(await back.classNames("label")).toEqual(["negative", "positive"]);
    expect((await back.toDict(["idx"])).idx!.slice(0, 3)).toEqual([0, 1, 2]);
  });
});
