/** The seed walkthrough's first step: a local sample_folder of 0.txt..4.txt sent to S3 and listed back. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { baseName, localStorage } from "@ferry/core";
import type { S3Backend } from "@ferry/test-harness";
import { afterAll, beforeAll, expect, it } from "vitest";
import { bucketStorage, startS3rver } from "./fixture.ts";

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
