import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { FerryError } from "@ferry/plugin-kit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Folder, folder, local, PluginRegistry } from "../src/index.ts";
import { filesUnder, removeTemp, tempDir, writeTree } from "./transfer-faults.ts";

let work: string;
let registry: PluginRegistry;

beforeEach(() => {
  work = tempDir("folder");
  registry = new PluginRegistry({ cwd: work }).use(local());
});

afterEach(() => removeTemp(work));

const FIVE = Object.fromEntries([0, 1, 2, 3, 4].map((index) => [`${index}.txt`, String(index)]));

describe("Folder on local storage", () => {
  it("puts several files and lists bare names, sorted, or full paths", async () => {
    const samples = await folder("samples", { registry }).put(FIVE);
    expect(samples.url).toBe(`file://${join(work, "samples")}`);
    expect(await samples.ls()).toEqual(["0.txt", "1.txt", "2.txt", "3.txt", "4.txt"]);
    expect(await samples.ls({ fullPaths: true })).toEqual(
      [0, 1, 2, 3, 4].map((index) => join(work, "samples", `${index}.txt`)),
    );
    expect(await samples.text("3.txt")).toBe("3");
  });

  it("lists one level (files and sub-folders) or, recursively, every file", async () => {
    await writeTree(join(work, "tree"), { "b.txt": "b", "a/x.txt": "x", "a/y/z.txt": "z" });
    const tree = folder(join(work, "tree"), { registry });
    expect(await tree.ls()).toEqual(["a", "b.txt"]);
    expect(await tree.ls({ recursive: true })).toEqual(["a/x.txt", "a/y/z.txt", "b.txt"]);
    expect(await folder(join(work, "missing"), { registry }).ls()).toEqual([]);
  });

  it("exists, mkdir, rm of listed entries and of the whole folder", async () => {
    const box = folder("box", { registry });
    expect(await box.exists()).toBe(false);
    await box.mkdir();
    expect(await box.exists()).toBe(true);
    await box.put({ "keep.txt": "k", "drop.txt": "d", "sub/inner.txt": "i" });
    await box.rm(["drop.txt", "sub", "never-existed.txt"]);
    expect(await box.ls({ recursive: true })).toEqual(["keep.txt"]);
    await box.rm();
    expect(await box.exists()).toBe(false);
    expect(existsSync(join(work, "box"))).toBe(false);
  });

  it("open streams a file, get returns its bytes", async () => {
    const box = await folder("box", { registry }).put({ "data.bin": new Uint8Array([1, 2, 3]) });
    expect([...(await box.get("data.bin"))]).toEqual([1, 2, 3]);
    const chunks: Buffer[] = [];
    for await (const chunk of await box.open("data.bin")) chunks.push(chunk as Buffer);
    expect([...Buffer.concat(chunks)]).toEqual([1, 2, 3]);
    await expect(box.get("nope.bin")).rejects.toMatchObject({ code: "NotFound" });
  });

  it("put refuses to overwrite unless asked, writing nothing", async () => {
    const box = await folder("box", { registry }).put({ "a.txt": "first" });
    const refused = await box.put({ "a.txt": "second", "b.txt": "new" }).catch((error: unknown) => error);
    expect(FerryError.isInstance(refused, "AlreadyExists")).toBe(true);
    expect((refused as Error).message).toContain("a.txt");
    expect(await box.ls()).toEqual(["a.txt"]);
    await box.put({ "a.txt": "second", "b.txt": "new" }, { overwrite: true });
    expect(await box.text("a.txt")).toBe("second");
    expect(await box.ls()).toEqual(["a.txt", "b.txt"]);
  });

  it("put takes a stream, and another folder", async () => {
    const { Readable } = await import("node:stream");
    const box = await folder("box", { registry }).put({
      "streamed.txt": Readable.from([Buffer.from("str"), Buffer.from("eamed")]),
    });
    expect(await box.text("streamed.txt")).toBe("streamed");
    const other = await folder("other", { registry }).put(FIVE);
    await box.put(other);
    expect(await box.ls()).toEqual(["0.txt", "1.txt", "2.txt", "3.txt", "4.txt", "streamed.txt"]);
    await expect(box.put(other)).rejects.toMatchObject({ code: "AlreadyExists" });
  });

  it("refuses names that escape the folder", async () => {
    const box = folder("box", { registry });
    await expect(box.put({ "../../etc/passwd": "x" })).rejects.toMatchObject({ code: "InvalidInput" });
    await expect(box.get("../outside.txt")).rejects.toMatchObject({ code: "InvalidInput" });
  });

  it("to() returns a new Folder at the destination and leaves the source as it was", async () => {
    const samples = await folder("samples", { registry }).put(FIVE);
    const copied = await samples.to(join(work, "elsewhere"));
    expect(copied).toBeInstanceOf(Folder);
    expect(copied).not.toBe(samples);
    expect(copied.url).toBe(`file://${join(work, "elsewhere")}`);
    expect(await copied.ls()).toEqual(["0.txt", "1.txt", "2.txt", "3.txt", "4.txt"]);
    expect(await samples.ls()).toEqual(["0.txt", "1.txt", "2.txt", "3.txt", "4.txt"]);
  });

  it('to("file") and folder() with no location use ferry-folder/<32 hex> in the working directory', async () => {
    const samples = await folder(undefined, { registry }).put(FIVE);
    expect(samples.path).toMatch(new RegExp(`${work.slice(1)}/ferry-folder/[0-9a-f]{32}$`));
    const copied = await samples.to("file");
    expect(copied.path).toMatch(/\/ferry-folder\/[0-9a-f]{32}$/);
    expect(copied.path).not.toBe(samples.path);
    expect(await copied.ls()).toEqual(["0.txt", "1.txt", "2.txt", "3.txt", "4.txt"]);
  });

  it("to() of a missing folder is NotFound", async () => {
    await expect(folder("nothing-here", { registry }).to(join(work, "x"))).rejects.toMatchObject({
      code: "NotFound",
    });
  });

  it("mv() moves the files and removes the source folder", async () => {
    const samples = await folder("samples", { registry }).put({ ...FIVE, "deep/er.txt": "deep" });
    const moved = await samples.mv(join(work, "moved"));
    expect(await moved.ls({ recursive: true })).toEqual([
      "0.txt",
      "1.txt",
      "2.txt",
      "3.txt",
      "4.txt",
      "deep/er.txt",
    ]);
    expect(await samples.exists()).toBe(false);
    expect(readFileSync(join(work, "moved", "deep", "er.txt"), "utf8")).toBe("deep");
    await expect(moved.mv(join(work, "moved", "inside"))).rejects.toMatchObject({ code: "InvalidInput" });
    expect(filesUnder(join(work, "moved"))).toHaveLength(6);
  });

  it("toConfig describes where it lives, nothing more", async () => {
    const samples = folder("samples", { registry, metadata: { owner: "data team" } });
    expect(samples.toConfig()).toEqual({
      type: "folder",
      url: `file://${join(work, "samples")}`,
      system: "file",
      path: join(work, "samples").slice(1),
      metadata: { owner: "data team" },
    });
  });
});
