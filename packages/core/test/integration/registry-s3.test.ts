import { describe, expect, it } from "vitest";
import { folder, parseLocation, ResourceRegistry, table } from "../../src/index.ts";
import { runNode } from "../registry-children.ts";
import { useS3rver } from "../s3rver-fixture.ts";

const s3 = useS3rver();

describe("a shared registry on S3", () => {
  it("stores only the entry JSON in the s3.bucket, credential-free, under <prefix>/<name>/_versions/", async () => {
    const shared = `s3://${s3.bucket}/registry-two`;
    const registry = new ResourceRegistry({ cwd: s3.work, shared, plugins: s3.plugins });
    await registry.save(
      {
        registryDescription: () => ({
          type: "blob",
          location: parseLocation(`s3://${s3.bucket}/blobs/model.bin`),
        }),
      },
      { name: "@/model" },
    );
    const { storage } = await s3.plugins.resolve(`s3://${s3.bucket}`);
    const keys: string[] = [];
    for await (const entry of storage.list("registry-two", { recursive: true })) keys.push(entry.path);
    expect(keys).toEqual(["registry-two/model/_versions/000001.json"]);
    const text = new TextDecoder().decode(await storage.readBytes(keys[0]!));
    expect(text).not.toContain(s3.server.credentials.secretAccessKey);
    expect(JSON.parse(text)).toMatchObject({
      name: "@/model",
      type: "blob",
      system: "s3",
      url: `s3://${s3.bucket}/blobs/model.bin`,
      path: "blobs/model.bin",
    });
  });

  it('seed: table({ data, name: "@/bert_tokenized", path, system: "s3" }).save(), then Table.fromName in another process returns the same rows', async () => {
    // The user's setup: the shared registry and S3 come from the environment; the S3 plugin loads by scheme.
    const shared = `s3://${s3.bucket}/team-registry`;
    const env = { ...s3.server.env(), FERRY_SHARED_REGISTRY: shared };
    Object.assign(process.env, env);
    const data = { text: ["the cat sat", "on the mat"], token_count: [5, 5], label: [0, 1] };
    await table({ data, name: "@/bert_tokenized", path: `${s3.bucket}/ds/bert_preproc`, system: "s3" }).save({
      cwd: s3.work,
    });
    const output = await runNode(
      `const tokenized = await core.Table.fromName("@/bert_tokenized");
       console.log(JSON.stringify({ url: tokenized.url, rows: await tokenized.fetch() }));`,
      env,
    );
    expect(JSON.parse(output)).toEqual({ url: `s3://${s3.bucket}/ds/bert_preproc`, rows: data });
  });

  it("seed: a Folder saved by one process is listed by another through the shared registry on S3", async () => {
    const shared = `s3://${s3.bucket}/team-registry`;
    const env = { ...s3.server.env(), FERRY_SHARED_REGISTRY: shared };
    Object.assign(process.env, env);
    const sample = folder({ name: "@/sample_folder", path: `${s3.bucket}/sample_folder`, system: "s3" });
    await sample.put(Object.fromEntries([0, 1, 2, 3, 4].map((i) => [`${i}.txt`, String(i)])));
    await sample.save({ cwd: s3.work });
    const output = await runNode(
      `console.log(JSON.stringify(await (await core.Folder.fromName("@/sample_folder")).ls()));`,
      env,
    );
    expect(JSON.parse(output)).toEqual(["0.txt", "1.txt", "2.txt", "3.txt", "4.txt"]);
  });
});
