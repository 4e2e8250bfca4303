/**
 * The seeds' spellings of Folder, Blob and Table on local disk, from the user's side: where each
 * spelling puts the data, what `rm()` refuses to remove, one sync/async rule, chainable writes,
 * unknown options refused, rows by `for await` and `head(n)`.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FerryError } from "@ferry/plugin-kit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Blob, blob, Folder, folder, Table, table } from "../src/index.ts";
import { GRADES, TUTORIAL_BATCHES } from "./seed-fixtures.ts";
import { removeTemp, tempDir } from "./transfer-faults.ts";

let work: string;
let cwd: string;
let home: string;
let previousCwd: string;
let previousHome: string | undefined;

beforeEach(() => {
  work = tempDir("spellings");
  cwd = join(work, "project", "notebooks");
  home = join(work, "home");
  mkdirSync(cwd, { recursive: true });
  mkdirSync(home, { recursive: true });
  writeFileSync(join(cwd, "analysis.ipynb"), "keep me");
  writeFileSync(join(home, ".bashrc"), "keep me too");
  previousCwd = process.cwd();
  previousHome = process.env.HOME;
  // The user's home for this test: nothing here may touch the real one.
  process.env.HOME = home;
  process.chdir(cwd);
});

afterEach(() => {
  process.chdir(previousCwd);
  if (previousHome === undefined) delete process.env.HOME;
  else process.env.HOME = previousHome;
  removeTemp(work);
});

async function refusal(action: () => Promise<unknown>): Promise<FerryError> {
  const error = await action().then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(FerryError.isInstance(error, "InvalidInput"), String(error)).toBe(true);
  return error as FerryError;
}

describe("a named resource with no path", () => {
  it("folder({ name, system: 'file' }) is <cwd>/<name>, and rm() removes that folder alone", async () => {
    const scratch = folder({ name: "scratch", system: "file" });
    expect(scratch.url).toBe(`file://${join(cwd, "scratch")}`);
    await scratch.put({ "a.txt": "a" });
    expect(readFileSync(join(cwd, "scratch", "a.txt"), "utf8")).toBe("a");
    await scratch.rm();
    expect(existsSync(join(cwd, "scratch"))).toBe(false);
    expect(readdirSync(cwd)).toEqual(["analysis.ipynb"]);
  });

  it("blob({ name, data, system: 'file' }) and table({ name, data, system: 'file' }) land at <cwd>/<name>", async () => {
    await blob({ name: "local_blob", data: "[0, 1, 2]", system: "file" }).write();
    expect(readFileSync(join(cwd, "local_blob"), "utf8")).toBe("[0, 1, 2]");
    await table({ name: "@/sample_table", data: GRADES, system: "file" }).write();
    expect(readdirSync(join(cwd, "sample_table")).every((name) => name.endsWith(".parquet"))).toBe(true);
    expect(readdirSync(cwd).sort()).toEqual(["analysis.ipynb", "local_blob", "sample_table"]);
  });
});

describe("rm() keeps away from places nobody means to lose", () => {
  it("refuses the working directory, the home directory and a folder holding either, removing nothing", async () => {
    for (const path of [cwd, home, join(work, "project"), work]) {
      const error = await refusal(() => folder(path).rm());
      expect(error.message).toContain(`refusing to remove file://${path}`);
      expect(error.message).toContain("rm({ force: true })");
    }
    expect(readFileSync(join(cwd, "analysis.ipynb"), "utf8")).toBe("keep me");
    expect(readFileSync(join(home, ".bashrc"), "utf8")).toBe("keep me too");
    expect((await refusal(() => folder(cwd).rm())).message).toMatch(/it is the working directory;/);
    expect((await refusal(() => folder(home).rm())).message).toMatch(/it is the home directory;/);
    await refusal(() => Table.from(cwd).rm());
    await refusal(() => table({ name: "here", path: ".", system: "file", data: GRADES }).rm());
    expect(readFileSync(join(cwd, "analysis.ipynb"), "utf8")).toBe("keep me");
  });

  it("removes a working directory when asked with { force: true }", async () => {
    const inner = join(cwd, "inner");
    mkdirSync(inner);
    process.chdir(inner);
    await folder(inner).rm({ force: true });
    expect(existsSync(inner)).toBe(false);
    expect(existsSync(join(cwd, "analysis.ipynb"))).toBe(true);
  });

  it("still removes listed entries inside the working directory", async () => {
    writeFileSync(join(cwd, "drop.txt"), "x");
    await folder(cwd).rm(["drop.txt"]);
    expect(readdirSync(cwd)).toEqual(["analysis.ipynb"]);
  });
});

describe("the seeds' object spellings", () => {
  it("blob({ data, system, path }) without a name is a Blob there", async () => {
    const written = await blob({
      data: "checkpoint",
      system: "file",
      path: "models/sample_blob.pickle",
    }).write();
    expect(written).toBeInstanceOf(Blob);
    expect(readFileSync(join(cwd, "models", "sample_blob.pickle"), "utf8")).toBe("checkpoint");
  });

  it("blob data that is not bytes, text or a stream is InvalidInput asking to serialize it", () => {
    const list = Array.from({ length: 50 }, (_, index) => index);
    for (const spell of [
      () => blob({ name: "local_blob", data: list as never, system: "file" }),
      () => blob(list as never, "x.bin"),
      () => blob({ a: 1 } as never),
    ]) {
      let caught: unknown;
      try {
        spell();
      } catch (error) {
        caught = error;
      }
      expect(FerryError.isInstance(caught, "InvalidInput"), String(caught)).toBe(true);
      expect((caught as Error).message).toMatch(/blob data must be bytes .*serialize it first/);
    }
    expect(readdirSync(cwd)).toEqual(["analysis.ipynb"]);
  });

  it("a system that is neither a storage system nor an ssh host is InvalidInput, not a local file", async () => {
    const error = await refusal(() => blob({ data: "x", system: "cluster" }).write());
    expect(error.message).toMatch(
      /system "cluster" is neither a storage system .* nor a Host in the ssh config/,
    );
    await refusal(() => folder({ name: "f", system: "cluster", path: "data" }).put({ "a.txt": "a" }));
    expect(readdirSync(cwd)).toEqual(["analysis.ipynb"]);
  });

  it("table({ data, path, system }) without a name detects the flavour from the data", async () => {
    const grades = table({ data: GRADES, path: "tables/grades", system: "file" });
    await grades.write();
    expect(await grades.count()).toBe(6);
    expect(await Table.from(join(cwd, "tables/grades")).fetch()).toEqual(GRADES);
  });

  it("writes chain: table(...).write().save() and blob(...).write().save() as in the seeds", async () => {
    const saved = await table({
      data: GRADES,
      name: "sample_table",
      path: "tables/sample_table",
      system: "file",
      mkdir: true,
    })
      .write()
      .save();
    expect(saved).toBeInstanceOf(Table);
    expect(saved.data).toBe(GRADES);
    expect(saved.lastWrite?.rows).toBe(6);
    const reloaded = table({ name: "sample_table" });
    const batches = [];
    for await (const batch of reloaded.stream({ batchSize: 2 })) batches.push(batch);
    expect(batches).toEqual(TUTORIAL_BATCHES);
    const savedBlob = await blob({
      name: "local_blob",
      data: "bytes",
      system: "file",
      path: "local_blob.pickle",
    })
      .write()
      .save();
    expect(await blob({ name: "local_blob" }).text()).toBe("bytes");
    expect(savedBlob).toBeInstanceOf(Blob);
  });

  it("every spelling returns the resource at once; a name alone is looked up by the first awaited method", async () => {
    await folder({ name: "~/imgs", path: "imgs", system: "file" })
      .put({ "0.txt": "0" })
      .then((f) => f.save());
    const spelled = [folder({ name: "~/imgs" }), blob({ name: "nope" }), table({ name: "nope" })];
    expect(spelled[0]).toBeInstanceOf(Folder);
    expect(spelled[1]).toBeInstanceOf(Blob);
    expect(spelled[2]).toBeInstanceOf(Table);
    expect(await (spelled[0] as Folder).ls()).toEqual(["0.txt"]);
    const missing = await (spelled[2] as Table)
      .count()
      .then(() => undefined)
      .catch((error: unknown) => error);
    expect(FerryError.isInstance(missing, "NotFound")).toBe(true);
    expect((missing as Error).message).toMatch(
      /~\/nope is not in the registry: a name alone loads a saved table/,
    );
  });

  it("unknown options are InvalidInput naming them, with the right spelling where one is close", async () => {
    const written = await table(GRADES, "grades").write();
    await expect(async () => {
      for await (const _ of written.stream({ batch_size: 2 } as never)) break;
    }).rejects.toThrow(/unknown option "batch_size" \(did you mean "batchSize"\?\) for table\.stream\(\)/);
    expect(() => folder("x", { nmae: "~/x" } as never)).toThrow(/"nmae" \(did you mean "name"\?\)/);
    expect(() =>
      table({ data: GRADES, name: "t", system: "file", partition_by: ["grade"] } as never),
    ).toThrow(/unknown option "partition_by" \(did you mean "partitionBy"\?\) for table\(\{ \.\.\. \}\)/);
    expect(() => table(GRADES, "t", { row_group_size: 2 } as never)).toThrow(/did you mean "rowGroupSize"/);
    expect(() => blob({ name: "b", data: "x", sytem: "file" } as never)).toThrow(/did you mean "system"/);
  });
});

describe("rows of a table", () => {
  it("for await (const row of table) yields rows in order", async () => {
    const written = await table(GRADES, "grades", { rowGroupSize: 4 }).write();
    const rows = [];
    for await (const row of written) rows.push(row);
    expect(rows).toEqual(GRADES.id.map((id, index) => ({ id, grade: GRADES.grade[index] })));
  });

  it("head(n) returns the first n rows and reads only the part they are in", async () => {
    const n = 30;
    const data = {
      id: Array.from({ length: n }, (_, i) => i),
      tag: Array.from({ length: n }, (_, i) => `t${i}`),
    };
    const written = await table(data, "many", {
      maxRowsPerFile: 10,
      rowGroupSize: 5,
      codec: "UNCOMPRESSED",
    }).write();
    expect(await written.head(3)).toEqual({ id: [0, 1, 2], tag: ["t0", "t1", "t2"] });
    expect(await written.head()).toEqual({ id: [0, 1, 2, 3, 4], tag: ["t0", "t1", "t2", "t3", "t4"] });
    // Break the data pages of the last part (its footer stays whole): reading it fails, head(3) never does.
    const last = `/${written.lastWrite!.files.at(-1)!}`;
    const bytes = readFileSync(last);
    bytes.fill(0xff, 4, Math.min(bytes.length - 200, 200));
    writeFileSync(last, bytes);
    await expect(written.fetch()).rejects.toBeInstanceOf(Error);
    expect(await written.head(3)).toEqual({ id: [0, 1, 2], tag: ["t0", "t1", "t2"] });
  });
});

describe("mv() keeps away from them too", () => {
  it("refuses to move away the working directory (which would remove it) unless { force: true }", async () => {
    const target = join(work, "moved");
    const error = await refusal(() => folder(cwd).mv(target));
    expect(error.message).toContain("mv(target, path, { force: true })");
    expect(readFileSync(join(cwd, "analysis.ipynb"), "utf8")).toBe("keep me");
    expect(existsSync(target)).toBe(false);
    const inner = join(cwd, "inner");
    mkdirSync(inner);
    writeFileSync(join(inner, "a.txt"), "a");
    process.chdir(inner);
    await folder(inner).mv(target, undefined, { force: true });
    expect(readFileSync(join(target, "a.txt"), "utf8")).toBe("a");
    expect(existsSync(inner)).toBe(false);
  });
});
