/** Configuration: options, the AWS environment and profile chain, region and path-style decisions. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createStorage, PluginRegistry, parseLocation } from "@ferry/core";
import { printLogsOnFailure, type S3Backend } from "@ferry/test-harness";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { needsPathStyle, s3 } from "../../src/index.ts";
import { clientConfig } from "../../src/options.ts";
import { startS3rver } from "../fixture.ts";

let server: S3Backend;
beforeAll(async () => {
  server = await startS3rver();
});
afterAll(() => server?.stop());
afterEach((context) => printLogsOnFailure(context, server));

describe("configuration", () => {
  it("uses path-style addressing for IP and localhost endpoints only", () => {
    expect(needsPathStyle("http://127.0.0.1:9000")).toBe(true);
    expect(needsPathStyle("http://[::1]:9000")).toBe(true);
    expect(needsPathStyle("http://localhost:4566")).toBe(true);
    expect(needsPathStyle("https://s3.eu-west-1.amazonaws.com")).toBe(false);
    expect(clientConfig({ endpoint: "https://minio.example.com", forcePathStyle: true }).forcePathStyle).toBe(
      true,
    );
  });

  it("reads endpoint and region from AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL and AWS_REGION", () => {
    const viaService = clientConfig(
      {},
      {
        AWS_ENDPOINT_URL_S3: "http://127.0.0.1:1",
        AWS_ENDPOINT_URL: "http://other:2",
        AWS_REGION: "eu-west-3",
      },
    );
    expect(viaService).toMatchObject({
      endpoint: "http://127.0.0.1:1",
      region: "eu-west-3",
      forcePathStyle: true,
    });
    const viaGlobal = clientConfig({}, { AWS_ENDPOINT_URL: "http://localhost:2" });
    expect(viaGlobal).toMatchObject({ endpoint: "http://localhost:2", forcePathStyle: true });
    // No region named: the SDK's chain (profile) decides when the client is created, else us-east-1.
    expect(viaGlobal.region).toBeUndefined();
    expect(clientConfig({}, {}).endpoint).toBeUndefined();
  });

  it("works with no options at all, configured from the environment like a child process would be", async () => {
    const bucket = await server.createBucket();
    const saved = { ...process.env };
    Object.assign(process.env, server.env());
    try {
      const plugin = s3();
      const storage = createStorage(await plugin.create(parseLocation(`s3://${bucket}`)));
      await storage.write("from-env.txt", "configured by AWS_ENDPOINT_URL");
      expect(new TextDecoder().decode(await storage.readBytes("from-env.txt"))).toBe(
        "configured by AWS_ENDPOINT_URL",
      );
      await storage.close();
    } finally {
      for (const key of Object.keys(server.env())) {
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
      }
    }
  });
});

describe("lazy loading by scheme", () => {
  it("a registry with nothing registered loads this package for s3:// and configures it from the environment", async () => {
    const bucket = await server.createBucket();
    const saved = { ...process.env };
    Object.assign(process.env, server.env());
    const registry = new PluginRegistry();
    try {
      const { storage, path } = await registry.resolve(`s3://${bucket}/lazy/loaded.txt`);
      await storage.write(path, "found by scheme");
      expect(new TextDecoder().decode(await storage.readBytes(path))).toBe("found by scheme");
      expect((await registry.storagePlugin("s3")).name).toBe("s3");
    } finally {
      await registry.close();
      for (const key of Object.keys(server.env())) {
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
      }
    }
  });
});

describe("credential chain", () => {
  it("finds credentials and region in a shared-config profile (AWS_PROFILE)", async () => {
    const bucket = await server.createBucket();
    const dir = await mkdtemp(join(tmpdir(), "ferry-aws-profile-"));
    await writeFile(
      join(dir, "credentials"),
      "[ferry-test]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n",
    );
    await writeFile(join(dir, "config"), "[profile ferry-test]\nregion = eu-west-3\n");
    const saved = { ...process.env };
    for (const key of Object.keys(process.env)) if (key.startsWith("AWS_")) delete process.env[key];
    Object.assign(process.env, {
      AWS_SHARED_CREDENTIALS_FILE: join(dir, "credentials"),
      AWS_CONFIG_FILE: join(dir, "config"),
      AWS_PROFILE: "ferry-test",
      AWS_ENDPOINT_URL: server.endpoint,
      AWS_EC2_METADATA_DISABLED: "true",
    });
    try {
      const storage = createStorage(await s3().create(parseLocation(`s3://${bucket}`)));
      await storage.write("via-profile.txt", "profile credentials");
      // The profile's region signs the requests (it is in the presigned URL's credential scope).
      expect(decodeURIComponent(await storage.presign("via-profile.txt"))).toContain(
        "/eu-west-3/s3/aws4_request",
      );
      expect(new TextDecoder().decode(await storage.readBytes("via-profile.txt"))).toBe(
        "profile credentials",
      );
      await storage.close();
    } finally {
      for (const key of Object.keys(process.env)) if (key.startsWith("AWS_")) delete process.env[key];
      Object.assign(process.env, saved);
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("region fallback", () => {
  it("signs for us-east-1 when a custom endpoint is set and nothing names a region", async () => {
    const bucket = await server.createBucket();
    const dir = await mkdtemp(join(tmpdir(), "ferry-aws-empty-"));
    await writeFile(join(dir, "config"), "");
    const saved = { ...process.env };
    for (const key of Object.keys(process.env)) if (key.startsWith("AWS_")) delete process.env[key];
    Object.assign(process.env, {
      AWS_CONFIG_FILE: join(dir, "config"),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, "config"),
      AWS_EC2_METADATA_DISABLED: "true",
    });
    try {
      const storage = createStorage(
        await s3({ endpoint: server.endpoint, credentials: { ...server.credentials } }).create(
          parseLocation(`s3://${bucket}`),
        ),
      );
      await storage.write("no-region.txt", "x");
      expect(decodeURIComponent(await storage.presign("no-region.txt"))).toContain(
        "/us-east-1/s3/aws4_request",
      );
      await storage.close();
    } finally {
      for (const key of Object.keys(process.env)) if (key.startsWith("AWS_")) delete process.env[key];
      Object.assign(process.env, saved);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
