import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Catalog,
  FerryError,
  FunctionJob,
  gcRuns,
  getFromRun,
  type JobContext,
  listRuns,
  Pipeline,
  type RunLog,
  readRun,
  ShellJob,
  verifyRun,
} from "../src/index.ts";

const md5 = (text: string | Uint8Array) => createHash("md5").update(text).digest("hex");
const RUN_ID = /^[a-z]+-[a-z]+-\d{4}$/;
const DF_CSV = "a,b\n1,2\n3,4\n";
const DATA_TXT = "hello catalog\n";

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "ferry-catalog-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function workdir(): Promise<string> {
  return mkdtemp(join(work, "wd-"));
}

async function writeAt(cwd: string, files: Record<string, string | Uint8Array>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(cwd, name, ".."), { recursive: true });
    await writeFile(join(cwd, name), content);
  }
}

/** The seed's write_files: df.csv and data_folder/data.txt in the working directory. */
async function writeFiles({ cwd }: JobContext): Promise<void> {
  process.stdout.write("writing df.csv and data_folder/data.txt\n");
  await writeAt(cwd, { "df.csv": DF_CSV, "data_folder/data.txt": DATA_TXT });
}

async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
    .sort();
}

async function runLogOf(cwd: string, runId: string): Promise<RunLog> {
  return JSON.parse(await readFile(join(cwd, ".catalog", runId, `${runId}.json`), "utf8")) as RunLog;
}

const quiet = { quiet: true } as const;

describe("the seed job", () => {
  it("captures df.csv and data_folder/data.txt with copies, an execution log, a run log and the summary", async () => {
    const cwd = await workdir();
    const job = new FunctionJob({
      fn: writeFiles,
      catalog: new Catalog({ put: ["df.csv", "data_folder/data.txt"] }),
    });
    const summary = await job.execute({ cwd, ...quiet });
    expect(summary).toMatchObject({
      "Output catalog content": ["df.csv", "data_folder/data.txt"],
      status: "SUCCESS",
    });
    const runId = summary["Unique execution id"] as string;
    expect(runId).toMatch(RUN_ID);
    expect(await readdir(join(cwd, ".catalog"))).toEqual([runId]);
    const files = await tree(join(cwd, ".catalog", runId));
    const logName = files.find((file) => file.endsWith(".execution.log"))!;
    expect(logName).toMatch(/^job[A-Z0-9]{3}\.execution\.log$/);
    expect(files).toEqual(
      ["data_folder/data.txt", "df.csv", logName, `${runId}.json`, `${runId}.summary.json`].sort(),
    );
    expect(await readFile(join(cwd, ".catalog", runId, "df.csv"), "utf8")).toBe(DF_CSV);
    expect(await readFile(join(cwd, ".catalog", runId, "data_folder/data.txt"), "utf8")).toBe(DATA_TXT);
    expect(await readFile(join(cwd, ".catalog", runId, logName), "utf8")).toContain(
      "writing df.csv and data_folder/data.txt",
    );
    const saved = JSON.parse(await readFile(join(cwd, ".catalog", runId, `${runId}.summary.json`), "utf8"));
    expect(saved).toEqual(summary);
    const log = await runLogOf(cwd, runId);
    expect(log).toMatchObject({ runId, status: "SUCCESS", attempts: 1 });
    expect(Date.parse(log.end!)).toBeGreaterThanOrEqual(Date.parse(log.start));
    expect(log.steps).toHaveLength(1);
    expect(log.steps[0]).toMatchObject({
      name: "job",
      kind: "function",
      status: "SUCCESS",
      executionLog: logName,
    });
    expect(
      log.steps[0]!.catalog.map(({ name, stage, md5, size, stored, catalogPath }) => ({
        name,
        stage,
        md5,
        size,
        stored,
        catalogPath,
      })),
    ).toEqual([
      {
        name: "df.csv",
        stage: "put",
        md5: md5(DF_CSV),
        size: DF_CSV.length,
        stored: true,
        catalogPath: `${runId}/df.csv`,
      },
      {
        name: "data_folder/data.txt",
        stage: "put",
        md5: md5(DATA_TXT),
        size: DATA_TXT.length,
        stored: true,
        catalogPath: `${runId}/data_folder/data.txt`,
      },
    ]);
    expect(
      log.steps[0]!.catalog.every(
        (record) => record.durationMs >= 0 && !Number.isNaN(Date.parse(record.startedAt)),
      ),
    ).toBe(true);
    // The working files stay where the job wrote them.
    expect(await readFile(join(cwd, "df.csv"), "utf8")).toBe(DF_CSV);
  });

  it("with storeCopy: false records MD5 and size only: nothing copied, the summary still lists both", async () => {
    const cwd = await workdir();
    const job = new FunctionJob({
      fn: writeFiles,
      catalog: new Catalog({ put: ["df.csv", "data_folder/data.txt"], storeCopy: false }),
    });
    const summary = await job.execute({ cwd, ...quiet });
    expect(summary).toMatchObject({
      "Output catalog content": ["df.csv", "data_folder/data.txt"],
      status: "SUCCESS",
    });
    const runId = summary["Unique execution id"] as string;
    const files = await tree(join(cwd, ".catalog", runId));
    expect(files.filter((file) => !file.endsWith(".execution.log"))).toEqual([
      `${runId}.json`,
      `${runId}.summary.json`,
    ]);
    const log = await runLogOf(cwd, runId);
    expect(log.steps[0]!.catalog).toEqual([
      expect.objectContaining({ name: "df.csv", md5: md5(DF_CSV), size: DF_CSV.length, stored: false }),
      expect.objectContaining({
        name: "data_folder/data.txt",
        md5: md5(DATA_TXT),
        size: DATA_TXT.length,
        stored: false,
      }),
    ]);
    expect(log.steps[0]!.catalog.every((record) => record.catalogPath === undefined)).toBe(true);
  });

  it("prints the summary", async () => {
    const cwd = await workdir();
    const printed: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string) => {
      printed.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    try {
      await new FunctionJob({ fn: writeFiles, catalog: new Catalog({ put: ["df.csv"] }) }).execute({ cwd });
    } finally {
      process.stdout.write = write;
    }
    const text = printed.join("");
    expect(text).toContain("Summary of job");
    expect(text).toContain('"Output catalog content": [\n    "df.csv"\n  ]');
    expect(text).toContain('"status": "SUCCESS"');
  });
});

