import { existsSync } from "node:fs";
import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import { HOST, startAzurite, startS3rver } from "../../src/index.ts";

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

describe("s3rver backend", () => {
  it("serves buckets on 127.0.0.1 and leaves no process, port or directory behind", async () => {
    const s3 = await startS3rver();
    const port = Number(new URL(s3.endpoint).port);
    const { pid, dataDirectory: dataDir } = s3;
    try {
      expect(new URL(s3.endpoint).hostname).toBe("127.0.0.1");
      const bucket = await s3.createBucket();
      expect(bucket).toMatch(/^ferry-test-[0-9a-f]{12}$/);
      const listing = await (await fetch(`${s3.endpoint}/`)).text();
      expect(listing).toContain(`<Name>${bucket}</Name>`);
      expect(s3.env()).toMatchObject({ AWS_ENDPOINT_URL: s3.endpoint, AWS_ACCESS_KEY_ID: "S3RVER" });
      expect(isAlive(pid)).toBe(true);
      expect(existsSync(dataDir)).toBe(true);
    } finally {
      await s3.stop();
      await s3.stop(); // idempotent
    }
    expect(isAlive(pid)).toBe(false);
    expect(await portAccepts(port)).toBe(false);
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe("azurite backend", () => {
  it("serves containers on 127.0.0.1 and leaves no process, port or directory behind", async () => {
    const azurite = await startAzurite();
    const port = Number(new URL(azurite.blobEndpoint).port);
    const { pid, dataDirectory: dataDir } = azurite;
    try {
      expect(new URL(azurite.blobEndpoint).hostname).toBe("127.0.0.1");
      const container = await azurite.createContainer();
      expect(container).toMatch(/^ferry-test-[0-9a-f]{12}$/);
      await expect(azurite.createContainer(container)).rejects.toThrow(/409/);
      expect(azurite.connectionString).toContain(`BlobEndpoint=${azurite.blobEndpoint};`);
      expect(isAlive(pid)).toBe(true);
    } finally {
      await azurite.stop();
      await azurite.stop();
    }
    expect(isAlive(pid)).toBe(false);
    expect(await portAccepts(port)).toBe(false);
    expect(existsSync(dataDir)).toBe(false);
  });
});
