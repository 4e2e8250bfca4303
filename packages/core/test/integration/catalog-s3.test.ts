import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  Catalog,
  FunctionJob,
  getFromRun,
  listRuns,
  Pipeline,
  ShellJob,
  verifyRun,
} from "../../src/index.ts";
import { useS3rver } from "../s3rver-fixture.ts";

const md5 = (text: string) => createHash("md5").update(text).digest("hex");

const s3 = useS3rver();

describe("a catalog on S3", () => {
  it("captures a run into s3://bucket/prefix/<run-id>/, lists it, streams a get into another working directory and verifies it", async () => {
    const cwd = await mkdtemp(join(s3.work, "wd-"));
    const location = `s3://${s3.bucket}/team-catalog`;
    const summary = await new ShellJob({
      command:
        "mkdir -p data_folder && printf 'a,b\\n1,2\\n' > df.csv && printf 'hello\\n' > data_folder/data.txt && echo captured",
      catalog: new Catalog({ put: ["df.csv", "data_folder"], location }),
    }).execute({ cwd, plugins: s3.plugins, quiet: true, runId: "s3-run-0001" });
    expect(summary).toMatchObject({
      status: "SUCCESS",
      "Output catalog content": ["df.csv", "data_folder/data.txt"],
    });
    expect(summary["Catalog Location"]).toBe(`s3://${s3.bucket}/team-catalog/s3-run-0001`);

    const { storage } = await s3.plugins.resolve(`s3://${s3.bucket}`);
    const keys: string[] = [];
    for await (const entry of storage.list("team-catalog/s3-run-0001", { recursive: true }))
      keys.push(entry.path);
    expect(keys.filter((key) => !key.endsWith(".execution.log"))).toEqual([
      "team-catalog/s3-run-0001/data_folder/data.txt",
      "team-catalog/s3-run-0001/df.csv",
      "team-catalog/s3-run-0001/s3-run-0001.json",
      "team-catalog/s3-run-0001/s3-run-0001.summary.json",
    ]);
    const log = keys.find((key) => key.endsWith(".execution.log"))!;
    expect(new TextDecoder().decode(await storage.readBytes(log))).toContain("captured");

    expect(
      (await listRuns({ location, plugins: s3.plugins })).map((run) => [run.runId, run.status, run.files]),
    ).toEqual([["s3-run-0001", "SUCCESS", 2]]);

    const elsewhere = await mkdtemp(join(s3.work, "elsewhere-"));
    const got = await getFromRun("s3-run-0001", ["data_folder", "df.csv"], {
      location,
      plugins: s3.plugins,
      cwd: elsewhere,
    });
    expect(got.map((record) => [record.name, record.md5])).toEqual([
      ["data_folder/data.txt", md5("hello\n")],
      ["df.csv", md5("a,b\n1,2\n")],
    ]);
    expect(await readFile(join(elsewhere, "data_folder/data.txt"), "utf8")).toBe("hello\n");

    expect((await verifyRun("s3-run-0001", { location, plugins: s3.plugins })).ok).toBe(true);
    await storage.write("team-catalog/s3-run-0001/df.csv", "tampered");
    const report = await verifyRun("s3-run-0001", { location, plugins: s3.plugins });
    expect(report.problems.map((problem) => [problem.name, problem.problem])).toEqual([
      ["df.csv", "changed"],
    ]);
  });

  it("pipelines share the remote run folder: a later step gets what an earlier one put; a reused run id is refused", async () => {
    const cwd = await mkdtemp(join(s3.work, "wd-"));
    const location = `s3://${s3.bucket}/pipelines`;
    const write = new FunctionJob({
      name: "write",
      fn: async ({ cwd }) => {
        await mkdir(join(cwd, "out"), { recursive: true });
        await writeFile(join(cwd, "out/model.bin"), new Uint8Array(300_000).fill(7));
      },
      catalog: new Catalog({ put: ["out/*.bin"], location }),
    });
    const read = new FunctionJob({
      name: "read",
      fn: async ({ cwd }) => {
        await rm(join(cwd, "out"), { recursive: true });
        return {};
      },
    });
    const check = new ShellJob({
      name: "check",
      command: "test $(wc -c < out/model.bin) -eq 300000",
      catalog: new Catalog({ get: ["out"], location }),
    });
    const summary = await new Pipeline({ steps: [write, read, check] }).execute({
      cwd,
      plugins: s3.plugins,
      quiet: true,
      runId: "pipe-1",
    });
    expect(summary).toMatchObject({ status: "SUCCESS", "Input catalog content": ["out/model.bin"] });
    await expect(
      new Pipeline({ steps: [write] }).execute({ cwd, plugins: s3.plugins, quiet: true, runId: "pipe-1" }),
    ).rejects.toThrow(/already exists/);
  });
});