describe("code identity", () => {
  it("records the working directory's git commit, marked not dependable when there are uncommitted changes", async () => {
    const cwd = await workdir();
    const git = (...args: string[]) =>
      spawnSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], {
        cwd,
        encoding: "utf8",
      });
    git("init", "-q");
    await writeFile(join(cwd, "train.py"), "print(1)\n");
    git("add", "train.py");
    git("commit", "-q", "-m", "first");
    const sha = git("rev-parse", "HEAD").stdout.trim();
    const job = new FunctionJob({ fn: () => undefined });
    expect((await job.execute({ cwd, ...quiet }))["Code identities"]).toEqual([`git:${sha}`]);
    await writeFile(join(cwd, "train.py"), "print(2)\n");
    expect((await job.execute({ cwd, ...quiet }))["Code identities"]).toEqual([
      `git:${sha} but is not dependable`,
    ]);
  });
});

describe("runnable's use cases", () => {
  it("data analysis: sales_summary.csv, plots/*.png and insights.txt", async () => {
    const cwd = await workdir();
    const regions = ["north", "south", "east", "west"];
    const job = new FunctionJob({
      name: "analyze_sales_data",
      fn: async ({ cwd }) => {
        await writeAt(cwd, {
          "sales_summary.csv": "region,total\nnorth,1\n",
          "insights.txt": "Key findings...",
        });
        for (const region of regions)
          await writeAt(cwd, {
            [`plots/sales_trend_${region}.png`]: new Uint8Array([0x89, 0x50, 0x4e, 0x47, region.length]),
          });
        await writeAt(cwd, { "plots/notes.txt": "not a png" });
        return { total_sales: 50000 };
      },
      catalog: new Catalog({ put: ["sales_summary.csv", "plots/*.png", "insights.txt"] }),
    });
    const summary = await job.execute({ cwd, ...quiet });
    const pngs = regions.map((region) => `plots/sales_trend_${region}.png`).sort();
    expect(summary).toMatchObject({
      "Output catalog content": ["sales_summary.csv", ...pngs, "insights.txt"],
      "Output parameters": [["total_sales", "50000"]],
      status: "SUCCESS",
    });
    const runId = summary["Unique execution id"] as string;
    const files = await tree(join(cwd, ".catalog", runId));
    expect(files).toEqual(expect.arrayContaining([...pngs, "sales_summary.csv", "insights.txt"]));
    expect(files).not.toContain("plots/notes.txt");
    expect(files.find((file) => file.endsWith(".execution.log"))).toMatch(
      /^analyzesalesdata[A-Z0-9]{3}\.execution\.log$/,
    );
  });

  it("model training: trained_model.pkl, training_history.csv, model_metrics.json", async () => {
    const cwd = await workdir();
    const job = new FunctionJob({
      fn: async ({ cwd }) => {
        await writeAt(cwd, {
          "trained_model.pkl": new Uint8Array(4096).map((_, index) => index % 251),
          "training_history.csv": "epoch,loss\n1,0.5\n2,0.3\n",
          "model_metrics.json": JSON.stringify({ accuracy: 0.95 }),
        });
      },
      catalog: new Catalog({ put: ["trained_model.pkl", "training_history.csv", "model_metrics.json"] }),
    });
    const summary = await job.execute({ cwd, ...quiet });
    expect(summary).toMatchObject({
      "Output catalog content": ["trained_model.pkl", "training_history.csv", "model_metrics.json"],
      status: "SUCCESS",
    });
    const runId = summary["Unique execution id"] as string;
    expect(JSON.parse(await readFile(join(cwd, ".catalog", runId, "model_metrics.json"), "utf8"))).toEqual({
      accuracy: 0.95,
    });
    expect((await readFile(join(cwd, ".catalog", runId, "trained_model.pkl"))).byteLength).toBe(4096);
  });

  it("report generation: monthly_report.pdf, charts/*.png, data/*.csv and data/*.json", async () => {
    const cwd = await workdir();
    const job = new FunctionJob({
      fn: async ({ cwd }) => {
        await writeAt(cwd, {
          "monthly_report.pdf": "%PDF-1.7 report",
          "charts/sales.png": "png-sales",
          "charts/growth.png": "png-growth",
          "data/summary.csv": "k,v\n",
          "data/details.json": "{}",
          "data/scratch.tmp": "not captured",
        });
        return "Report completed";
      },
      catalog: new Catalog({
        put: ["monthly_report.pdf", "charts/*.png", "data/*.csv", "data/*.json"],
        storeCopy: true,
      }),
    });
    const summary = await job.execute({ cwd, ...quiet });
    expect(summary).toMatchObject({
      "Output catalog content": [
        "monthly_report.pdf",
        "charts/growth.png",
        "charts/sales.png",
        "data/summary.csv",
        "data/details.json",
      ],
      "Output parameters": [["result", "Report com..."]],
      status: "SUCCESS",
    });
    const runId = summary["Unique execution id"] as string;
    const files = await tree(join(cwd, ".catalog", runId));
    expect(files).toEqual(
      expect.arrayContaining([
        "charts/growth.png",
        "charts/sales.png",
        "data/details.json",
        "data/summary.csv",
        "monthly_report.pdf",
      ]),
    );
    expect(files).not.toContain("data/scratch.tmp");
  });

  it("large data processing: processed_data.parquet and summary.csv by hash only, hashed over the whole file", async () => {
    const cwd = await workdir();
    // Larger than the small-file threshold, so the hash is streamed in chunks.
    const parquet = new Uint8Array(3 * 1024 * 1024 + 17).map((_, index) => (index * 7) % 256);
    const job = new FunctionJob({
      fn: async ({ cwd }) => {
        await writeAt(cwd, { "processed_data.parquet": parquet, "summary.csv": "rows\n1000000\n" });
        return { rows_processed: 1000000 };
      },
      catalog: new Catalog({ put: ["processed_data.parquet", "summary.csv"], storeCopy: false }),
    });
    const summary = await job.execute({ cwd, ...quiet });
    expect(summary).toMatchObject({
      "Output catalog content": ["processed_data.parquet", "summary.csv"],
      status: "SUCCESS",
    });
    const runId = summary["Unique execution id"] as string;
    const log = await runLogOf(cwd, runId);
    expect(log.steps[0]!.catalog[0]).toMatchObject({
      name: "processed_data.parquet",
      md5: md5(parquet),
      size: parquet.byteLength,
      stored: false,
    });
    expect((await tree(join(cwd, ".catalog", runId))).some((file) => file.endsWith(".parquet"))).toBe(false);
  });
});

