/**
 * `ferry mkdir` of a bucket or container that does not exist creates it, as `rclone mkdir` does, so
 * the next `cp` into it works; "created" is printed only for what was made.
 */
import { join } from "node:path";
import {
  type AzuriteBackend,
  type GcsBackend,
  type S3Backend,
  startAzurite,
  startGcsServer,
  startS3rver,
} from "@ferry/test-harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonLines, makeTemp, removeTemp, runFerry, writeFiles } from "../run-ferry.ts";

let s3rver: S3Backend;
let azurite: AzuriteBackend;
let gcsServer: GcsBackend;
let work: string;

beforeAll(async () => {
  [s3rver, azurite, gcsServer] = await Promise.all([startS3rver(), startAzurite(), startGcsServer()]);
  work = await makeTemp("mkdir-bucket");
  await writeFiles(work, { "a.txt": "alpha\n" });
}, 60_000);

afterAll(async () => {
  await Promise.all([s3rver?.stop(), azurite?.stop(), gcsServer?.stop()]);
  await removeTemp(work);
});

function env(): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: s3rver.endpoint,
    AWS_ENDPOINT_URL_S3: s3rver.endpoint,
    AWS_ACCESS_KEY_ID: s3rver.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3rver.credentials.secretAccessKey,
    AWS_REGION: s3rver.region,
    AWS_EC2_METADATA_DISABLED: "true",
    AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString,
    STORAGE_EMULATOR_HOST: gcsServer.endpoint,
    GOOGLE_CLOUD_PROJECT: gcsServer.projectId,
  };
}

describe.each([
  ["s3", "s3://ferry-made-by-mkdir"],
  ["gs", "gs://ferry-made-by-mkdir"],
  ["az", "az://ferry-made-by-mkdir"],
])("ferry mkdir %s://new-bucket", (_system, url) => {
  it("creates the bucket, so the next cp into it succeeds; a second mkdir creates nothing", async () => {
    const before = await runFerry(["cp", join(work, "a.txt"), `${url}/before.txt`], { env: env() });
    expect(before.code, before.stderr).not.toBe(0);

    const made = await runFerry(["mkdir", "--json", url], { env: env() });
    expect(made.code, made.stderr).toBe(0);
    expect(jsonLines(made.stdout)).toContainEqual(
      expect.objectContaining({ event: "created", url: `${url}/` }),
    );

    const copied = await runFerry(["cp", join(work, "a.txt"), `${url}/a.txt`], { env: env() });
    expect(copied.code, copied.stderr).toBe(0);
    const listed = await runFerry(["ls", url], { env: env() });
    expect(listed.stdout).toBe("a.txt\n");

    const again = await runFerry(["mkdir", url], { env: env() });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe(`exists ${url}/\n`);
  }, 90_000);
});
