import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { Catalog, FunctionJob, listRuns, type RunLog, ShellJob } from "../../src/index.ts";
import { DF_CSV, quiet, runLogOf, tree, useWorkspace, writeAt } from "../catalog-fixtures.ts";

const { workdir } = useWorkspace();

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
    expect(logName).toMatch(/^fail_immediately[A-Z0-9]{3}\.execution\.log$/);
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

  it("an aborted shell job stops its command and fails the run as interrupted", async () => {
    const cwd = await workdir();
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("stop")), 200);
    const summary = await new ShellJob({ command: "echo started; sleep 30; echo never" }).execute({
      cwd,
      signal: controller.signal,
      ...quiet,
    });
    expect(summary).toMatchObject({
      status: "FAIL",
      Error: "interrupted: echo started; sleep 30; echo never",
    });
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
    const source = pathToFileURL(join(import.meta.dirname, "../../src/index.ts")).href;
    const script = `
      const { Catalog, FunctionJob } = await import(${JSON.stringify(source)});
      const fs = await import("node:fs/promises");
      await fs.writeFile("big.bin", new Uint8Array(8 * 1024 * 1024));
      const job = new FunctionJob({ fn: () => { setTimeout(() => process.exit(9), 0); }, catalog: new Catalog({ put: ["big.bin"] }) });
      await job.execute({ quiet: true, runId: "crashing-run-0001" });
    `;
    const code = await new Promise<number | null>((resolve) => {
      spawn(process.execPath, ["--conditions=@ferry/source", "--input-type=module", "-e", script], {
        cwd,
        stdio: "ignore",
      }).on("close", resolve);
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
    const source = pathToFileURL(join(import.meta.dirname, "../../src/index.ts")).href;
    const script = `
      const { FunctionJob } = await import(${JSON.stringify(source)});
      await new FunctionJob({ fn: () => { console.log("hello from console.log"); console.error("and from console.error"); } })
        .execute({ quiet: true, runId: "console-run" });
    `;
    let stdout = "";
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(
        process.execPath,
        ["--conditions=@ferry/source", "--input-type=module", "-e", script],
        {
          cwd,
          stdio: ["ignore", "pipe", "ignore"],
        },
      );
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