describe("patterns", () => {
  it("captures directories recursively and ** globs, skips dot-folders in globs and never captures the catalog or the registry", async () => {
    const cwd = await workdir();
    await writeAt(cwd, {
      "outputs/results.csv": "r",
      "outputs/deep/nested/visualization.png": "v",
      "outputs/.hidden": "h",
      "data/2024/processed_a.parquet": "a",
      "data/2025/q1/processed_b.parquet": "b",
      "data/raw.parquet": "raw",
      ".venv/lib/x.csv": "venv",
      ".ferry/registry/x/_versions/000001.json": "{}",
      "top.csv": "t",
    });
    // An earlier run puts files in .catalog: a later `**` must not capture them.
    await new FunctionJob({ fn: () => undefined, catalog: new Catalog({ put: ["top.csv"] }) }).execute({
      cwd,
      ...quiet,
    });
    const summary = await new FunctionJob({
      fn: () => undefined,
      catalog: new Catalog({ put: ["outputs/", "data/**/processed_*.parquet", "**/*.csv"] }),
    }).execute({ cwd, ...quiet });
    expect(summary["Output catalog content"]).toEqual([
      "outputs/.hidden",
      "outputs/deep/nested/visualization.png",
      "outputs/results.csv",
      "data/2024/processed_a.parquet",
      "data/2025/q1/processed_b.parquet",
      "top.csv",
    ]);
  });

  it("takes a name that exists literally even when it has glob characters", async () => {
    const cwd = await workdir();
    await writeAt(cwd, { "report (1).pdf": "pdf", "report 1.pdf": "other" });
    const summary = await new FunctionJob({
      fn: () => undefined,
      catalog: new Catalog({ put: ["report (1).pdf"] }),
    }).execute({ cwd, ...quiet });
    expect(summary["Output catalog content"]).toEqual(["report (1).pdf"]);
  });

  it("a put pattern that matches nothing fails a successful job, naming the pattern", async () => {
    const cwd = await workdir();
    const summary = await new FunctionJob({
      fn: writeFiles,
      catalog: new Catalog({ put: ["df.csv", "missing/*.png", "nope.txt"] }),
    }).execute({ cwd, ...quiet });
    expect(summary.status).toBe("FAIL");
    expect(summary.Error).toMatch(/catalog put patterns "missing\/\*\.png", "nope\.txt" matched no file/);
    const runId = summary["Unique execution id"] as string;
    const files = await tree(join(cwd, ".catalog", runId));
    expect(files).not.toContain("df.csv");
    const log = await runLogOf(cwd, runId);
    expect(log.status).toBe("FAIL");
  });

  it.each([
    [{ put: ["../outside.txt"] }, /has a "\.\." segment/],
    [{ put: ["data/../../x"] }, /has a "\.\." segment/],
    [{ put: ["/etc/passwd"] }, /is absolute/],
    [{ put: ["~/secrets"] }, /home directory/],
    [{ put: [""] }, /is empty/],
    [{ put: ["."] }, /working directory itself/],
    [{ get: ["runs:../x/df.csv"] }, /invalid run id/],
    [{ get: ["runs:some-run"] }, /needs a pattern/],
    [{ get: ["runs:some-run/../../etc"] }, /has a "\.\." segment/],
    [{ put: [42] }, /must be strings/],
    [{ put: ["x"], compute_data_folder: "/data" }, /unknown Catalog option "compute_data_folder"/],
  ])("refuses %j with InvalidInput", (options, message) => {
    let caught: unknown;
    try {
      new Catalog(options as never);
    } catch (error) {
      caught = error;
    }
    expect(FerryError.isInstance(caught, "InvalidInput")).toBe(true);
    expect((caught as Error).message).toMatch(message);
  });
});

