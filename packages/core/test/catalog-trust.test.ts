/**
 * The Catalog never lies about a job and never reaches outside the working directory: return values
 * JSON cannot hold, execution log names, and symbolic links on both sides of a capture.
 */
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FerryError } from "@ferry/plugin-kit";
import { describe, expect, it } from "vitest";
import { Catalog, FunctionJob, getFromRun, verifyRun } from "../src/index.ts";
import { quiet, runLogOf, tree, useWorkspace, writeAt } from "./catalog-fixtures.ts";

const { workdir } = useWorkspace();

class Holder {
  readonly name = "holder";
  readonly self: Holder;
  readonly count = 3n;
  constructor() {
    this.self = this;
  }
}

describe("a job's return value", () => {
  it("a class instance holding itself and a BigInt: SUCCESS, encoded, the cycle noted, run log final", async () => {
    const cwd = await workdir();
    const summary = await new FunctionJob({ fn: () => new Holder() }).execute({
      cwd,
      ...quiet,
      runId: "holder",
    });
    expect(summary.status).toBe("SUCCESS");
    const log = await runLogOf(cwd, "holder");
    expect(log.status).toBe("SUCCESS");
    expect(log.steps[0]!.status).toBe("SUCCESS");
    expect(log.steps[0]!.outputParameters).toEqual({
      result: { name: "holder", self: "[Circular]", count: "3" },
    });
    expect(log.steps[0]!.notes).toEqual([
      'output parameter result.self refers back to result: recorded as "[Circular]"',
    ]);
    const logName = log.steps[0]!.executionLog!;
    expect(await readFile(join(cwd, ".catalog", "holder", logName), "utf8")).toContain(
      'output parameter result.self refers back to result: recorded as "[Circular]"',
    );
  });

  it("a plain cyclic object, {n: 10n}, a Map, a Set, a Date and typed arrays: SUCCESS with every value kept", async () => {
    const cwd = await workdir();
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.me = cyclic;
    const shared = { x: 1 };
    const summary = await new FunctionJob({
      fn: () => ({
        cyclic,
        n: 10n,
        huge: 2n ** 80n,
        map: new Map<unknown, unknown>([
          ["a", 1],
          ["b", new Set([1, 2])],
        ]),
        objectKeys: new Map([[{ id: 1 }, "one"]]),
        when: new Date("2026-01-02T03:04:05.000Z"),
        bytes: new Uint8Array([1, 2, 255]),
        floats: new Float64Array([0.5, 1.5]),
        longs: new BigInt64Array([-1n, 2n]),
        twice: [shared, shared],
        nothing: undefined,
      }),
    }).execute({ cwd, ...quiet, runId: "values" });
    expect(summary.status).toBe("SUCCESS");
    const log = await runLogOf(cwd, "values");
    expect(log.status).toBe("SUCCESS");
    expect(log.steps[0]!.outputParameters).toEqual({
      cyclic: { a: 1, me: "[Circular]" },
      n: "10",
      huge: "1208925819614629174706176",
      map: { a: 1, b: [1, 2] },
      objectKeys: [[{ id: 1 }, "one"]],
      when: "2026-01-02T03:04:05.000Z",
      bytes: [1, 2, 255],
      floats: [0.5, 1.5],
      longs: ["-1", "2"],
      twice: [{ x: 1 }, { x: 1 }],
    });
    expect(log.finalParameters).toEqual(log.steps[0]!.outputParameters);
    expect(log.steps[0]!.notes).toEqual([
      'output parameter cyclic.me refers back to cyclic: recorded as "[Circular]"',
    ]);
  });

  it("BigInt parameters reach the run log and the job without crashing the run", async () => {
    const cwd = await workdir();
    let seen: unknown;
    const summary = await new FunctionJob({
      fn: ({ parameters }) => {
        seen = parameters.big;
      },
      parameters: { big: 12n },
    }).execute({ cwd, ...quiet, runId: "big-parameter" });
    expect(summary.status).toBe("SUCCESS");
    expect(seen).toBe(12n);
    const log = await runLogOf(cwd, "big-parameter");
    expect(log.parameters).toEqual({});
    expect(log.steps[0]!.parameters).toEqual({ big: "12" });
  });
});

describe("a run log that cannot be written", () => {
  it("ends execute() with one Unexpected error naming the run log, not a raw file-system error", async () => {
    const cwd = await workdir();
    const error = await failure(
      new FunctionJob({
        // The run log's name is taken by a folder that is not empty: no write can replace it.
        fn: async ({ cwd: dir, runId }) => {
          const path = join(dir, ".catalog", runId, `${runId}.json`);
          await rm(path);
          await mkdir(join(path, "blocker"), { recursive: true });
        },
      }).execute({ cwd, ...quiet, runId: "unwritable" }),
    );
    expect(error.code).toBe("Unexpected");
    expect(error.message).toMatch(
      /^run unwritable ended SUCCESS, but its run log .*unwritable\/unwritable\.json could not be written and still says RUNNING/,
    );
  });
});

describe("execution log names", () => {
  it("keep underscores and dashes of the job name", async () => {
    const cwd = await workdir();
    await new FunctionJob({ fn: () => undefined, name: "function_name" }).execute({
      cwd,
      ...quiet,
      runId: "underscore",
    });
    await new FunctionJob({ fn: () => undefined, name: "generate-data 2" }).execute({
      cwd,
      ...quiet,
      runId: "dash",
    });
    expect((await runLogOf(cwd, "underscore")).steps[0]!.executionLog).toMatch(
      /^function_name[A-Z0-9]{3}\.execution\.log$/,
    );
    expect((await runLogOf(cwd, "dash")).steps[0]!.executionLog).toMatch(
      /^generate-data2[A-Z0-9]{3}\.execution\.log$/,
    );
  });
});

