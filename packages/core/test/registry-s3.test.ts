import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { s3 } from "@ferry/storage-s3";
import { type S3Backend, startS3rver } from "@ferry/test-harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { local, PluginRegistry, parseLocation, ResourceRegistry } from "../src/index.ts";

let server: S3Backend;
let work: string;
let bucket: string;
let plugins: PluginRegistry;

beforeAll(async () => {
  server = await startS3rver();
  bucket = await server.createBucket();
  work = await mkdtemp(join(tmpdir(), "ferry-registry-s3-"));
  plugins = new PluginRegistry({ lazy: false });
  plugins.use(
    local(),
    s3({
      endpoint: server.endpoint,
      region: server.region,
      credentials: { ...server.credentials },
      capabilities: { conditionalWrite: false },
    }),
  );
});

afterAll(async () => {
  if (process.env.FERRY_DEBUG_S3) console.log(server?.logs());
  await plugins?.close();
  await server?.stop();
  await rm(work, { recursive: true, force: true });
});

describe("a shared registry on S3", () => {
  it("stores only the entry JSON in the bucket, credential-free, under <prefix>/<name>/_versions/", async () => {
    const shared = `s3://${bucket}/registry-two`;
    const registry = new ResourceRegistry({ cwd: work, shared, plugins });
    await registry.save(
      {
        registryDescription: () => ({
          type: "blob",
          location: parseLocation(`s3://${bucket}/blobs/model.bin`),
        }),
      },
      { name: "@/model" },
    );
    const { storage } = await plugins.resolve(`s3://${bucket}`);
    const keys: string[] = [];
    for await (const entry of storage.list("registry-two", { recursive: true })) keys.push(entry.path);
    expect(keys).toEqual(["registry-two/model/_versions/000001.json"]);
    const text = new TextDecoder().decode(await storage.readBytes(keys[0]!));
    expect(text).not.toContain(server.credentials.secretAccessKey);
    expect(JSON.parse(text)).toMatchObject({
      name: "@/model",
      type: "blob",
      system: "s3",
      url: `s3://${bucket}/blobs/model.bin`,
      path: "blobs/model.bin",
    });
  });
});