describe("failures", () => {
  it("a failing function job: status FAIL, its log and whatever matched still captured, the error in the summary", async () => {
    const cwd = await workdir();
    const job = new FunctionJob({
      name: "fail_immediately",
      fn: async ({ cwd }) => {
        await writeAt(cwd, { "df.csv": DF_CSV });
        process.stderr.write("about to fail\n");
        throw new Error("model diverged");
      },
      catalog: new Catalog({ put: ["df.csv", "data_folder/data.txt"] }),
    });
    const summary = await job.execute({ cwd, ...quiet });
    expect(summary).toMatchObject({
      status: "FAIL",
      Error: "model diverged",
      "Output catalog content": ["df.csv"],
    });
    const runId = summary["Unique execution id"] as string;
    const files = await tree(join(cwd, ".catalog", runId));
    expect(files).toContain("df.csv");
    const logName = files.find((file) => file.endsWith(".execution.log"))!;
    expect(logName).toMatch(/^failimmediately[A-Z0-9]{3}\.execution\.log$/);
    const text = await readFile(join(cwd, ".catalog", runId, logName), "utf8");
    expect(text).toContain("about to fail");
    expect(text).toContain("Error: model diverged");
    expect((await runLogOf(cwd, runId)).status).toBe("FAIL");
  });

  it("a failing shell job: the child's stdout and stderr in the log, its exit code in the run log", async () => {
    const cwd = await workdir();
    const job = new ShellJob({
      command:
        'echo to-stdout; echo to-stderr >&2; echo "run $FERRY_RUN_ID lr=$FERRY_PRM_lr"; touch df.csv; exit 3',
      parameters: { lr: 0.01 },
      catalog: new Catalog({ put: ["df.csv", "data_folder/data.txt"] }),
    });
    const summary = await job.execute({ cwd, ...quiet });
    expect(summary).toMatchObject({ status: "FAIL", "Output catalog content": ["df.csv"] });
    expect(summary.Error).toMatch(/exited with code 3/);
    const runId = summary["Unique execution id"] as string;
    const log = await runLogOf(cwd, runId);
    expect(log.steps[0]).toMatchObject({ kind: "shell", exitCode: 3, status: "FAIL" });
    const text = await readFile(join(cwd, ".catalog", runId, log.steps[0]!.executionLog!), "utf8");
    expect(text).toContain("to-stdout");
    expect(text).toContain("to-stderr");
    expect(text).toContain(`run ${runId} lr=0.01`);
  });

  it("writes the run log as RUNNING before the job runs, and a run that dies part-way never claims SUCCESS", async () => {
    const cwd = await workdir();
    let seen: RunLog | undefined;
    await new FunctionJob({
      fn: async ({ cwd, runId }) => {
        seen = await runLogOf(cwd, runId);
      },
    }).execute({ cwd, ...quiet });
    expect(seen?.status).toBe("RUNNING");
    expect(seen?.steps[0]?.status).toBe("RUNNING");

    // A process that crashes while capturing: its run log must stay RUNNING.
    const source = pathToFileURL(join(import.meta.dirname, "../src/index.ts")).href;
    const script = `
      const { Catalog, FunctionJob } = await import(${JSON.stringify(source)});
      const fs = await import("node:fs/promises");
      await fs.writeFile("big.bin", new Uint8Array(8 * 1024 * 1024));
      const job = new FunctionJob({ fn: () => { setTimeout(() => process.exit(9), 0); }, catalog: new Catalog({ put: ["big.bin"] }) });
      await job.execute({ quiet: true, runId: "crashing-run-0001" });
    `;
    const code = await new Promise<number | null>((resolve) => {
      spawn(process.execPath, ["--input-type=module", "-e", script], { cwd, stdio: "ignore" }).on(
        "close",
        resolve,
      );
    });
    expect(code).toBe(9);
    const log = await runLogOf(cwd, "crashing-run-0001");
    expect(log.status).toBe("RUNNING");
    expect((await listRuns({ cwd })).find((run) => run.runId === "crashing-run-0001")?.status).toBe(
      "RUNNING",
    );
  });

  it("function jobs running at the same time each log their output, and stdout is restored afterwards", async () => {
    const cwd = await workdir();
    const original = process.stdout.write;
    const slow = (label: string, delay: number) =>
      new FunctionJob({
        name: label,
        fn: async () => {
          process.stdout.write(`${label} starts\n`);
          await new Promise((resolve) => setTimeout(resolve, delay));
          process.stdout.write(`${label} ends\n`);
        },
      });
    const [a, b] = await Promise.all([
      slow("first", 30).execute({ cwd, ...quiet }),
      slow("second", 5).execute({ cwd, ...quiet }),
    ]);
    expect(process.stdout.write).toBe(original);
    for (const summary of [a, b]) {
      const runId = summary["Unique execution id"] as string;
      const log = await runLogOf(cwd, runId);
      const text = await readFile(join(cwd, ".catalog", runId, log.steps[0]!.executionLog!), "utf8");
      expect(text).toContain(`${log.steps[0]!.name} starts`);
      expect(text).toContain(`${log.steps[0]!.name} ends`);
    }
  });

  it("captures console.log and console.error of a function job in a plain Node process", async () => {
    const cwd = await workdir();
    const source = pathToFileURL(join(import.meta.dirname, "../src/index.ts")).href;
    const script = `
      const { FunctionJob } = await import(${JSON.stringify(source)});
      await new FunctionJob({ fn: () => { console.log("hello from console.log"); console.error("and from console.error"); } })
        .execute({ quiet: true, runId: "console-run" });
    `;
    let stdout = "";
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
        cwd,
        stdio: ["ignore", "pipe", "ignore"],
      });
      child.stdout.on("data", (chunk) => {
        stdout += chunk;
      });
      child.on("close", resolve);
    });
    expect(code).toBe(0);
    expect(stdout).toContain("hello from console.log");
    const log = await runLogOf(cwd, "console-run");
    const text = await readFile(join(cwd, ".catalog/console-run", log.steps[0]!.executionLog!), "utf8");
    expect(text).toContain("hello from console.log");
    expect(text).toContain("and from console.error");
  });
});

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
      "deleteworkingcopies",
      "generatedata",
      "readdata",
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
