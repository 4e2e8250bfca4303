/** The seed walkthrough's first step: a local sample_folder of 0.txt..4.txt sent to S3 and listed back. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { folder, local, localStorage, PluginRegistry } from "@ferry/core";
import { baseName } from "@ferry/plugin-kit";
import type { S3Backend } from "@ferry/test-harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { s3 } from "../../src/index.ts";
import { bucketStorage, s3rverOptions, startS3rver } from "../fixture.ts";
import { recordingClient } from "../traffic.ts";

let server: S3Backend;
let sampleFolder: string;
beforeAll(async () => {
  server = await startS3rver();
  sampleFolder = await mkdtemp(join(tmpdir(), "ferry-sample-folder-"));
  for (let index = 0; index < 5; index++)
    await writeFile(join(sampleFolder, `${index}.txt`), `Hello from file ${index}\n`);
});
afterAll(async () => {
  await server?.stop();
  if (sampleFolder) await rm(sampleFolder, { recursive: true, force: true });
});

it("sends a local sample_folder of 0.txt..4.txt to S3 and lists ['0.txt', …, '4.txt']", async () => {
  const local = localStorage(sampleFolder);
  const s3 = await bucketStorage(server);
  for await (const entry of local.list("")) {
    // Streamed file by file: read stream → S3 write, never buffering the whole folder.
    await s3.write(`sample_folder/${entry.path}`, await local.read(entry.path), { size: entry.size });
  }
  const names: string[] = [];
  for await (const entry of s3.list("sample_folder")) names.push(baseName(entry.path));
  expect(names).toEqual(["0.txt", "1.txt", "2.txt", "3.txt", "4.txt"]);
  expect(new TextDecoder().decode(await s3.readBytes("sample_folder/3.txt"))).toBe("Hello from file 3\n");
  expect((await s3.stat("sample_folder/3.txt")).contentType).toBe("text/plain");
});

describe("through Folder.to()", () => {
  it("sends sample_folder to S3, lists it, and copies it within S3 server-side", async () => {
    const { client, traffic } = recordingClient(server);
    const bucket = await server.createBucket();
    const registry = new PluginRegistry({ lazy: false }).use(
      local(),
      s3({ ...s3rverOptions(server), client }),
    );
    const remote = await folder(sampleFolder, { registry }).to(`s3://${bucket}/sample_folder`);
    expect(await remote.ls()).toEqual(["0.txt", "1.txt", "2.txt", "3.txt", "4.txt"]);

    traffic.length = 0;
    const backup = await remote.to(`s3://${bucket}/backup`);
    expect(await backup.ls()).toEqual(["0.txt", "1.txt", "2.txt", "3.txt", "4.txt"]);
    const commands = new Set(traffic.map((exchange) => exchange.command));
    expect(commands.has("CopyObject")).toBe(true);
    // Same system, same bucket: no object was downloaded or uploaded by this process.
    expect(
      [...commands].filter((command) => ["GetObject", "PutObject", "UploadPart"].includes(command)),
    ).toEqual([]);
    await registry.close();
  });

  it("gives a bucket destination with no path ferry-folder/<32 hex>", async () => {
    const bucket = await server.createBucket();
    const registry = new PluginRegistry({ lazy: false }).use(local(), s3(s3rverOptions(server)));
    const remote = await folder(sampleFolder, { registry }).to(`s3://${bucket}`);
    expect(remote.url).toMatch(new RegExp(`^s3://${bucket}/ferry-folder/[0-9a-f]{32}$`));
    expect(await remote.ls()).toEqual(["0.txt", "1.txt", "2.txt", "3.txt", "4.txt"]);
    await registry.close();
  });
});
