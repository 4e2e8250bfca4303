/**
 * The Catalog walkthrough, on local storage: nothing to install or start.
 *
 *   node examples/catalog.ts
 *
 * runnable's seed job (df.csv and data_folder/data.txt), with a copy and by hash only; a pipeline
 * whose second step gets what the first one put; a failing shell command; then verify and a get from
 * an earlier run. Pass `location: "s3://bucket/catalog"` to any Catalog (with @ferry/storage-s3
 * installed) and the same runs go to S3. Everything happens in a temporary directory removed at the end.
 */
import "./src/from-source.ts";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const { Catalog, FunctionJob, Pipeline, ShellJob, getFromRun, listRuns, verifyRun } = await import(
  "@ferry/core"
);
type JobContext = import("@ferry/core").JobContext;

const work = await mkdtemp(join(tmpdir(), "ferry-catalog-demo-"));
const step = (title: string) => console.log(`\n== ${title}`);

/** runnable's examples.common.functions.write_files */
async function writeFiles({ cwd }: JobContext): Promise<void> {
  console.log("writing df.csv and data_folder/data.txt");
  await writeFile(join(cwd, "df.csv"), "a,b\n1,2\n3,4\n");
  await mkdir(join(cwd, "data_folder"), { recursive: true });
  await writeFile(join(cwd, "data_folder/data.txt"), "hello from the catalog\n");
}

console.log(`ferry catalog walkthrough — working in ${work}`);
try {
  step("1. The seed job: capture df.csv and data_folder/data.txt");
  const copied = await new FunctionJob({
    fn: writeFiles,
    catalog: new Catalog({ put: ["df.csv", "data_folder/data.txt"] }),
  }).execute({
    cwd: work,
  });
  const runId = String(copied["Unique execution id"]);

  step("2. The same job with storeCopy: false (MD5 and size only)");
  await new FunctionJob({
    fn: writeFiles,
    catalog: new Catalog({ put: ["df.csv", "data_folder/data.txt"], storeCopy: false }),
  }).execute({
    cwd: work,
  });

  step("3. A pipeline: the second step gets what the first put");
  await new Pipeline({
    steps: [
      new FunctionJob({
        name: "generate_data",
        fn: writeFiles,
        catalog: new Catalog({ put: ["df.csv", "data_folder"] }),
      }),
      new ShellJob({
        name: "remove_working_copy",
        command: "rm df.csv && echo removed the working copy of df.csv",
      }),
      new ShellJob({
        name: "use_data",
        command: "wc -l df.csv data_folder/data.txt > counts.txt && cat counts.txt",
        catalog: new Catalog({ get: ["df.csv", "data_folder"], put: ["counts.txt"] }),
      }),
    ],
  }).execute({ cwd: work });

  step("4. A failing command: status FAIL, its output and what it made are still captured");
  await new ShellJob({
    command: "echo 'partial result' > partial.txt; echo 'something went wrong' >&2; exit 3",
    catalog: new Catalog({ put: ["partial.txt", "final.txt"] }),
  }).execute({ cwd: work });

  step("5. The runs in the catalog");
  for (const run of await listRuns({ cwd: work }))
    console.log(`${run.runId}  ${run.status}  ${run.files} files`);

  step(`6. Verify run ${runId}, then change its stored df.csv and verify again`);
  console.log(await verifyRun(runId, { cwd: work }));
  await writeFile(join(work, ".catalog", runId, "df.csv"), "changed after the run\n");
  const report = await verifyRun(runId, { cwd: work });
  console.log(report.problems.map((problem) => `${problem.problem}: ${problem.name}`));

  step(`7. Get data_folder from run ${runId} into another directory`);
  const elsewhere = join(work, "elsewhere");
  await getFromRun(runId, ["data_folder"], { cwd: elsewhere, location: join(work, ".catalog") });
  console.log(JSON.stringify(await readFile(join(elsewhere, "data_folder/data.txt"), "utf8")));
} finally {
  await rm(work, { recursive: true, force: true });
}
