/**
 * Names a system cannot hold are refused loudly, per file, never changed or dropped in silence:
 * Azure Blob Storage turns `\` into `/`, so `back\slash.txt` would be stored as `back/slash.txt` and a
 * second `sync --delete` would then delete it. Keys that cannot become a safe local path (`..`, `.`,
 * empty segments) are named with a count wherever they are left out.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { type AzuriteBackend, type GcsBackend, startAzurite, startGcsServer } from "@ferry/test-harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonLines, makeTemp, removeTemp, runFerry, writeFiles } from "../run-ferry.ts";

let azurite: AzuriteBackend;
let work: string;

beforeAll(async () => {
  azurite = await startAzurite();
  work = await makeTemp("awkward-names");
  await writeFiles(work, { "src/back\\slash.txt": "backslash\n", "src/ok.txt": "fine\n" });
}, 60_000);

afterAll(async () => {
  await azurite?.stop();
  await removeTemp(work);
});

describe("a name Azure cannot hold", () => {
  it("sync --delete twice: the backslash file fails loudly each time, nothing is renamed or deleted", async () => {
    const container = await azurite.createContainer();
    const env = { AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString };
    for (let round = 0; round < 2; round += 1) {
      const run = await runFerry(["sync", "--delete", "--json", join(work, "src"), `az://${container}/d`], {
        env,
      });
      expect(run.code, run.stderr).not.toBe(0);
      const lines = jsonLines(run.stdout);
      const failed = lines.find((line) => line.event === "file" && line.status === "failed");
      expect(failed, run.stdout).toMatchObject({ path: "back\\slash.txt" });
      expect(JSON.stringify(failed)).toMatch(/backslash/i);
      expect(lines.find((line) => line.event === "summary")).toMatchObject({ failed: 1, deleted: 0 });
    }
    const listed = await runFerry(["ls", "-R", `az://${container}/d`], { env });
    expect(listed.stdout).toBe("ok.txt\n");
    // The source is untouched.
    expect(readdirSync(join(work, "src")).sort()).toEqual(["back\\slash.txt", "ok.txt"]);
  }, 90_000);
});

describe("keys that cannot be mapped to a safe path", () => {
  let gcsServer: GcsBackend;
  beforeAll(async () => {
    gcsServer = await startGcsServer();
  });
  afterAll(() => gcsServer?.stop());

  const UNSAFE = ["a/../b.txt", "c//d.txt", "./e.txt"];

  async function seed(): Promise<string> {
    const bucket = gcsServer.createBucket();
    for (const name of [...UNSAFE, "ok.txt"]) {
      const response = await fetch(
        `${gcsServer.endpoint}/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${encodeURIComponent(name)}`,
        { method: "POST", body: name },
      );
      expect(response.ok, await response.text()).toBe(true);
    }
    return bucket;
  }

  it("ls -R names every key it leaves out with a count; cp fails each one per file", async () => {
    const bucket = await seed();
    const env = { STORAGE_EMULATOR_HOST: gcsServer.endpoint, GOOGLE_CLOUD_PROJECT: gcsServer.projectId };
    const listed = await runFerry(["ls", "-R", `gs://${bucket}`], { env });
    expect(listed.stdout).toBe("ok.txt\n");
    expect(listed.stderr).toContain("3 keys");
    for (const name of UNSAFE) expect(listed.stderr).toContain(JSON.stringify(name));

    const copied = await runFerry(["cp", "--json", `gs://${bucket}`, join(work, "from-gcs")], { env });
    // Every failure is InvalidInput, so the exit code is InvalidInput's (2), as for any one-kind failure.
    expect(copied.code).toBe(2);
    const lines = jsonLines(copied.stdout);
    const failedFiles = lines.filter((line) => line.event === "file" && line.status === "failed");
    expect(failedFiles.map((line) => line.path).sort()).toEqual([...UNSAFE].sort());
    for (const line of failedFiles) expect(line.error).toMatchObject({ code: "InvalidInput" });
    const summary = lines.find((line) => line.event === "summary");
    expect(summary).toMatchObject({ copied: 1, failed: 3 });
    const notes = ((summary?.notes ?? []) as string[]).join("\n");
    expect(notes).toContain("3 keys");
    for (const name of UNSAFE) expect(notes).toContain(JSON.stringify(name));
    expect(readdirSync(join(work, "from-gcs"))).toEqual(["ok.txt"]);
  }, 90_000);
});
