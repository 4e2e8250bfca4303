/** The SDK is loaded on first use: importing the plugin and creating storages loads nothing heavy. */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type GcsBackend, startGcsServer } from "@ferry/test-harness";
import { afterAll, beforeAll, expect, it } from "vitest";

let server: GcsBackend;
beforeAll(async () => {
  server = await startGcsServer();
});
afterAll(() => server?.stop());

// Run in a fresh process: in this one, other tests have loaded the SDK already.
const script = `
import { createRequire } from "node:module";
import { parseLocation } from "@ferry/core";
const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes("@google-cloud/storage"));
const { default: gcs } = await import(process.argv[1]);
const storage = gcs().create(parseLocation("gs://" + process.argv[2] + "/"));
const beforeUse = loaded();
const entry = await storage.stat("");
console.log(JSON.stringify({ beforeUse, afterUse: loaded(), kind: entry.kind }));
`;

it("loads @google-cloud/storage only when a storage first talks to GCS", async () => {
  const entry = fileURLToPath(new URL("../../src/index.ts", import.meta.url));
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--conditions=@ferry/source", "--input-type=module", "-e", script, entry, server.createBucket()],
    {
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
      env: { ...process.env, STORAGE_EMULATOR_HOST: server.endpoint },
    },
  );
  expect(JSON.parse(stdout.trim().split("\n").at(-1)!)).toEqual({
    beforeUse: false,
    afterUse: true,
    kind: "directory",
  });
});
