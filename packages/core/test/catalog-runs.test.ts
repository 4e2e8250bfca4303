import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FerryError } from "@ferry/plugin-kit";
import { describe, expect, it } from "vitest";
import {
  Catalog,
  FunctionJob,
  gcRuns,
  getFromRun,
  listRuns,
  Pipeline,
  readRun,
  ShellJob,
  verifyRun,
} from "../src/index.ts";
import {
  DATA_TXT,
  DF_CSV,
  md5,
  quiet,
  runLogOf,
  tree,
  useWorkspace,
  writeAt,
  writeFiles,
} from "./catalog-fixtures.ts";

const { workdir } = useWorkspace();

describe("runs", () => {
  it("takes the run id from the caller or FERRY_RUN_ID, refuses to reuse one without retry, and retries under it", async () => {
    const cwd = await workdir();
    const job = new FunctionJob({ fn: writeFiles, catalog: new Catalog({ put: ["df.csv"] }) });
    expect((await job.execute({ cwd, runId: "nightly-2024-01-01", ...quiet }))["Unique execution id"]).toBe(
      "nightly-2024-01-01",
    );
    expect(
      (await job.execute({ cwd, env: { FERRY_RUN_ID: "from-env" }, ...quiet }))["Unique execution id"],
    ).toBe("from-env");
    const error = await job
      .execute({ cwd, runId: "nightly-2024-01-01", ...quiet })
      .catch((caught: unknown) => caught);
    expect(FerryError.isInstance(error, "AlreadyExists")).toBe(true);
    expect((error as Error).message).toMatch(/retry: true/);
    const retried = await job.execute({ cwd, runId: "nightly-2024-01-01", retry: true, ...quiet });
    expect(retried.status).toBe("SUCCESS");
    const log = await runLogOf(cwd, "nightly-2024-01-01");
    expect(log.attempts).toBe(2);
    expect(log.steps.map((step) => step.attempt)).toEqual([1, 2]);
    await expect(job.execute({ cwd, runId: "../escape", ...quiet })).rejects.toThrow(/invalid run id/);
  });

  it("a pipeline retried under its run id skips the steps that already succeeded", async () => {
    const cwd = await workdir();
    let generated = 0;
    let attempts = 0;
    const pipeline = new Pipeline({
      steps: [
        new FunctionJob({
          name: "generate",
          fn: async (context) => {
            generated += 1;
            await writeFiles(context);
            return { rows: 2 };
          },
          catalog: new Catalog({ put: ["df.csv"] }),
        }),
        new FunctionJob({
          name: "flaky",
          fn: ({ parameters }) => {
            attempts += 1;
            if (attempts === 1) throw new Error("transient failure");
            return { seen_rows: parameters.rows };
          },
          catalog: new Catalog({ get: ["df.csv"] }),
        }),
      ],
    });
    const first = await pipeline.execute({ cwd, runId: "nightly", ...quiet });
    expect(first).toMatchObject({ status: "FAIL", Error: "flaky: transient failure" });
    const second = await pipeline.execute({ cwd, runId: "nightly", retry: true, ...quiet });
    expect(second).toMatchObject({
      status: "SUCCESS",
      "Final Parameters": [
        ["rows", "2"],
        ["seen_rows", "2"],
      ],
    });
    expect(generated).toBe(1);
    const log = await runLogOf(cwd, "nightly");
    expect(log.attempts).toBe(2);
    expect(log.steps.map((step) => [step.name, step.attempt, step.status])).toEqual([
      ["generate", 1, "SUCCESS"],
      ["flaky", 1, "FAIL"],
      ["flaky", 2, "SUCCESS"],
    ]);
  });

  it("pipeline: a later step's get brings back what an earlier step put, with parameters flowing between steps", async () => {
    const cwd = await workdir();
    const pipeline = new Pipeline({
      steps: [
        new FunctionJob({
          name: "generate_data",
          fn: async (context) => {
            await writeFiles(context);
            return { rows: 2 };
          },
          catalog: new Catalog({ put: ["df.csv", "data_folder/data.txt"] }),
        }),
        new FunctionJob({
          name: "delete_working_copies",
          fn: async ({ cwd }) => {
            await rm(join(cwd, "df.csv"));
            await rm(join(cwd, "data_folder"), { recursive: true });
          },
        }),
        new ShellJob({
          name: "read_data",
          command: 'test "$FERRY_PRM_rows" = 2 && cat df.csv data_folder/data.txt > combined.txt',
          catalog: new Catalog({ get: ["df.csv", "data_folder"], put: ["combined.txt"] }),
        }),
      ],
    });
    const summary = await pipeline.execute({ cwd, ...quiet });
    expect(summary).toMatchObject({
      status: "SUCCESS",
      "Input catalog content": ["df.csv", "data_folder/data.txt"].sort(),
      "Output catalog content": ["df.csv", "data_folder/data.txt", "combined.txt"],
      "Final Parameters": [["rows", "2"]],
    });
    const runId = summary["Unique execution id"] as string;
    expect(await readFile(join(cwd, ".catalog", runId, "combined.txt"), "utf8")).toBe(DF_CSV + DATA_TXT);
    const log = await runLogOf(cwd, runId);
    expect(log.steps.map((step) => [step.name, step.status])).toEqual([
      ["generate_data", "SUCCESS"],
      ["delete_working_copies", "SUCCESS"],
      ["read_data", "SUCCESS"],
    ]);
    const gets = log.steps[2]!.catalog.filter((record) => record.stage === "get");
    expect(gets).toEqual([
      expect.objectContaining({
        name: "data_folder/data.txt",
        md5: md5(DATA_TXT),
        source: `runs:${runId}/data_folder/data.txt`,
      }),
      expect.objectContaining({ name: "df.csv", md5: md5(DF_CSV), source: `runs:${runId}/df.csv` }),
    ]);
    const logs = (await tree(join(cwd, ".catalog", runId))).filter((file) => file.endsWith(".execution.log"));
    expect(logs.map((file) => file.slice(0, -"XYZ.execution.log".length)).sort()).toEqual([
      "delete_working_copies",
      "generate_data",
      "read_data",
    ]);
  });

  it("a get that matches nothing fails the step before it runs; a hash-only file cannot be got", async () => {
    const cwd = await workdir();
    let ran = false;
    const summary = await new Pipeline({
      steps: [
        new FunctionJob({
          name: "write",
          fn: writeFiles,
          catalog: new Catalog({ put: ["df.csv"], storeCopy: false }),
        }),
        new FunctionJob({
          name: "read",
          fn: () => {
            ran = true;
          },
          catalog: new Catalog({ get: ["df.csv"] }),
        }),
      ],
    }).execute({ cwd, ...quiet });
    expect(ran).toBe(false);
    expect(summary.status).toBe("FAIL");
    expect(summary.Error).toMatch(/read: catalog get "df\.csv": df\.csv was recorded by hash only/);
    const second = await new FunctionJob({
      fn: () => undefined,
      catalog: new Catalog({ get: ["nothing/*"] }),
    }).execute({ cwd, ...quiet });
    expect(second.Error).toMatch(/catalog get "nothing\/\*" matched nothing in/);
  });

  it("gets files from an earlier run with runs:<run-id>/<pattern>, checked against its MD5", async () => {
    const cwd = await workdir();
    const first = await new FunctionJob({
      fn: writeFiles,
      catalog: new Catalog({ put: ["df.csv", "data_folder/data.txt"] }),
    }).execute({
      cwd,
      runId: "train-0001",
      ...quiet,
    });
    expect(first.status).toBe("SUCCESS");
    const elsewhere = await workdir();
    const catalogLocation = join(cwd, ".catalog");
    const second = await new ShellJob({
      command: "cat df.csv data_folder/data.txt > both.txt",
      catalog: new Catalog({
        get: ["runs:train-0001/df.csv", "runs:train-0001/data_folder/*"],
        put: ["both.txt"],
        location: catalogLocation,
      }),
    }).execute({ cwd: elsewhere, ...quiet });
    expect(second).toMatchObject({
      status: "SUCCESS",
      "Input catalog content": ["data_folder/data.txt", "df.csv"],
    });
    expect(await readFile(join(elsewhere, "both.txt"), "utf8")).toBe(DF_CSV + DATA_TXT);

    const third = await workdir();
    const records = await getFromRun("train-0001", ["df.csv"], { cwd: third, location: catalogLocation });
    expect(records).toEqual([
      expect.objectContaining({ name: "df.csv", stage: "get", md5: md5(DF_CSV), size: DF_CSV.length }),
    ]);
    expect(await readFile(join(third, "df.csv"), "utf8")).toBe(DF_CSV);

    // A stored copy changed after capture is refused, and the working copy is left alone.
    await writeFile(join(catalogLocation, "train-0001", "df.csv"), "tampered");
    await writeFile(join(third, "df.csv"), "mine");
    await expect(
      getFromRun("train-0001", "df.csv", { cwd: third, location: catalogLocation }),
    ).rejects.toThrow(/MD5 .* recorded/);
    expect(await readFile(join(third, "df.csv"), "utf8")).toBe("mine");
  });

  it("verify reports stored copies and hash-only files that no longer match the run log", async () => {
    const cwd = await workdir();
    await new Pipeline({
      steps: [
        new FunctionJob({
          name: "copies",
          fn: writeFiles,
          catalog: new Catalog({ put: ["df.csv", "data_folder/data.txt"] }),
        }),
        new FunctionJob({
          name: "hashes",
          fn: async ({ cwd }) => writeAt(cwd, { "big.parquet": "parquet-bytes", "ref.csv": "x,y\n" }),
          catalog: new Catalog({ put: ["big.parquet", "ref.csv"], storeCopy: false }),
        }),
      ],
    }).execute({ cwd, runId: "verify-me", ...quiet });
    expect(await verifyRun("verify-me", { cwd })).toEqual({
      runId: "verify-me",
      ok: true,
      checked: 4,
      problems: [],
    });
    await writeFile(join(cwd, ".catalog/verify-me/df.csv"), "a,b\n1,2\n3,5\n");
    await rm(join(cwd, ".catalog/verify-me/data_folder/data.txt"));
    await writeFile(join(cwd, "big.parquet"), "parquet-bytes, modified");
    const report = await verifyRun("verify-me", { cwd });
    expect(report.ok).toBe(false);
    expect(report.checked).toBe(4);
    expect(
      report.problems
        .map(({ name, stored, problem }) => ({ name, stored, problem }))
        .sort((a, b) => a.name.localeCompare(b.name)),
    ).toEqual([
      { name: "big.parquet", stored: false, problem: "changed" },
      { name: "data_folder/data.txt", stored: true, problem: "missing" },
      { name: "df.csv", stored: true, problem: "changed" },
    ]);
    const changed = report.problems.find((problem) => problem.name === "df.csv")!;
    expect(changed.expected).toEqual({ md5: md5(DF_CSV), size: DF_CSV.length });
    expect(changed.actual).toEqual({ md5: md5("a,b\n1,2\n3,5\n"), size: 12 });
  });

  it("lists runs newest first, reads one, and removes all but the newest N", async () => {
    const cwd = await workdir();
    const job = new FunctionJob({ fn: writeFiles, catalog: new Catalog({ put: ["df.csv"] }) });
    for (const runId of ["r1", "r2", "r3"]) await job.execute({ cwd, runId, ...quiet });
    const runs = await listRuns({ cwd });
    expect(runs.map((run) => [run.runId, run.status, run.files])).toEqual([
      ["r3", "SUCCESS", 1],
      ["r2", "SUCCESS", 1],
      ["r1", "SUCCESS", 1],
    ]);
    expect((await readRun("r2", { cwd })).steps[0]!.catalog[0]!.name).toBe("df.csv");
    expect(await gcRuns({ cwd, keep: 1, dryRun: true })).toEqual(["r2", "r1"]);
    expect(await readdir(join(cwd, ".catalog"))).toHaveLength(3);
    expect(await gcRuns({ cwd, keep: 1 })).toEqual(["r2", "r1"]);
    expect(await readdir(join(cwd, ".catalog"))).toEqual(["r3"]);
  });
});
