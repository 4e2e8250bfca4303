import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { local, PluginRegistry } from "@ferry/core";
import github from "@ferry/storage-github";
import s3 from "@ferry/storage-s3";
import {
  type GithubBackend,
  type S3Backend,
  sharedData,
  startGithubServer,
  startS3rver,
} from "@ferry/test-harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeDataset, loadDataset, loadDatasetDict } from "../../src/index.ts";

const DATA = sharedData("hf");

function filesOf(dir: string): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  const walk = (current: string) => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) walk(path);
      else out[relative(dir, path)] = readFileSync(path);
    }
  };
  walk(dir);
  return out;
}

describe("Hugging Face datasets on remote systems", () => {
  let githubServer: GithubBackend;
  let s3Server: S3Backend;
  let registry: PluginRegistry;
  let bucket: string;

  beforeAll(async () => {
    [githubServer, s3Server] = await Promise.all([startGithubServer(), startS3rver()]);
    await githubServer.createRepo("datasets", "sst2-hub", { files: filesOf(join(DATA, "hub_parquet")) });
    await githubServer.createRepo("datasets", "sst2-disk", {
      files: filesOf(join(DATA, "sst2_save_to_disk")),
    });
    registry = new PluginRegistry({ lazy: false }).use(
      local(),
      github({ baseUrl: githubServer.baseUrl, token: githubServer.token }),
      s3({ endpoint: s3Server.endpoint, region: s3Server.region, credentials: s3Server.credentials }),
    );
    bucket = await s3Server.createBucket();
    const { storage } = await registry.resolve(`s3://${bucket}/`);
    for (const [path, bytes] of Object.entries(filesOf(join(DATA, "sst2_save_to_disk"))))
      await storage.write(`sst2/${path}`, bytes);
  });
  afterAll(async () => {
    await registry?.close();
    await Promise.all([githubServer?.stop(), s3Server?.stop()]);
  });

  it("reads a Hub-style dataset repository straight from GitHub", async () => {
    expect(await describeDataset("github://datasets/sst2-hub", { registry })).toMatchObject({
      layout: "hub",
      splits: ["train", "validation", "test"],
    });
    const train = await loadDataset("github://datasets/sst2-hub@main", { registry });
    expect(await train.count()).toBe(5);
    expect(await train.classNames("label")).toEqual(["negative", "positive"]);
  });

  it("reads a save_to_disk DatasetDict from GitHub and names the missing split", async () => {
    const validation = await loadDataset("https://github.com/datasets/sst2-disk/tree/main", {
      registry,
      split: "validation",
    });
    expect(await validation.count()).toBe(872);
    const splits = await loadDatasetDict("github://datasets/sst2-disk", { registry });
    expect(Object.keys(splits)).toEqual(["validation", "test"]);
    expect(splits.test!.notes).toEqual([expect.stringMatching(/split "train" is listed/)]);
  });

  it("streams Arrow shards from S3 batch by batch with the same rows as the local copy", async () => {
    const remote = await loadDataset(`s3://${bucket}/sst2`, { registry, split: "test" });
    const local = await loadDataset(join(DATA, "sst2_save_to_disk"), { registry, split: "test" });
    const ids = async (ds: typeof remote) => {
      const out: number[] = [];
      for await (const batch of ds.stream({
        batchSize: 400,
        columns: ["idx", "label"],
        shuffle: { seed: 1 },
      }))
        out.push(...(batch.columns.idx as number[]));
      return out;
    };
    expect(await ids(remote)).toEqual(await ids(local));
    expect(await remote.classNames("label")).toEqual(["negative", "positive"]);
  });
});
