/**
 * The seed walkthrough on Azure: a local sample_folder of 0.txt..4.txt sent to Azure and listed back,
 * and the same folder sent from S3 to Azure as streams (S3 read → Azure write), never via local disk.
 */
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createStorage, folder, local, localStorage, PluginRegistry, parseLocation } from "@ferry/core";
import { baseName, type Storage } from "@ferry/plugin-kit";
import { s3 } from "@ferry/storage-s3";
import { type AzuriteBackend, type S3Backend, startS3rver } from "@ferry/test-harness";
import { afterAll, beforeAll, expect, it } from "vitest";
import { azure } from "../../src/index.ts";
import { containerStorage, startAzurite } from "../fixture.ts";
import { recordingService } from "../traffic.ts";

const NAMES = ["0.txt", "1.txt", "2.txt", "3.txt", "4.txt"];

let azurite: AzuriteBackend;
let s3rver: S3Backend;
let sampleFolder: string;
beforeAll(async () => {
  [azurite, s3rver] = await Promise.all([startAzurite(), startS3rver()]);
  sampleFolder = await mkdtemp(join(tmpdir(), "ferry-sample-folder-"));
  for (const [index, name] of NAMES.entries())
    await writeFile(join(sampleFolder, name), `Hello from file ${index}\n`);
});
afterAll(async () => {
  await Promise.all([azurite?.stop(), s3rver?.stop()]);
  if (sampleFolder) await rm(sampleFolder, { recursive: true, force: true });
});

/** Every file of `from` (one level) streamed into `to` under `prefix`. */
async function sendFolder(from: Storage, fromDir: string, to: Storage, prefix: string): Promise<void> {
  for await (const entry of from.list(fromDir)) {
    if (entry.kind !== "file") continue;
    await to.write(`${prefix}/${baseName(entry.path)}`, await from.read(entry.path), { size: entry.size });
  }
}

async function names(storage: Storage, dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of storage.list(dir)) out.push(baseName(entry.path));
  return out;
}

it("sends a local sample_folder of 0.txt..4.txt to Azure and lists ['0.txt', …, '4.txt']", async () => {
  const az = await containerStorage(azurite);
  await sendFolder(localStorage(sampleFolder), "", az, "sample_folder");
  expect(await names(az, "sample_folder")).toEqual(NAMES);
  expect(new TextDecoder().decode(await az.readBytes("sample_folder/4.txt"))).toBe("Hello from file 4\n");
});

it("sends that folder on from S3 to Azure as streams, byte for byte", async () => {
  const bucket = await s3rver.createBucket();
  const fromS3 = createStorage(
    await s3({
      endpoint: s3rver.endpoint,
      region: s3rver.region,
      credentials: { ...s3rver.credentials },
    }).create(parseLocation(`s3://${bucket}`)),
  );
  await sendFolder(localStorage(sampleFolder), "", fromS3, "sample_folder");
  const az = await containerStorage(azurite);
  await sendFolder(fromS3, "sample_folder", az, "from_s3");
  expect(await names(az, "from_s3")).toEqual(NAMES);
  for (const name of NAMES) {
    const s3Entry = await fromS3.stat(`sample_folder/${name}`);
    const azEntry = await az.stat(`from_s3/${name}`);
    // Each service keeps an MD5 it verified on upload: the same on both ends, and right.
    expect(azEntry.md5).toBe(s3Entry.md5);
    expect(azEntry.md5).toBe(
      createHash("md5")
        .update(`Hello from file ${NAMES.indexOf(name)}\n`)
        .digest("hex"),
    );
  }
  await fromS3.close();
});

it("through Folder.to(): local → S3 → Azure, then Azure → Azure server-side", async () => {
  const { service, traffic } = recordingService(azurite);
  const registry = new PluginRegistry({ lazy: false }).use(
    local(),
    s3({ endpoint: s3rver.endpoint, region: s3rver.region, credentials: { ...s3rver.credentials } }),
    azure({ serviceClient: service }),
  );
  const bucket = await s3rver.createBucket();
  const container = await azurite.createContainer();
  const onS3 = await folder(sampleFolder, { registry }).to(`s3://${bucket}/sample_folder`);
  const onAzure = await onS3.to(`az://${container}/sample_folder`);
  expect(await onAzure.ls()).toEqual(NAMES);
  traffic.length = 0;
  const backup = await onAzure.to(`az://${container}/backup`);
  expect(await backup.ls()).toEqual(NAMES);
  expect(traffic.some((exchange) => exchange.headers["x-ms-copy-source"] !== undefined)).toBe(true);
  expect(traffic.reduce((sum, exchange) => sum + exchange.bodyBytes, 0)).toBe(0);
  expect(
    traffic.some((exchange) => exchange.method === "GET" && exchange.url.searchParams.get("comp") === null),
  ).toBe(false);
  await registry.close();
});

it("gives a container destination with no path ferry-folder/<32 hex>", async () => {
  const registry = new PluginRegistry({ lazy: false }).use(
    local(),
    azure({ connectionString: azurite.connectionString }),
  );
  const container = await azurite.createContainer();
  const remote = await folder(sampleFolder, { registry }).to(`az://${container}`);
  expect(remote.url).toMatch(new RegExp(`^az://${container}/ferry-folder/[0-9a-f]{32}$`));
  expect(await remote.ls()).toEqual(NAMES);
  await registry.close();
});
