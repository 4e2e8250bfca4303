import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { table } from "@ferry/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonLines, makeTemp, removeTemp, runFerry, writeFiles } from "../run-ferry.ts";

let work: string;
beforeAll(async () => {
  work = await makeTemp("catalog");
});
afterAll(async () => {
  await removeTemp(work);
});

async function project(name: string): Promise<string> {
  const dir = join(work, name);
  await writeFiles(dir, { ".keep": "" });
  return dir;
}

describe("ferry run", () => {
  it("runs the command, captures --put files, prints the summary and exits 0", async () => {
    const cwd = await project("run-ok");
    const result = await runFerry(
      [
        "run",
        "--put",
        "df.csv",
        "data_folder",
        "--run-id",
        "cli-run-1",
        "--",
        "mkdir -p data_folder && echo a,b > df.csv && echo hi > data_folder/data.txt && echo made",
      ],
      { cwd },
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("made");
    expect(result.stdout).toContain(
      '"Output catalog content": [\n    "df.csv",\n    "data_folder/data.txt"\n  ]',
    );
    expect(await readFile(join(cwd, ".catalog/cli-run-1/data_folder/data.txt"), "utf8")).toBe("hi\n");
  });

  it("exits with the command's own exit code when it fails, having captured what it made", async () => {
    const cwd = await project("run-fail");
    const result = await runFerry(
      [
        "run",
        "--put",
        "partial.txt",
        "--run-id",
        "cli-fail",
        "--",
        "sh",
        "-c",
        "echo p > partial.txt; exit 5",
      ],
      { cwd },
    );
    expect(result.code).toBe(5);
    expect(await readFile(join(cwd, ".catalog/cli-fail/partial.txt"), "utf8")).toBe("p\n");
  });

  it("with --no-copy records hashes only; --json prints the summary as one JSON line; a reused --run-id is refused", async () => {
    const cwd = await project("run-nocopy");
    const result = await runFerry(
      [
        "run",
        "--json",
        "--no-copy",
        "--put",
        "big.bin",
        "--run-id",
        "cli-hash",
        "--",
        "head -c 1000 /dev/zero > big.bin",
      ],
      { cwd },
    );
    expect(result.code).toBe(0);
    const [summary] = jsonLines(result.stdout).filter((line) => line.event === "summary");
    expect(summary).toMatchObject({ "Output catalog content": ["big.bin"], status: "SUCCESS" });
    expect(await readdir(join(cwd, ".catalog/cli-hash"))).not.toContain("big.bin");
    const again = await runFerry(["run", "--put", "big.bin", "--run-id", "cli-hash", "--", "true"], { cwd });
    expect(again.code).toBe(7);
    expect(again.stderr).toMatch(/AlreadyExists: run cli-hash already exists/);
  });

  it("refuses a pattern that escapes the working directory before running anything", async () => {
    const cwd = await project("run-escape");
    const result = await runFerry(["run", "--put", "../outside", "--", "touch ran"], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/InvalidInput: catalog put pattern "\.\.\/outside" has a "\.\." segment/);
    await expect(readFile(join(cwd, "ran"))).rejects.toThrow();
  });
});

describe("ferry catalog", () => {
  it("runs, show, get, verify and gc", async () => {
    const cwd = await project("catalog");
    for (const runId of ["first", "second"]) {
      const made = await runFerry(
        ["run", "--put", "out", "--run-id", runId, "--", `mkdir -p out && echo ${runId} > out/result.txt`],
        { cwd },
      );
      expect(made.code).toBe(0);
    }
    const runs = await runFerry(["catalog", "runs", "--json"], { cwd });
    expect(jsonLines(runs.stdout).map((line) => [line.runId, line.status, line.files])).toEqual([
      ["second", "SUCCESS", 1],
      ["first", "SUCCESS", 1],
    ]);
    const show = await runFerry(["catalog", "show", "first"], { cwd });
    expect(show.stdout).toMatch(/put\s+[0-9a-f]{32}\s+.*copy\s+out\/result\.txt/);

    const elsewhere = await project("catalog-elsewhere");
    const got = await runFerry(["catalog", "get", "first", "out", "--catalog", join(cwd, ".catalog")], {
      cwd: elsewhere,
    });
    expect(got.code).toBe(0);
    expect(await readFile(join(elsewhere, "out/result.txt"), "utf8")).toBe("first\n");

    expect((await runFerry(["catalog", "verify", "first"], { cwd })).code).toBe(0);
    await writeFile(join(cwd, ".catalog/first/out/result.txt"), "tampered\n");
    const verify = await runFerry(["catalog", "verify", "first"], { cwd });
    expect(verify.code).toBe(6);
    expect(verify.stdout).toMatch(/CHANGED {2}out\/result\.txt/);

    const gc = await runFerry(["catalog", "gc", "--keep", "1"], { cwd });
    expect(gc.stdout.trim()).toBe("removed first");
    expect(await readdir(join(cwd, ".catalog"))).toEqual(["second"]);
  });
});

describe("ferry registry", () => {
  it("save, ls, show, history and rm; refuses secrets and unknown names with their exit codes", async () => {
    const cwd = await project("registry");
    await writeFiles(cwd, { "data/a.txt": "a" });
    expect(
      (
        await runFerry(
          ["registry", "save", "~/mydata", "data", "--type", "folder", "--metadata", '{"owner":"ml"}'],
          { cwd },
        )
      ).code,
    ).toBe(0);
    expect((await runFerry(["registry", "save", "mydata", "data", "--type", "folder"], { cwd })).code).toBe(
      0,
    );
    expect((await runFerry(["registry", "ls"], { cwd })).stdout).toBe("~/mydata\n");
    const history = jsonLines(
      (await runFerry(["registry", "history", "~/mydata", "--json"], { cwd })).stdout,
    );
    expect(history.map((entry) => [entry.version, entry.type, entry.metadata])).toEqual([
      [1, "folder", { owner: "ml" }],
      [2, "folder", {}],
    ]);
    const show = await runFerry(["registry", "show", "~/mydata", "--version", "1", "--json"], { cwd });
    expect(JSON.parse(show.stdout)).toMatchObject({ name: "~/mydata", version: 1, system: "file" });
    const secret = await runFerry(
      ["registry", "save", "x", "data", "--type", "blob", "--metadata", '{"sas_token":"sv=1&sig=abc"}'],
      { cwd },
    );
    expect(secret.code).toBe(2);
    expect(secret.stderr).not.toContain("sig=abc");
    expect((await runFerry(["registry", "rm", "~/mydata"], { cwd })).code).toBe(0);
    const missing = await runFerry(["registry", "show", "~/mydata"], { cwd });
    expect(missing.code).toBe(3);
    expect((await runFerry(["registry", "save", "~/a/../b", "data", "--type", "folder"], { cwd })).code).toBe(
      2,
    );
    // A table's flavour and schema come from its parquet files.
    await table({ id: [1, 2], grade: ["a", "b"] }, join(cwd, "grades")).write();
    expect((await runFerry(["registry", "save", "grades", "grades", "--type", "table"], { cwd })).code).toBe(
      0,
    );
    const entry = JSON.parse((await runFerry(["registry", "show", "grades", "--json"], { cwd })).stdout);
    expect(entry).toMatchObject({ type: "table", flavour: "plain" });
    expect(entry.schema.fields.map((field: { name: string }) => field.name)).toEqual(["id", "grade"]);
  });
});

/** The column each header word starts at, and each row's text at those columns. */
function columnStarts(text: string): { starts: number[]; lines: string[] } {
  const lines = text.trimEnd().split("\n");
  const starts = [...lines[0]!.matchAll(/\S+/g)].map((match) => match.index);
  return { starts, lines };
}

describe("tables for people: aligned columns, human sizes, readable entries", () => {
  it("catalog runs and registry ls -l line their columns up under a header, however long the values", async () => {
    const cwd = await project("columns");
    await writeFiles(cwd, { "data/a.txt": "a" });
    for (const runId of ["r", "a-much-longer-run-id"]) {
      expect((await runFerry(["run", "--put", "data", "--run-id", runId, "--", "true"], { cwd })).code).toBe(
        0,
      );
    }
    const runs = columnStarts((await runFerry(["catalog", "runs"], { cwd })).stdout);
    expect(runs.lines[0]).toMatch(/^RUN\s+STATUS\s+STARTED\s+DURATION\s+FILES$/);
    expect(runs.lines).toHaveLength(3);
    for (const line of runs.lines.slice(1)) {
      // Each value starts where its header does (DURATION and FILES are right-aligned: they end there).
      expect(line.slice(runs.starts[1]!)).toMatch(/^SUCCESS /);
      expect(line.slice(runs.starts[2]!)).toMatch(/^\d{4}-\d\d-\d\d/);
    }
    for (const name of ["~/x", "~/a-much-longer-name"]) {
      expect((await runFerry(["registry", "save", name, "data", "--type", "folder"], { cwd })).code).toBe(0);
    }
    const names = columnStarts((await runFerry(["registry", "ls", "-l"], { cwd })).stdout);
    expect(names.lines[0]).toMatch(/^NAME\s+VERSION\s+TYPE\s+LOCATION\s+UPDATED$/);
    for (const line of names.lines.slice(1)) {
      expect(line.slice(names.starts[2]!)).toMatch(/^folder /);
      expect(line.slice(names.starts[3]!)).toMatch(/^file:\/\//);
    }
  });

  it("registry show prints the entry as labelled lines, without $schema; ls -l -h gives human sizes", async () => {
    const cwd = await project("show");
    await table({ id: [1, 2], grade: ["a", "b"] }, join(cwd, "grades")).write();
    await runFerry(
      ["registry", "save", "grades", "grades", "--type", "table", "--metadata", '{"owner":"ml"}'],
      {
        cwd,
      },
    );
    const show = await runFerry(["registry", "show", "grades"], { cwd });
    expect(show.stdout).not.toContain("$schema");
    expect(show.stdout).toMatch(/^name: +~\/grades$/m);
    expect(show.stdout).toMatch(/^version: +1$/m);
    expect(show.stdout).toMatch(/^columns: +id: int32, grade: string$/m);
    expect(show.stdout).toMatch(/^metadata: +owner: "ml"$/m);
    await writeFile(join(cwd, "big.bin"), Buffer.alloc(1536 * 1024));
    const long = await runFerry(["ls", "-l", "-h", "big.bin"], { cwd });
    expect(long.stdout).toMatch(/^\s*1\.5 MiB\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+big\.bin\n$/);
  });
});
