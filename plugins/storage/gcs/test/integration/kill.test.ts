import {
  type GcsBackend,
  killRepeatedly,
  killWhen,
  runFerryToEnd,
  type SourceTree,
  sourceTreeInTemp,
  startGcsServer,
} from "@ferry/test-harness";
import { Storage as GcsClient } from "@google-cloud/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let server: GcsBackend;
let client: GcsClient;
let tree: SourceTree;
let source: Map<string, Buffer>;

beforeAll(async () => {
  server = await startGcsServer();
  client = new GcsClient({ apiEndpoint: server.endpoint, projectId: server.projectId });
  tree = sourceTreeInTemp({
    seed: 44,
    count: 60,
    maxBytes: 64 * 1024,
    largeBytes: 24 * 1024 ** 2,
  });
  source = tree.files;
}, 60_000);

afterAll(async () => {
  await server?.stop();
  tree?.remove();
});

/** Objects below `dst/` (what any reader sees), and those not exactly their source's bytes. */
async function visibleObjects(bucket: string): Promise<{ visible: string[]; wrong: string[] }> {
  const [files] = await client.bucket(bucket).getFiles({ prefix: "dst/" });
  const visible: string[] = [];
  const wrong: string[] = [];
  for (const file of files) {
    const path = file.name.slice("dst/".length);
    visible.push(path);
    const [actual] = await file.download();
    const expected = source.get(path);
    if (!expected || !actual.equals(expected)) wrong.push(path);
  }
  return { visible: visible.sort(), wrong };
}

describe("kill -9 during ferry cp into GCS", () => {
  it("never shows a partial object; the rerun completes the copy; cleanup says it is not available", async () => {
    const bucket = server.createBucket();
    const env = {
      STORAGE_EMULATOR_HOST: server.endpoint,
      GOOGLE_CLOUD_PROJECT: server.projectId,
    };
    const args = ["cp", "--json", tree.dir, `gs://${bucket}/dst`];
    const uploads = () => server.requests().filter((request) => request.url.includes("/upload/")).length;
    // One kill certain (a chunk of the large file's resumable upload stored), then more at seeded moments.
    const largeInFlight = () =>
      server.requests().some((request) => request.method === "PUT" && request.url.includes("upload_id"));
    expect(await killWhen(args, env, largeInFlight)).toBe(true);
    expect((await visibleObjects(bucket)).wrong).toEqual([]);
    await killRepeatedly({
      args,
      env,
      kills: 3,
      seed: 2,
      maxDelayMs: 1500,
      writing: async () => uploads() > 0,
      afterKill: async () => {
        expect((await visibleObjects(bucket)).wrong).toEqual([]);
      },
    });

    const rerun = await runFerryToEnd(args, env);
    expect(rerun.code, rerun.stderr).toBe(0);
    const after = await visibleObjects(bucket);
    expect(after.wrong).toEqual([]);
    expect(after.visible).toEqual([...source.keys()].sort());

    const cleanup = await runFerryToEnd(["cleanup", `gs://${bucket}/dst`], env);
    expect(cleanup.code).toBe(2);
    expect(cleanup.stderr.trim()).toBe("ferry: Unsupported: gs storage does not support cleanup");
  }, 180_000);
});