async function failure(promise: Promise<unknown>): Promise<FerryError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(FerryError);
  return error as FerryError;
}

describe("symbolic links", () => {
  it("get never writes through a symlinked folder of the working directory", async () => {
    const cwd = await workdir();
    await new FunctionJob({
      fn: ({ cwd: dir }) => writeAt(dir, { "d/f.txt": "from the run\n" }),
      catalog: new Catalog({ put: ["d"] }),
    }).execute({ cwd, ...quiet, runId: "source-run" });

    const elsewhere = await workdir();
    const target = await workdir();
    await symlink(elsewhere, join(target, "d"));
    const error = await failure(
      getFromRun("source-run", ["d/f.txt"], { cwd: target, location: join(cwd, ".catalog") }),
    );
    expect(error.code).toBe("InvalidInput");
    expect(error.message).toContain("symbolic link");
    expect(error.message).toContain(join(target, "d"));
    expect(await readdir(elsewhere)).toEqual([]);

    // The same through a job's get of an earlier run.
    const summary = await new FunctionJob({
      fn: () => undefined,
      catalog: new Catalog({ get: ["runs:source-run/d"], location: join(cwd, ".catalog") }),
    }).execute({ cwd: target, ...quiet, runId: "get-through-link" });
    expect(summary.status).toBe("FAIL");
    expect(String(summary.Error)).toContain("symbolic link");
    expect(await readdir(elsewhere)).toEqual([]);
  });

  it("get replaces a symlinked file by the file itself, never writing where it pointed", async () => {
    const cwd = await workdir();
    await new FunctionJob({
      fn: ({ cwd: dir }) => writeAt(dir, { "f.txt": "from the run\n" }),
      catalog: new Catalog({ put: ["f.txt"] }),
    }).execute({ cwd, ...quiet, runId: "file-run" });
    const elsewhere = await workdir();
    await writeFile(join(elsewhere, "victim.txt"), "keep me\n");
    const target = await workdir();
    await symlink(join(elsewhere, "victim.txt"), join(target, "f.txt"));
    await getFromRun("file-run", ["f.txt"], { cwd: target, location: join(cwd, ".catalog") });
    expect(await readFile(join(elsewhere, "victim.txt"), "utf8")).toBe("keep me\n");
    expect(await readFile(join(target, "f.txt"), "utf8")).toBe("from the run\n");
  });

  it("put never follows links: ** skips a link to a folder outside and a loop, noting them; naming a link fails the step", async () => {
    const cwd = await workdir();
    const elsewhere = await workdir();
    await writeAt(elsewhere, { "secret.txt": "secret\n", "loose.txt": "loose\n" });
    await writeAt(cwd, { "real/a.txt": "a\n", "top.txt": "top\n" });
    await symlink(elsewhere, join(cwd, "outside"));
    await symlink(join(elsewhere, "loose.txt"), join(cwd, "loose.txt"));
    await symlink(".", join(cwd, "loop"));
    const summary = await new FunctionJob({
      fn: () => undefined,
      catalog: new Catalog({ put: ["**"] }),
    }).execute({ cwd, ...quiet, runId: "star-star" });
    expect(summary.status).toBe("SUCCESS");
    expect(summary["Output catalog content"]).toEqual(["real/a.txt", "top.txt"]);
    const files = await tree(join(cwd, ".catalog", "star-star"));
    expect(files.filter((file) => !file.startsWith("star-star") && !file.endsWith(".execution.log"))).toEqual(
      ["real/a.txt", "top.txt"],
    );
    const log = await runLogOf(cwd, "star-star");
    expect(log.steps[0]!.notes).toEqual([
      "catalog put skipped symbolic links (links are never followed): loop, loose.txt, outside",
    ]);

    for (const pattern of ["outside/secret.txt", "outside", "loose.txt"]) {
      const named = await new FunctionJob({
        fn: () => undefined,
        catalog: new Catalog({ put: [pattern] }),
      }).execute({ cwd, ...quiet });
      expect(named.status).toBe("FAIL");
      expect(String(named.Error)).toMatch(/symbolic link/);
    }
    expect(existsSync(join(cwd, ".catalog", "star-star", "outside"))).toBe(false);
  });

  it("verify does not read a hash-only file through a link that replaced it", async () => {
    const cwd = await workdir();
    await new FunctionJob({
      fn: ({ cwd: dir }) => writeAt(dir, { "f.txt": "same\n" }),
      catalog: new Catalog({ put: ["f.txt"], storeCopy: false }),
    }).execute({ cwd, ...quiet, runId: "hash-only" });
    const elsewhere = await workdir();
    await writeFile(join(elsewhere, "f.txt"), "same\n");
    await rm(join(cwd, "f.txt"));
    await symlink(join(elsewhere, "f.txt"), join(cwd, "f.txt"));
    const report = await verifyRun("hash-only", { cwd });
    expect(report.ok).toBe(false);
    expect(report.problems.map((problem) => [problem.name, problem.problem])).toEqual([["f.txt", "changed"]]);
  });

  it("a brace pattern cannot slip a .. segment past the check", async () => {
    for (const put of ["{../x,y}", "a/{b,..}/c", "{..,x}"]) {
      expect(() => new Catalog({ put })).toThrow(/"\.\." segment/);
    }
    const error = (() => {
      try {
        new Catalog({ get: "{../x,y}" });
      } catch (caught) {
        return caught as FerryError;
      }
    })();
    expect(error?.code).toBe("InvalidInput");
  });
});
