import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createStorage, parseLocation } from "@ferry/core";
import { s3 } from "@ferry/storage-s3";
import { type FaultProxy, type S3Backend, startFaultProxy, startS3rver } from "@ferry/test-harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runFerry } from "../../packages/cli/test/run-ferry.ts";
import { MARKER, payload } from "./stall-scenarios.ts";

describe("ferry cp --timeout", () => {
  let server: S3Backend;
  let proxy: FaultProxy;
  let bucket: string;
  let local: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    server = await startS3rver();
    bucket = await server.createBucket();
    proxy = await startFaultProxy({ port: Number(new URL(server.endpoint).port) });
    const storage = createStorage(
      await s3({
        endpoint: server.endpoint,
        region: server.region,
        credentials: { ...server.credentials },
      }).create(parseLocation(`s3://${bucket}`)),
    );
    await storage.write("data.bin", [payload()]);
    await storage.close();
    local = await mkdtemp(join(tmpdir(), "ferry-stall-cli-"));
    env = {
      AWS_ENDPOINT_URL: proxy.endpoint,
      AWS_REGION: server.region,
      AWS_ACCESS_KEY_ID: server.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
      AWS_CA_BUNDLE: "",
    };
  });
  afterAll(async () => {
    await proxy?.stop();
    await server?.stop();
    if (local) await rm(local, { recursive: true, force: true });
  });

  it("a download that stalls on every attempt exits 8 with one line naming the host and the file", async () => {
    proxy.inject({ kind: "stall", direction: "downstream", marker: MARKER, times: Number.POSITIVE_INFINITY });
    const to = join(local, "to");
    const run = await runFerry(["cp", `s3://${bucket}/data.bin`, to, "--timeout", "1s", "--retries", "1"], {
      env,
    });
    proxy.clear();
    expect(run.code).toBe(8);
    const lines = run.stderr.split("\n").filter((line) => line.includes("no data from"));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(
        `no data from 127\\.0\\.0\\.1:${proxy.port} for 1 s while reading s3://${bucket}/data\\.bin`,
      ),
    );
    expect(await readdir(to).catch(() => [])).toEqual([]);
  }, 30_000);

  it("a malformed --timeout is a usage error naming the flag", async () => {
    const run = await runFerry(["cp", `s3://${bucket}/data.bin`, join(local, "x"), "--timeout", "soon"], {
      env,
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--timeout/);
    expect(run.stderr.trim().split("\n")).toHaveLength(2); // the error, and commander's usage hint
  }, 30_000);
});
