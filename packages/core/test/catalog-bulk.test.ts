import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Catalog, FunctionJob, Pipeline } from "../src/index.ts";
import { md5, quiet, runLogOf, tree, useWorkspace, writeAt } from "./catalog-fixtures.ts";

const { workdir } = useWorkspace();

/** 1,500 small files: enough for the capture to hand batches to its worker thread (from 1,024 files). */
function manyFiles(tag: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < 1500; i++)
    files[`shards/${String(i % 7)}/part-${String(i).padStart(4, "0")}.txt`] = `${tag} ${i}\n`;
  return files;
}

describe("bulk capture", () => {
  it.each([
    ["copies", true],
    ["hash-only records", false],
  ] as const)("%s 1,500 small files with every MD5 and size right", async (_, storeCopy) => {
    const cwd = await workdir();
    const files = manyFiles("row");
    const job = new FunctionJob({
      fn: ({ cwd }) => writeAt(cwd, files),
      catalog: new Catalog({ put: ["shards"], storeCopy }),
    });
    const summary = await job.execute({ cwd, ...quiet });
    expect(summary.status).toBe("SUCCESS");
    const runId = summary["Unique execution id"] as string;
    const records = (await runLogOf(cwd, runId)).steps[0]!.catalog.filter((record) => record.stage === "put");
    expect(records).toHaveLength(1500);
    for (const record of records) {
      const content = files[record.name]!;
      expect(record).toMatchObject({ md5: md5(content), size: content.length, stored: storeCopy });
    }
    const stored = (await tree(join(cwd, ".catalog", runId))).filter((file) => file.startsWith("shards/"));
    expect(stored).toHaveLength(storeCopy ? 1500 : 0);
    if (storeCopy) {
      expect(await readFile(join(cwd, ".catalog", runId, "shards/3/part-0010.txt"), "utf8")).toBe(
        files["shards/3/part-0010.txt"],
      );
    }
  });

  it("two steps putting files into the same folder merge into one run folder, later files winning", async () => {
    const cwd = await workdir();
    const pipeline = new Pipeline({
      steps: [
        new FunctionJob({
          name: "first",
          fn: ({ cwd }) => writeAt(cwd, { "out/a.txt": "first a\n", "out/b.txt": "first b\n" }),
          catalog: new Catalog({ put: ["out"] }),
        }),
        new FunctionJob({
          name: "second",
          fn: ({ cwd }) => writeAt(cwd, { "out/b.txt": "second b\n", "out/c/d.txt": "second d\n" }),
          catalog: new Catalog({ put: ["out"] }),
        }),
      ],
    });
    const summary = await pipeline.execute({ cwd, ...quiet });
    expect(summary.status).toBe("SUCCESS");
    const run = join(cwd, ".catalog", summary["Unique execution id"] as string);
    expect((await tree(run)).filter((file) => file.startsWith("out/"))).toEqual([
      "out/a.txt",
      "out/b.txt",
      "out/c/d.txt",
    ]);
    expect(await readFile(join(run, "out/a.txt"), "utf8")).toBe("first a\n");
    expect(await readFile(join(run, "out/b.txt"), "utf8")).toBe("second b\n");
    expect(await readFile(join(run, "out/c/d.txt"), "utf8")).toBe("second d\n");
    expect((await tree(run)).some((file) => file.includes(".ferry-") || file.includes("staging"))).toBe(
      false,
    );
  });
});
