import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Catalog, FunctionJob } from "../src/index.ts";
import { quiet, runLogOf, useWorkspace, writeAt } from "./catalog-fixtures.ts";

const { workdir } = useWorkspace();

describe("run log file", () => {
  it("is indented JSON with one line per catalog record, and reads back as the run that was recorded", async () => {
    const cwd = await workdir();
    const files = { "out/a.txt": "a\n", "out/b c.txt": 'quote " and newline \n', "top.csv": "x,y\n" };
    const job = new FunctionJob({
      fn: async ({ cwd }) => {
        await writeAt(cwd, files);
        return { note: "multi\nline", nested: { list: [1, 2] } };
      },
      catalog: new Catalog({ put: ["out", "top.csv"] }),
      parameters: { empty: {}, text: "value" },
    });
    const summary = await job.execute({ cwd, ...quiet });
    expect(summary.status).toBe("SUCCESS");
    const runId = summary["Unique execution id"] as string;
    const text = await readFile(join(cwd, ".catalog", runId, `${runId}.json`), "utf8");
    const log = await runLogOf(cwd, runId);

    const recordLines = text.split("\n").filter((line) => line.trimStart().startsWith('{"name":'));
    expect(recordLines.map((line) => JSON.parse(line.trim().replace(/,$/, "")))).toEqual(
      log.steps[0]!.catalog,
    );
    expect(log.steps[0]!.catalog.map((record) => record.name)).toEqual([
      "out/a.txt",
      "out/b c.txt",
      "top.csv",
    ]);
    expect(log.steps[0]!.outputParameters).toEqual({ note: "multi\nline", nested: { list: [1, 2] } });
    expect(log.steps[0]!.parameters).toEqual({ empty: {}, text: "value" });
    expect(log.status).toBe("SUCCESS");
    // Everything but the records is indented as JSON.stringify(…, null, 2) would.
    expect(text).toMatch(/^\{\n {2}"runId": "[^"]+",\n {2}"status": "SUCCESS",\n/);
    expect(text).toContain('\n  "steps": [\n    {\n      "name": "job",\n');
    expect(text.endsWith("\n      ]\n    }\n  ]\n}\n")).toBe(true);
  });
});
