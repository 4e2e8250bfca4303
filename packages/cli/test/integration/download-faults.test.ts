/**
 * `ferry cp` downloads from GCS, S3 and Azure that fail on the way: a 503 answer (GCS server-side),
 * a connection reset in the middle of the body (through the fault proxy). What the user must see: a
 * transient failure retried, exit 0 with the exact bytes when it happens once, exit 8 and one stderr
 * line when it persists, never an uncaught exception and never a partial file at the destination.
 */
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { markedBytes } from "@ferry/conformance";
import {
  type AzuriteBackend,
  type FaultProxy,
  type GcsBackend,
  type S3Backend,
  startAzurite,
  startFaultProxy,
  startGcsServer,
  startS3rver,
} from "@ferry/test-harness";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type FerryRun, makeTemp, removeTemp, runFerry } from "../run-ferry.ts";

const SIZE = 256 * 1024;
/** The marker sits well inside the body, so a cut there comes after many bytes have arrived. */
const BODY = markedBytes(SIZE, 47, Math.floor(SIZE * 0.75));
const MID_BODY = { kind: "drop", direction: "downstream", marker: "FERRY-FAULT-MARKER", offset: 18 } as const;

let work: string;
beforeEach(async () => {
  work = await makeTemp("download-faults");
  await mkdir(join(work, "out"));
});
afterEach(async () => {
  await removeTemp(work);
});

/** A failed download: exit 8, one line naming the file, no exception, nothing left at the destination. */
async function expectCleanFailure(run: FerryRun, target: string) {
  expect(run.stderr).not.toMatch(/ERR_STREAM|Uncaught|\n\s+at /);
  expect(run.stderr.trim().split("\n"), run.stderr).toHaveLength(1);
  expect(run.stderr).toMatch(/^ferry: Transient: .*report\.bin/);
  expect(run.code).toBe(8);
  expect(await readdir(target)).toEqual([]);
}

async function expectExactCopy(run: FerryRun, target: string) {
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  await expect(readFile(join(target, "report.bin"))).resolves.toEqual(BODY);
  expect(await readdir(target)).toEqual(["report.bin"]);
}

/** The proxy resets the connection in the middle of the body, on every attempt and then once. */
function midBodyResets(proxy: () => FaultProxy, download: () => Promise<FerryRun>) {
  it("the connection reset in the middle of every body: exit 8, one stderr line, no partial file", async () => {
    const drop = proxy().inject({ ...MID_BODY, times: Infinity });
    await expectCleanFailure(await download(), join(work, "out"));
    expect(drop.fired).toBeGreaterThan(1);
  });

  it("the connection reset in the middle of the body once: retried, exit 0, the exact bytes", async () => {
    const drop = proxy().inject({ ...MID_BODY, times: 1 });
    await expectExactCopy(await download(), join(work, "out"));
    expect(drop.fired).toBe(1);
  });
}

/** Stores BODY at `url` with `ferry cp` from a local file. */
async function seed(url: string, env: Record<string, string>) {
  const dir = await makeTemp("download-faults-seed");
  try {
    await writeFile(join(dir, "report.bin"), BODY);
    const seeded = await runFerry(["cp", join(dir, "report.bin"), url], { env });
    expect(seeded.code, seeded.stderr).toBe(0);
  } finally {
    await removeTemp(dir);
  }
}

describe("ferry cp gs://… ./dir when the download fails", () => {
  let gcs: GcsBackend;
  let proxy: FaultProxy;
  let bucket: string;
  const env = (endpoint: string) => ({
    STORAGE_EMULATOR_HOST: endpoint,
    GOOGLE_CLOUD_PROJECT: gcs.projectId,
  });
  const download = (endpoint = gcs.endpoint) =>
    runFerry(["cp", "--retries", "2", `gs://${bucket}/report.bin`, join(work, "out")], {
      env: env(endpoint),
    });

  beforeAll(async () => {
    gcs = await startGcsServer();
    proxy = await startFaultProxy({ port: gcs.port });
    bucket = gcs.createBucket();
    await seed(`gs://${bucket}/report.bin`, env(gcs.endpoint));
  });
  afterAll(async () => {
    await proxy?.stop();
    await gcs?.stop();
  });
  afterEach(() => {
    gcs.clearFaults();
    proxy.clear();
  });

  it("no fault: exit 0, the exact bytes, nothing on stderr (no listener warning from the client)", async () => {
    await expectExactCopy(await download(), join(work, "out"));
  });

  it("a 503 on every attempt: exit 8, one stderr line, no file", async () => {
    gcs.injectFault({ method: "GET", path: /alt=media/, status: 503, times: 1000 });
    await expectCleanFailure(await download(), join(work, "out"));
  });

  it("a 503 once: retried, exit 0, the exact bytes", async () => {
    gcs.injectFault({ method: "GET", path: /alt=media/, status: 503, times: 1 });
    await expectExactCopy(await download(), join(work, "out"));
    expect(gcs.requests().some((r) => r.status === 503)).toBe(true);
  });

  midBodyResets(
    () => proxy,
    () => download(proxy.endpoint),
  );

  it("a reset in the middle of the body is not blamed on the endpoint setting, which worked", async () => {
    proxy.inject({ ...MID_BODY, times: Infinity });
    const run = await download(proxy.endpoint);
    expect(run.code).toBe(8);
    expect(run.stderr).toMatch(
      /^ferry: Transient: read gs:\/\/.*report\.bin: .*reset.* during the download\n$/,
    );
    expect(run.stderr).not.toMatch(/STORAGE_EMULATOR_HOST/);
  });
});

describe("ferry cp s3://… ./dir when the connection is reset mid-body", () => {
  let s3: S3Backend;
  let proxy: FaultProxy;
  let bucket: string;
  const env = () => ({ ...s3.env(), AWS_ENDPOINT_URL: proxy.endpoint, AWS_ENDPOINT_URL_S3: proxy.endpoint });
  const download = () =>
    runFerry(["cp", "--retries", "2", `s3://${bucket}/report.bin`, join(work, "out")], { env: env() });

  beforeAll(async () => {
    s3 = await startS3rver();
    proxy = await startFaultProxy({ port: Number(new URL(s3.endpoint).port) });
    bucket = await s3.createBucket();
    const put = await fetch(`${s3.endpoint}/${bucket}/report.bin`, { method: "PUT", body: BODY });
    expect(put.ok).toBe(true);
  });
  afterAll(async () => {
    await proxy?.stop();
    await s3?.stop();
  });
  afterEach(() => proxy.clear());

  midBodyResets(() => proxy, download);
});

describe("ferry cp az://… ./dir when the connection is reset mid-body", () => {
  let azurite: AzuriteBackend;
  let proxy: FaultProxy;
  let url: string;
  const env = () => ({
    AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString.replace(
      `127.0.0.1:${new URL(azurite.blobEndpoint).port}`,
      `127.0.0.1:${proxy.port}`,
    ),
  });
  const download = () => runFerry(["cp", "--retries", "2", url, join(work, "out")], { env: env() });

  beforeAll(async () => {
    azurite = await startAzurite();
    proxy = await startFaultProxy({ port: Number(new URL(azurite.blobEndpoint).port) });
    url = `az://${await azurite.createContainer()}/report.bin`;
    await seed(url, { AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString });
  });
  afterAll(async () => {
    await proxy?.stop();
    await azurite?.stop();
  });
  afterEach(() => proxy.clear());

  midBodyResets(() => proxy, download);
});
