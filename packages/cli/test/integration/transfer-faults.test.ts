/**
 * `ferry cp` to S3 through a proxy that flips a byte of the upload: what the user sees. s3rver stores
 * a flipped body without complaint, so only ferry's own check of the server's answer can catch it.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { markedBytes } from "@ferry/conformance";
import { type FaultProxy, type S3Backend, startFaultProxy, startS3rver } from "@ferry/test-harness";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { makeTemp, removeTemp, runFerry } from "../run-ferry.ts";

let server: S3Backend;
let proxy: FaultProxy;
let work: string;
beforeAll(async () => {
  server = await startS3rver();
  proxy = await startFaultProxy({ port: Number(new URL(server.endpoint).port) });
});
afterAll(async () => {
  await proxy?.stop();
  await server?.stop();
});
beforeEach(async () => {
  work = await makeTemp("faults");
});
afterEach(async () => {
  proxy.clear();
  await removeTemp(work);
});

const flipInUpload = (times: number) =>
  proxy.inject({ kind: "flip", direction: "upstream", marker: "FERRY-FAULT-MARKER", offset: 23, times });

/** `ferry cp` of one file to a fresh bucket, with the S3 endpoint pointing at the proxy. */
async function cpThroughProxy() {
  const bucket = await server.createBucket();
  const file = join(work, "report.bin");
  const body = markedBytes(5000, 31);
  await writeFile(file, body);
  const env = { ...server.env(), AWS_ENDPOINT_URL: proxy.endpoint, AWS_ENDPOINT_URL_S3: proxy.endpoint };
  const run = await runFerry(["cp", file, `s3://${bucket}/report.bin`], { env });
  const stored = await fetch(`${server.endpoint}/${bucket}/report.bin`);
  return { run, body, stored: stored.ok ? Buffer.from(await stored.arrayBuffer()) : undefined };
}

describe("ferry cp through a network that corrupts uploads", () => {
  it("a byte flipped on every attempt: exit 6, stderr names the file, nothing stored", async () => {
    flipInUpload(Infinity);
    const { run, stored } = await cpThroughProxy();
    expect(run.code).toBe(6);
    expect(run.stderr).toMatch(/^ferry: Integrity: .*report\.bin.*$/m);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(stored).toBeUndefined();
  });

  it("a byte flipped once: retried, exit 0, the object holds the exact bytes", async () => {
    const flip = flipInUpload(1);
    const { run, body, stored } = await cpThroughProxy();
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(flip.fired).toBe(1);
    expect(stored).toEqual(body);
    await expect(readFile(join(work, "report.bin"))).resolves.toEqual(body);
  });
});
