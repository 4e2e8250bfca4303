/**
 * The seed walkthrough on GCS: a local sample_folder of 0.txt..4.txt sent with `to()` and listed
 * back; with no path a bucket destination gets `ferry-folder/<32 hex>`; and a GCS folder sent on
 * within GCS is copied server-side.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { folder, local, PluginRegistry } from "@ferry/core";
import { type GcsBackend, startGcsServer } from "@ferry/test-harness";
import { afterAll, beforeAll, expect, it } from "vitest";
import { gcs } from "../../src/index.ts";
import { serverOptions } from "../fixture.ts";

let server: GcsBackend;
let sampleFolder: string;
let registry: PluginRegistry;
beforeAll(async () => {
  server = await startGcsServer();
  sampleFolder = await mkdtemp(join(tmpdir(), "ferry-sample-folder-"));
  for (let index = 0; index < 5; index++)
    await writeFile(join(sampleFolder, `${index}.txt`), `Hello from file ${index}\n`);
  registry = new PluginRegistry({ lazy: false }).use(local(), gcs(serverOptions(server)));
});
afterAll(async () => {
  await registry?.close();
  await server?.stop();
  if (sampleFolder) await rm(sampleFolder, { recursive: true, force: true });
});

it("sends a local sample_folder of 0.txt..4.txt to GCS, where ls gives ['0.txt', …, '4.txt']", async () => {
  const bucket = server.createBucket();
  const remote = await folder(sampleFolder, { registry }).to(`gs://${bucket}/sample_folder`);
  expect(remote.url).toBe(`gs://${bucket}/sample_folder`);
  expect(await remote.ls()).toEqual(["0.txt", "1.txt", "2.txt", "3.txt", "4.txt"]);
  expect(await remote.text("3.txt")).toBe("Hello from file 3\n");
  const storage = await remote.storage();
  expect((await storage.stat("sample_folder/3.txt")).contentType).toBe("text/plain");
});

it("puts a folder sent to a bare bucket at ferry-folder/<32 hex>", async () => {
  const bucket = server.createBucket();
  const remote = await folder(sampleFolder, { registry }).to(`gs://${bucket}`);
  expect(remote.path).toMatch(/^ferry-folder\/[0-9a-f]{32}$/);
  expect(await remote.ls()).toEqual(["0.txt", "1.txt", "2.txt", "3.txt", "4.txt"]);
});

it("copies a GCS folder to another place in the bucket without object bytes through the client", async () => {
  const bucket = server.createBucket();
  const first = await folder(sampleFolder, { registry }).to(`gs://${bucket}/a`);
  const before = server.requests().length;
  const second = await first.to(`gs://${bucket}/b`);
  const requests = server.requests().slice(before);
  expect(await second.ls()).toEqual(["0.txt", "1.txt", "2.txt", "3.txt", "4.txt"]);
  expect(requests.filter((r) => r.url.includes("/rewriteTo/")).length).toBe(5);
  expect(requests.some((r) => r.url.includes("alt=media") || r.url.startsWith("/upload/"))).toBe(false);
});
