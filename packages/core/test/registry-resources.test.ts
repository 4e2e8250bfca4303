import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FerryError } from "@ferry/plugin-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Blob, blob, Folder, folder, load, ResourceRegistry, Table, table } from "../src/index.ts";

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "ferry-registry-resources-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function project(): Promise<string> {
  return mkdtemp(join(work, "project-"));
}

const GRADES = { id: [1, 2, 3, 4, 5, 6], grade: ["a", "b", "b", "a", "a", "e"] };

describe("Folder, Blob and Table by name", () => {
  it("a Folder saved under a name comes back as a Folder over the same files", async () => {
    const cwd = await project();
    const images = folder(join(cwd, "training_imgs"), { name: "~/training_imgs" });
    await images.put({ "0.txt": "0", "1.txt": "1" });
    expect(await images.save({ cwd })).toBe(images);
    const loaded = await Folder.fromName("~/training_imgs", { cwd });
    expect(loaded).toBeInstanceOf(Folder);
    expect(loaded.url).toBe(images.url);
    expect(loaded.name).toBe("~/training_imgs");
    expect(await loaded.ls()).toEqual(["0.txt", "1.txt"]);
    const anything = await load("~/training_imgs", { cwd });
    expect(anything).toBeInstanceOf(Folder);
    const error = await Table.fromName("~/training_imgs", { cwd }).catch((caught: unknown) => caught);
    expect(FerryError.isInstance(error, "InvalidInput")).toBe(true);
    expect((error as Error).message).toBe("~/training_imgs is a folder, not a table");
  });

  it("Runhouse's spelling: { name, path, system } creates, a name alone loads", async () => {
    const cwd = await project();
    const created = folder({ name: "~/sample_folder", path: join(cwd, "sample_folder"), system: "file" });
    expect(created).toBeInstanceOf(Folder);
    await created.put({ "a.txt": "a" });
    await created.save({ cwd });
    const previous = process.cwd();
    process.chdir(cwd);
    try {
      const loaded = folder({ name: "~/sample_folder" });
      expect(await loaded.ls()).toEqual(["a.txt"]);
      const missing = await folder({ name: "~/nothing_here" })
        .ready()
        .catch((caught: unknown) => caught);
      expect(FerryError.isInstance(missing, "NotFound")).toBe(true);
    } finally {
      process.chdir(previous);
    }
  });

  it("Blob.fromName(name).fetch() returns the bytes written; save() writes data not yet written", async () => {
    const cwd = await project();
    const bytes = new Uint8Array(Array.from({ length: 50 }, (_, i) => i));
    await (await blob(bytes, join(cwd, "my_blob.bin")).write()).save({ name: "my_blob", cwd });
    expect(new Uint8Array(await (await Blob.fromName("my_blob", { cwd })).fetch())).toEqual(bytes);
    // Saved with data it had not written yet: save() writes it first.
    const pending = blob({ data: "not yet written", name: "~/pending", path: join(cwd, "pending.txt") });
    await pending.save({ cwd });
    expect(await readFile(join(cwd, "pending.txt"), "utf8")).toBe("not yet written");
    expect(await (await Blob.fromName("~/pending", { cwd })).text()).toBe("not yet written");
  });

  it("a Table keeps its flavour and schema in the registry and its rows in parquet", async () => {
    const cwd = await project();
    const sample = table({ data: GRADES, name: "~/sample_table", path: join(cwd, "sample_table") });
    await sample.save({ cwd, metadata: { source: "tutorial" } });
    const entry = await new ResourceRegistry({ cwd }).entry("~/sample_table");
    expect(entry).toMatchObject({ type: "table", flavour: "plain", metadata: { source: "tutorial" } });
    expect(entry.schema?.fields.map((field) => field.name)).toEqual(["id", "grade"]);
    const reloaded = await Table.fromName("~/sample_table", { cwd });
    expect(reloaded).toBeInstanceOf(Table);
    expect(await reloaded.fetch()).toEqual(GRADES);
    const batches: unknown[] = [];
    for await (const batch of reloaded.stream({ batchSize: 2 })) batches.push(batch);
    expect(batches).toEqual([
      { id: [1, 2], grade: ["a", "b"] },
      { id: [3, 4], grade: ["b", "a"] },
      { id: [5, 6], grade: ["a", "e"] },
    ]);
  });

  it("history: each save is a version, and an earlier version loads the resource it pointed at", async () => {
    const cwd = await project();
    await table(GRADES, join(cwd, "v1")).save({ name: "~/grades", cwd });
    await table({ id: [7], grade: ["f"] }, join(cwd, "v2")).save({ name: "~/grades", cwd });
    expect((await new ResourceRegistry({ cwd }).history("~/grades")).map((entry) => entry.version)).toEqual([
      1, 2,
    ]);
    expect(await (await Table.fromName("~/grades", { cwd })).fetch()).toEqual({ id: [7], grade: ["f"] });
    expect(await (await Table.fromName("~/grades", { cwd, version: 1 })).fetch()).toEqual(GRADES);
  });

  it("save() without a name says how to give one", async () => {
    const cwd = await project();
    await expect(folder(join(cwd, "x")).save({ cwd })).rejects.toThrow(/save\(\) needs a name/);
  });
});
