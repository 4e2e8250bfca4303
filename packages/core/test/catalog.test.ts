import { spawnSync } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FerryError } from "@ferry/plugin-kit";
import { describe, expect, it } from "vitest";
import { Catalog, FunctionJob } from "../src/index.ts";
import {
  DATA_TXT,
  DF_CSV,
  md5,
  quiet,
  RUN_ID,
  runLogOf,
  tree,
  useWorkspace,
  writeAt,
  writeFiles,
} from "./catalog-fixtures.ts";

const { workdir } = useWorkspace();

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
      /^analyze_sales_data[A-Z0-9]{3}\.execution\.log$/,
    );
  });

  it("model training: trained_model.pkl, training_history.csv, model_metrics.json", async () => {
    const cwd = await workdir();
    // Bigger than the small-file limit: copied by the large-file path, hashed from the source.
    const model = new Uint8Array(2 * 1024 * 1024 + 5).map((_, index) => index % 251);
    const job = new FunctionJob({
      fn: async ({ cwd }) => {
        await writeAt(cwd, {
          "trained_model.pkl": model,
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
    expect(new Uint8Array(await readFile(join(cwd, ".catalog", runId, "trained_model.pkl")))).toEqual(model);
    const log = await runLogOf(cwd, runId);
    expect(log.steps[0]!.catalog[0]).toMatchObject({
      name: "trained_model.pkl",
      md5: md5(model),
      size: model.byteLength,
      stored: true,
    });
    expect((await tree(join(cwd, ".catalog", runId))).some((file) => file.includes(".ferry-tmp-"))).toBe(
      false,
    );
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
