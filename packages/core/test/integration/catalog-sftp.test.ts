import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type SshdBackend, sshdSkipReason, startSshd } from "@ferry/test-harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Catalog,
  FunctionJob,
  getFromRun,
  listRuns,
  type PluginRegistry,
  verifyRun,
} from "../../src/index.ts";
import { DATA_TXT, DF_CSV, md5, quiet, useWorkspace, writeFiles } from "../catalog-fixtures.ts";
import { sftpPlugins } from "../sftp-fixture.ts";

const skip = sshdSkipReason();
const { workdir } = useWorkspace();
let sshd: SshdBackend;
let plugins: PluginRegistry;

beforeAll(async () => {
  if (skip) return;
  sshd = await startSshd();
  plugins = sftpPlugins(sshd);
});

afterAll(async () => {
  await plugins?.close();
  await sshd?.stop();
});

describe.skipIf(skip)("a catalog on an SSH host (SFTP)", () => {
  it("captures a run onto the host, lists it, gets it back into another working directory and verifies it", async () => {
    const root = sshd.makeRoot();
    const location = `sftp://${sshd.user}@${sshd.host}:${sshd.port}${root}/catalog`;
    const cwd = await workdir();
    const summary = await new FunctionJob({
      fn: writeFiles,
      catalog: new Catalog({ put: ["df.csv", "data_folder"], location }),
    }).execute({ cwd, plugins, runId: "cluster-run", ...quiet });
    expect(summary).toMatchObject({
      status: "SUCCESS",
      "Output catalog content": ["df.csv", "data_folder/data.txt"],
    });
    // The host is this machine: read what landed there without going through ferry.
    expect(await readFile(join(root, "catalog/cluster-run/df.csv"), "utf8")).toBe(DF_CSV);
    expect(await readFile(join(root, "catalog/cluster-run/data_folder/data.txt"), "utf8")).toBe(DATA_TXT);
    const runLog = JSON.parse(await readFile(join(root, "catalog/cluster-run/cluster-run.json"), "utf8"));
    expect(runLog).toMatchObject({ runId: "cluster-run", status: "SUCCESS" });

    expect((await listRuns({ location, plugins })).map((run) => [run.runId, run.status])).toEqual([
      ["cluster-run", "SUCCESS"],
    ]);
    const elsewhere = await workdir();
    const got = await getFromRun("cluster-run", "data_folder", { location, plugins, cwd: elsewhere });
    expect(got.map((record) => [record.name, record.md5])).toEqual([["data_folder/data.txt", md5(DATA_TXT)]]);
    expect(await readFile(join(elsewhere, "data_folder/data.txt"), "utf8")).toBe(DATA_TXT);
    expect(await verifyRun("cluster-run", { location, plugins })).toMatchObject({ ok: true, checked: 2 });
  });
});
