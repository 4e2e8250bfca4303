/**
 * Claims that hold on an S3 server that ignores If-None-Match (s3rver): one run id is taken by one
 * run, and concurrent registry saves keep every version. The processes are real, released together,
 * and load the S3 plugin by scheme with its default options, as a user's would.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ResourceRegistry } from "../../src/index.ts";
import { runTogether } from "../registry-children.ts";
import { useS3rver } from "../s3rver-fixture.ts";

const s3 = useS3rver();

// Each process starts STARTERS runs at once (each in a working directory of its own).
const RUNNER = `
await core.ferry.resolve(process.env.CATALOG);
await ready();
const outcomes = await Promise.all(Array.from({ length: Number(process.env.STARTERS) }, async (_, index) => {
  try {
    const summary = await new core.ShellJob({ command: "echo ran > out.txt", catalog: new core.Catalog({ put: "out.txt", location: process.env.CATALOG }) })
      .execute({ runId: "same-id", quiet: true, cwd: process.env.WD + "/" + index });
    return { status: summary.status };
  } catch (error) {
    return { code: error.code, message: error.message };
  }
}));
console.log(JSON.stringify(outcomes));
`;

// Each process makes SAVERS saves of one name at once.
const SAVER = `
const registry = new core.ResourceRegistry({ cwd: process.env.WD });
const resource = (who) => ({ registryDescription: () => ({ type: "blob", location: core.parseLocation("s3://race-bucket/" + who) }) });
await registry.save(resource("warmup"), { name: "@/warmup-" + process.env.WHO });
await ready();
const outcomes = await Promise.all(Array.from({ length: Number(process.env.SAVERS) }, async (_, index) => {
  const who = process.env.WHO + "-" + index;
  try {
    return { version: (await registry.save(resource(who), { name: "@/race", metadata: { who } })).version };
  } catch (error) {
    return { code: error.code, message: error.message };
  }
}));
console.log(JSON.stringify(outcomes));
`;

describe("claims on an S3 server that ignores If-None-Match", () => {
  it("8 runs with one id started at once (2 processes × 4): exactly one runs, the others are AlreadyExists", async () => {
    const catalog = `s3://${s3.bucket}/claims-catalog`;
    const bodies = await Promise.all(
      Array.from({ length: 2 }, async (_, process) => {
        const wd = join(s3.work, `runner-${process}`);
        for (let index = 0; index < 4; index++) await mkdir(join(wd, String(index)), { recursive: true });
        return { body: RUNNER, env: { ...s3.server.env(), CATALOG: catalog, WD: wd, STARTERS: "4" } };
      }),
    );
    const outcomes = (await runTogether(bodies)).flatMap(
      (output) => JSON.parse(output.trim()) as { status?: string; code?: string; message?: string }[],
    );
    expect(outcomes).toHaveLength(8);
    expect(outcomes.filter((outcome) => outcome.status === "SUCCESS")).toHaveLength(1);
    const refused = outcomes.filter((outcome) => outcome.status === undefined);
    expect(refused.map((outcome) => outcome.code)).toEqual(Array(7).fill("AlreadyExists"));
    expect(refused[0]!.message).toContain("same-id");

    const { storage } = await s3.plugins.resolve(catalog);
    const log = JSON.parse(
      new TextDecoder().decode(await storage.readBytes("claims-catalog/same-id/same-id.json")),
    ) as { status: string; attempts: number; steps: unknown[] };
    expect(log).toMatchObject({ status: "SUCCESS", attempts: 1 });
    expect(log.steps).toHaveLength(1);
    // Claims are gone once the run log is written.
    const left: string[] = [];
    for await (const entry of storage.list("claims-catalog", { recursive: true })) left.push(entry.path);
    expect(left.filter((key) => !key.startsWith("claims-catalog/same-id/"))).toEqual([]);
  }, 180_000);

  it("16 saves of one registry name at once (4 processes × 4): every save that reports success is in the history", async () => {
    const shared = `s3://${s3.bucket}/claims-registry`;
    const bodies = Array.from({ length: 4 }, (_, index) => ({
      body: SAVER,
      env: {
        ...s3.server.env(),
        FERRY_SHARED_REGISTRY: shared,
        WD: s3.work,
        WHO: String(index),
        SAVERS: "4",
      },
    }));
    const outcomes = (await runTogether(bodies)).flatMap(
      (output) => JSON.parse(output.trim()) as { version?: number; code?: string }[],
    );
    expect(outcomes).toHaveLength(16);
    const saved = outcomes
      .filter((outcome) => outcome.version !== undefined)
      .map((outcome) => outcome.version!);
    // A loser may only fail loudly, never report a version that was lost.
    for (const outcome of outcomes.filter((outcome) => outcome.version === undefined))
      expect(outcome.code).toBe("ConditionNotMet");
    expect(saved.length).toBe(16);
    const registry = new ResourceRegistry({ cwd: s3.work, shared, plugins: s3.plugins });
    const history = await registry.history("@/race");
    expect(history.map((entry) => entry.version)).toEqual(saved.sort((a, b) => a - b));
    expect(new Set(history.map((entry) => entry.metadata.who)).size).toBe(16);
  }, 180_000);
});
