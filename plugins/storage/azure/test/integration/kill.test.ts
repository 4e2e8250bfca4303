import { BlobServiceClient, type ContainerClient } from "@azure/storage-blob";
import {
  type AzuriteBackend,
  killRepeatedly,
  killWhen,
  runFerryToEnd,
  type SourceTree,
  sourceTreeInTemp,
} from "@ferry/test-harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAzurite } from "../fixture.ts";

let server: AzuriteBackend;
let tree: SourceTree;
let source: Map<string, Buffer>;

beforeAll(async () => {
  server = await startAzurite();
  tree = sourceTreeInTemp({
    seed: 21,
    count: 60,
    maxBytes: 64 * 1024,
    largeBytes: 36 * 1024 ** 2,
  });
  source = tree.files;
}, 60_000);

afterAll(async () => {
  await server?.stop();
  tree?.remove();
});

/** Blobs below `dst/` that hold only uncommitted blocks. */
async function uncommittedOnly(container: ContainerClient): Promise<string[]> {
  const committed = new Set<string>();
  for await (const blob of container.listBlobsFlat({ prefix: "dst/" })) committed.add(blob.name);
  const names: string[] = [];
  for await (const blob of container.listBlobsFlat({ prefix: "dst/", includeUncommitedBlobs: true }))
    if (!committed.has(blob.name)) names.push(blob.name);
  return names;
}

/** Committed blobs below `dst/` (what any reader sees), and those not exactly their source's bytes. */
async function visibleBlobs(container: ContainerClient): Promise<{ visible: string[]; wrong: string[] }> {
  const visible: string[] = [];
  const wrong: string[] = [];
  for await (const blob of container.listBlobsFlat({ prefix: "dst/" })) {
    const path = blob.name.slice("dst/".length);
    visible.push(path);
    const expected = source.get(path);
    const actual = await container.getBlobClient(blob.name).downloadToBuffer();
    if (!expected || !actual.equals(expected)) wrong.push(path);
  }
  return { visible: visible.sort(), wrong };
}

describe("kill -9 during ferry cp into Azure Blob", () => {
  it("never shows a partial blob; the rerun completes the copy and removes every uncommitted upload", async () => {
    const name = await server.createContainer();
    const container = BlobServiceClient.fromConnectionString(server.connectionString).getContainerClient(
      name,
    );
    const env = { AZURE_STORAGE_CONNECTION_STRING: server.connectionString };
    const args = ["cp", "--json", tree.dir, `az://${name}/dst`];
    const writing = async () => {
      for await (const _ of container.listBlobsFlat({ prefix: "dst/", includeUncommitedBlobs: true }))
        return true;
      return false;
    };
    // Killed once the large file's blocks are staged: an abandoned upload is certain.
    const large = async () => (await uncommittedOnly(container)).includes("dst/large.bin");
    expect(await killWhen(args, env, large)).toBe(true);
    expect(await uncommittedOnly(container)).toContain("dst/large.bin");
    const dry = await runFerryToEnd(["cleanup", "--dry-run", `az://${name}/dst`], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^would remove {2}uncommitted-blocks az:\/\/[^ ]+\/dst\/large\.bin/m);
    expect(await uncommittedOnly(container)).toContain("dst/large.bin");

    await killRepeatedly({
      args,
      env,
      kills: 2,
      seed: 5,
      maxDelayMs: 1500,
      writing,
      afterKill: async () => {
        expect((await visibleBlobs(container)).wrong).toEqual([]);
      },
    });

    const left = await uncommittedOnly(container);
    const rerun = await runFerryToEnd(args, env);
    expect(rerun.code, rerun.stderr).toBe(0);
    if (left.length > 0) expect(rerun.stdout).toMatch(/removed \d+ leftover\(s\) of interrupted writes/);
    const after = await visibleBlobs(container);
    expect(after.wrong).toEqual([]);
    expect(after.visible).toEqual([...source.keys()].sort());
    expect(await uncommittedOnly(container)).toEqual([]);
  }, 180_000);
});
