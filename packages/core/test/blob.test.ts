import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { FerryError } from "@ferry/plugin-kit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Blob, blob, local, PluginRegistry } from "../src/index.ts";
import { filesUnder, removeTemp, tempDir } from "./transfer-faults.ts";

let work: string;
let registry: PluginRegistry;

beforeEach(() => {
  work = tempDir("blob");
  registry = new PluginRegistry({ cwd: work }).use(local());
});

afterEach(() => removeTemp(work));

const BYTES = new Uint8Array(Array.from({ length: 300 }, (_, index) => index % 256));

describe("Blob on local storage", () => {
  it("writes bytes and fetches the same bytes back", async () => {
    const data = blob(BYTES, "model.bin", { registry });
    expect(await data.exists()).toBe(false);
    await data.write();
    expect(await data.exists()).toBe(true);
    expect(new Uint8Array(await data.fetch())).toEqual(BYTES);
    expect(readFileSync(join(work, "model.bin"))).toEqual(Buffer.from(BYTES));
  });

  it("defaults to ferry-blob/<32 hex> in the working directory", async () => {
    const data = await blob("hello", undefined, { registry }).write();
    expect(data.path).toMatch(/\/ferry-blob\/[0-9a-f]{32}$/);
    expect(await data.text()).toBe("hello");
  });

  it("write(data) replaces the content; a stream works too", async () => {
    const data = await blob("first", "note.txt", { registry }).write();
    await data.write(Readable.from([Buffer.from("sec"), Buffer.from("ond")]));
    expect(await data.text()).toBe("second");
    const chunks: Buffer[] = [];
    for await (const chunk of await data.stream()) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe("second");
  });

  it("writing nothing is InvalidInput; fetching a missing blob is NotFound", async () => {
    await expect(new Blob("empty.bin", { registry }).write()).rejects.toMatchObject({ code: "InvalidInput" });
    await expect(new Blob("missing.bin", { registry }).fetch()).rejects.toMatchObject({ code: "NotFound" });
    expect(() => new Blob("/", { registry })).toThrow(FerryError);
  });

  it("rm removes it, and a missing blob is fine to remove", async () => {
    const data = await blob(BYTES, "x.bin", { registry }).write();
    await data.rm();
    expect(await data.exists()).toBe(false);
    await data.rm();
  });

  it("to() copies to a new Blob elsewhere, to a directory, or to a default key", async () => {
    const data = await blob(BYTES, "x.bin", { registry }).write();
    const named = await data.to(join(work, "copies", "y.bin"));
    expect(named).toBeInstanceOf(Blob);
    expect(named.path).toBe(join(work, "copies", "y.bin").slice(1));
    expect(new Uint8Array(await named.fetch())).toEqual(BYTES);
    const intoDirectory = await data.to(`${join(work, "copies")}/`);
    expect(intoDirectory.path).toBe(join(work, "copies", "x.bin").slice(1));
    const defaulted = await data.to("file");
    expect(defaulted.path).toMatch(/\/ferry-blob\/[0-9a-f]{32}$/);
    expect(new Uint8Array(await defaulted.fetch())).toEqual(BYTES);
    expect(filesUnder(join(work, "copies"))).toEqual(["x.bin", "y.bin"]);
    expect(new Uint8Array(await data.fetch())).toEqual(BYTES);
  });

  it("toConfig describes where it lives", () => {
    expect(blob(undefined, "x.bin", { registry }).toConfig()).toMatchObject({
      type: "blob",
      system: "file",
      url: `file://${join(work, "x.bin")}`,
    });
  });
});
