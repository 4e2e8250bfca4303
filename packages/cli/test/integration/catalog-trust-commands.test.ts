/**
 * `ferry run` and `ferry catalog` as a user runs them: one run per id even on an S3 server that
 * ignores If-None-Match, no reaching through symbolic links, no `..` hidden in braces, log names that
 * keep underscores.
 */
import { mkdir, readdir, readFile, symlink } from "node:fs/promises";
import { join } from "node:path";
import { type S3Backend, startS3rver } from "@ferry/test-harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonLines, makeTemp, removeTemp, runFerry, writeFiles } from "../run-ferry.ts";

let work: string;
beforeAll(async () => {
  work = await makeTemp("catalog-trust");
});
afterAll(async () => {
  await removeTemp(work);
});

async function project(name: string, files: Record<string, string> = { ".keep": "" }): Promise<string> {
  const dir = join(work, name);
  await writeFiles(dir, files);
  return dir;
}

describe("ferry run --run-id on S3 that ignores If-None-Match", () => {
  let s3: S3Backend;
  beforeAll(async () => {
    s3 = await startS3rver();
  });
  afterAll(() => s3?.stop());

  it("8 processes with the same --run-id at once: exactly one exits 0, the others exit 7 (AlreadyExists)", async () => {
    const bucket = await s3.createBucket();
    const catalog = `s3://${bucket}/runs`;
    const runs = await Promise.all(
      Array.from({ length: 8 }, async (_, index) => {
        const cwd = await project(`same-id-${index}`);
        return runFerry(
          [
            "run",
            "--catalog",
            catalog,
            "--run-id",
            "same",
            "--put",
            "out.txt",
            "--",
            `echo ${index} > out.txt`,
          ],
          { cwd, env: s3.env() },
        );
      }),
    );
    const codes = runs.map((run) => run.code).sort();
    expect(codes).toEqual([0, 7, 7, 7, 7, 7, 7, 7]);
    for (const run of runs.filter((run) => run.code === 7)) {
      expect(run.stderr.trim().split("\n")).toHaveLength(1);
      expect(run.stderr).toMatch(/AlreadyExists: run same (already exists|was started by someone else)/);
    }
    const winner = runs.findIndex((run) => run.code === 0);
    const shown = await runFerry(["catalog", "show", "same", "--catalog", catalog, "--json"], {
      cwd: work,
      env: s3.env(),
    });
    expect(shown.code).toBe(0);
    const [log] = jsonLines(shown.stdout);
    expect(log).toMatchObject({ runId: "same", status: "SUCCESS", attempts: 1 });
    const got = await project("same-id-check");
    expect(
      (
        await runFerry(["catalog", "get", "same", "out.txt", "--catalog", catalog], {
          cwd: got,
          env: s3.env(),
        })
      ).code,
    ).toBe(0);
    expect(await readFile(join(got, "out.txt"), "utf8")).toBe(`${winner}\n`);
  }, 120_000);
});

describe("symbolic links", () => {
  it("ferry catalog get refuses to write through a symlinked folder (exit 2), writing nothing there", async () => {
    const source = await project("link-source");
    expect(
      (
        await runFerry(["run", "--run-id", "linked", "--put", "d", "--", "mkdir -p d && echo hi > d/f.txt"], {
          cwd: source,
        })
      ).code,
    ).toBe(0);
    const elsewhere = await project("link-elsewhere");
    const target = await project("link-target");
    await symlink(elsewhere, join(target, "d"));
    const catalog = join(source, ".catalog");
    const get = await runFerry(["catalog", "get", "linked", "d/f.txt", "--catalog", catalog], {
      cwd: target,
    });
    expect(get.code).toBe(2);
    expect(get.stderr.trim().split("\n")).toHaveLength(1);
    expect(get.stderr).toContain(
      `InvalidInput: catalog get "d/f.txt": ${join(target, "d")} is a symbolic link`,
    );
    const run = await runFerry(["run", "--catalog", catalog, "--get", "runs:linked/d", "--", "true"], {
      cwd: target,
    });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("is a symbolic link; a get never writes through links");
    expect(await readdir(elsewhere)).toEqual([".keep"]);
  });

  it("ferry run --put '**' never follows a link out of the working directory or round a loop; catalog show notes them", async () => {
    const elsewhere = await project("put-elsewhere", { "secret.txt": "secret\n" });
    const cwd = await project("put-star", { "mine.txt": "mine\n" });
    await symlink(elsewhere, join(cwd, "outside"));
    await symlink(".", join(cwd, "loop"));
    const run = await runFerry(["run", "--json", "--run-id", "star", "--put", "**", "--", "true"], { cwd });
    expect(run.code).toBe(0);
    const [summary] = jsonLines(run.stdout).filter((line) => line.event === "summary");
    expect(summary!["Output catalog content"]).toEqual(["mine.txt"]);
    expect((await readdir(join(cwd, ".catalog", "star"))).sort()).not.toContain("outside");
    const show = await runFerry(["catalog", "show", "star"], { cwd });
    expect(show.stdout).toContain(
      "note  catalog put skipped symbolic links (links are never followed): loop, outside",
    );
    const named = await runFerry(["run", "--put", "outside/secret.txt", "--", "true"], { cwd });
    expect(named.code).toBe(1);
    expect(named.stdout).toContain(`${join(cwd, "outside")} is a symbolic link; links are never followed`);
  });

  it("a brace pattern hiding .. is refused before anything runs (exit 2)", async () => {
    const cwd = await project("braces");
    const result = await runFerry(["run", "--put", "{../x,y}", "--", "touch ran"], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/InvalidInput: catalog put pattern "\{\.\.\/x,y\}" has a "\.\." segment/);
    await expect(readFile(join(cwd, "ran"))).rejects.toThrow();
  });
});

describe("execution log names", () => {
  it("--name function_name gives function_name<XYZ>.execution.log", async () => {
    const cwd = await project("log-name");
    await mkdir(cwd, { recursive: true });
    const run = await runFerry(["run", "--run-id", "named", "--name", "function_name", "--", "echo hi"], {
      cwd,
    });
    expect(run.code).toBe(0);
    const logs = (await readdir(join(cwd, ".catalog", "named"))).filter((file) =>
      file.endsWith(".execution.log"),
    );
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/^function_name[A-Z0-9]{3}\.execution\.log$/);
  });
});
