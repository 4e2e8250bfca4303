/**
 * Names a system cannot hold are refused loudly, per file, never changed or dropped in silence:
 * Azure Blob Storage turns `\` into `/`, so `back\slash.txt` would be stored as `back/slash.txt` and a
 * second `sync --delete` would then delete it.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { type AzuriteBackend, startAzurite } from "@ferry/test-harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonLines, makeTemp, removeTemp, runFerry, writeFiles } from "./run-ferry.ts";

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
