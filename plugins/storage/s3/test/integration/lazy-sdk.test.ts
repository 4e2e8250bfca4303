/** The AWS SDK loads on first use: importing the plugin, configuring it and creating a storage load none of it. */
import { execFile } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import type { S3Backend } from "@ferry/test-harness";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startS3rver } from "../fixture.ts";

let server: S3Backend;
beforeAll(async () => {
  server = await startS3rver();
});
afterAll(() => server?.stop());

it("resolves no @aws-sdk module until the first request", async () => {
  const bucket = await server.createBucket();
  const plugin = pathToFileURL(fileURLToPath(new URL("../../src/index.ts", import.meta.url))).href;
  const script = `
    import { registerHooks } from "node:module";
    const resolved = [];
    registerHooks({ resolve(specifier, context, next) { if (specifier.startsWith("@aws-sdk/")) resolved.push(specifier); return next(specifier, context); } });
    const { s3 } = await import(${JSON.stringify(plugin)});
    const driver = await s3({ endpoint: ${JSON.stringify(server.endpoint)}, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } })
      .create({ system: "s3", root: ${JSON.stringify(bucket)}, bucket: ${JSON.stringify(bucket)}, path: "", url: "s3://${bucket}/" });
    const beforeUse = [...resolved];
    const entry = await driver.stat("");
    console.log(JSON.stringify({ beforeUse, afterUse: resolved, kind: entry.kind }));
    await driver.close();
  `;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--conditions=@ferry/source", "--input-type=module", "-e", script],
    {
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
    },
  );
  const result = JSON.parse(stdout.trim().split("\n").pop()!) as {
    beforeUse: string[];
    afterUse: string[];
    kind: string;
  };
  expect(result.beforeUse).toEqual([]);
  expect(result.afterUse).toContain("@aws-sdk/client-s3");
  expect(result.kind).toBe("directory");
});
