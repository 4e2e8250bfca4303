/** One s3rver for a test file (catalog and registry on S3): a bucket, a plugin registry that reaches it, a work directory. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { s3 } from "@ferry/storage-s3";
import { type S3Backend, startS3rver } from "@ferry/test-harness";
import { afterAll, beforeAll } from "vitest";
import { local, PluginRegistry } from "../src/index.ts";

export interface S3Fixture {
  server: S3Backend;
  bucket: string;
  /** local + s3 (pointed at the server), conditional writes withheld: s3rver ignores If-None-Match. */
  plugins: PluginRegistry;
  work: string;
}

/** Starts s3rver before the file's tests and stops it after; read the fields inside tests. */
export function useS3rver(): S3Fixture {
  const fixture = {} as S3Fixture;
  beforeAll(async () => {
    fixture.server = await startS3rver();
    fixture.bucket = await fixture.server.createBucket();
    fixture.work = await mkdtemp(join(tmpdir(), "ferry-s3-"));
    fixture.plugins = new PluginRegistry({ lazy: false });
    const { endpoint, region, credentials } = fixture.server;
    fixture.plugins.use(
      local(),
      s3({ endpoint, region, credentials: { ...credentials }, capabilities: { conditionalWrite: false } }),
    );
  });
  afterAll(async () => {
    await fixture.plugins?.close();
    await fixture.server?.stop();
    if (fixture.work) await rm(fixture.work, { recursive: true, force: true });
  });
  return fixture;
}
