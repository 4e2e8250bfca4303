/**
 * The Azure SDK loads on first use: importing the plugin, configuring it and creating a storage load
 * none of it, and @azure/identity is never loaded when a connection string is configured.
 */
import { execFile } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import type { AzuriteBackend } from "@ferry/test-harness";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startAzurite } from "../fixture.ts";

let server: AzuriteBackend;
beforeAll(async () => {
  server = await startAzurite();
});
afterAll(() => server?.stop());

it("resolves no @azure module until the first request, and never @azure/identity with a connection string", async () => {
  const container = await server.createContainer();
  const plugin = pathToFileURL(fileURLToPath(new URL("../../src/index.ts", import.meta.url))).href;
  const script = `
    import { registerHooks } from "node:module";
    const resolved = [];
    registerHooks({ resolve(specifier, context, next) { if (specifier.startsWith("@azure/")) resolved.push(specifier); return next(specifier, context); } });
    const { azure } = await import(${JSON.stringify(plugin)});
    const driver = await azure({ connectionString: process.env.TEST_CONNECTION_STRING })
      .create({ system: "az", root: ${JSON.stringify(container)}, container: ${JSON.stringify(container)}, path: "", url: "az://${container}/" });
    const beforeUse = [...resolved];
    const entry = await driver.stat("");
    console.log(JSON.stringify({ beforeUse, afterUse: resolved, kind: entry.kind }));
  `;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--conditions=@ferry/source", "--input-type=module", "-e", script],
    {
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
      env: { ...process.env, TEST_CONNECTION_STRING: server.connectionString },
    },
  );
  const result = JSON.parse(stdout.trim().split("\n").pop()!) as {
    beforeUse: string[];
    afterUse: string[];
    kind: string;
  };
  expect(result.beforeUse).toEqual([]);
  expect(result.afterUse).toContain("@azure/storage-blob");
  expect(result.afterUse).not.toContain("@azure/identity");
  expect(result.kind).toBe("directory");
});
