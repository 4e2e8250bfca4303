/**
 * A user who bundles their script (esbuild, as a CLI tool or a Lambda would be built) gets the same ferry
 * as one who imports it: nothing in core relies on a module doing something when it is imported, which
 * a bundler is free to drop in a package marked `sideEffects: false`; and a table read that would use
 * worker threads works without the worker's module file.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const SCRIPT = `
import { Blob, Folder, ferry, folder, load, saveResource, Table, table } from "@ferry/core";

const [work] = process.argv.slice(2);
console.log(JSON.stringify({ ferry: typeof ferry, Folder: typeof Folder, Blob: typeof Blob, Table: typeof Table }));
const copied = await folder(work + "/src").to(work + "/dst");
await saveResource(copied, { name: "~/copied", cwd: work });
const loaded = await load("~/copied", { cwd: work });
console.log(JSON.stringify({ loaded: loaded instanceof Folder, files: (await loaded.ls()).length }));
const written = await table({ id: [1, 2, 3] }, work + "/t").write();
await saveResource(written, { name: "~/t", cwd: work });
const back = await load("~/t", { cwd: work });
console.log(JSON.stringify({ table: back instanceof Table, rows: await back.count() }));
// A table big enough for ferry to decode on worker threads: their module is not beside the bundle, so
// the row groups are decoded on this thread instead.
const { randomBytes } = await import("node:crypto");
const text = Array.from({ length: 200000 }, () => randomBytes(50).toString("hex"));
await table({ text }, work + "/big", { rowGroupSize: 10000 }).write();
await Table.from(work + "/big").fetch(); // the workers are started by now, and fail to load
await new Promise((resolve) => setTimeout(resolve, 1000));
const read = (await Table.from(work + "/big").fetch()).text;
console.log(JSON.stringify({ big: read.length, same: read.every((v, i) => v === text[i]) }));
`;

describe("a script using @ferry/core, bundled with esbuild", () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "ferry-bundle-"));
    mkdirSync(join(work, "src"));
    writeFileSync(join(work, "src", "a.txt"), "alpha");
    writeFileSync(join(work, "src", "b.txt"), "beta");
    writeFileSync(join(work, "entry.mjs"), SCRIPT);
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("keeps the default registry and the resource classes, and loads saved resources as their class", async () => {
    await build({
      entryPoints: [join(work, "entry.mjs")],
      outfile: join(work, "bundle.mjs"),
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node22",
      conditions: ["@ferry/source"],
      absWorkingDir: process.cwd(),
      nodePaths: [join(process.cwd(), "node_modules")],
      logLevel: "silent",
      // CommonJS dependencies bundled into ESM call require() for Node builtins.
      banner: {
        js: "import { createRequire as __ferryRequire } from 'node:module'; const require = __ferryRequire(import.meta.url);",
      },
    });
    const run = spawnSync(process.execPath, [join(work, "bundle.mjs"), work], {
      encoding: "utf8",
      cwd: work,
    });
    expect(run.stderr).toBe("");
    const lines = run.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines[0]).toEqual({ ferry: "object", Folder: "function", Blob: "function", Table: "function" });
    expect(lines[1]).toEqual({ loaded: true, files: 2 });
    expect(lines[2]).toEqual({ table: true, rows: 3 });
    expect(lines[3]).toEqual({ big: 200_000, same: true });
    expect(readFileSync(join(work, "dst", "a.txt"), "utf8")).toBe("alpha");
  });
});
