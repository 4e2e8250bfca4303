/**
 * A location is parsed once on its way from `Folder.to` / `copy` to the driver, and its system's
 * grammar is the plugin's own: a third-party plugin counts how often its `location` hook reads.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  FerryError,
  type GenericLocation,
  type Location,
  normalizeKey,
  refuse,
  rootAndRest,
  type StoragePlugin,
} from "@ferry/plugin-kit";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { copy, Folder, LocalDriver, local, localCapabilities, PluginRegistry } from "../src/index.ts";

let work: string;
let reads: GenericLocation[] = [];
let created: Location[] = [];
let registry: PluginRegistry;

/** `shelf://<box>/<key>`: boxes are lower-case words, each a directory under `<work>/boxes`. */
const shelf: StoragePlugin = {
  name: "shelf",
  schemes: ["shelf"],
  capabilities: localCapabilities,
  location: {
    rootNoun: "box",
    parse(generic) {
      reads.push(generic);
      const { authority: box, rest, input } = rootAndRest(generic);
      if (!/^[a-z]+$/.test(box)) refuse(`invalid box name "${box}": lower-case letters only`, input);
      const path = normalizeKey(rest, { allowRoot: true, system: "shelf" });
      return { system: "shelf", root: box, path, url: `shelf://${box}/${path}` };
    },
  },
  create(location) {
    created.push(location);
    const dir = join(work, "boxes", location.root);
    mkdirSync(dir, { recursive: true });
    return new LocalDriver(dir);
  },
};

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "ferry-once-"));
  mkdirSync(join(work, "src", "b"), { recursive: true });
  writeFileSync(join(work, "src", "a.txt"), "alpha");
  writeFileSync(join(work, "src", "b", "c.txt"), "gamma");
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

beforeEach(async () => {
  await registry?.close();
  registry = new PluginRegistry({ cwd: work, lazy: false }).use(local(), shelf);
  reads = [];
  created = [];
});

describe("a location is parsed once, by its plugin's grammar", () => {
  it("Folder.to: the plugin reads the destination once and its driver gets what it read", async () => {
    const copied = await new Folder(join(work, "src"), { registry }).to("shelf://first/copy");
    expect(reads.map((read) => read.input)).toEqual(["shelf://first/copy"]);
    expect(created).toEqual([{ system: "shelf", root: "first", path: "copy", url: "shelf://first/copy" }]);
    expect(copied.url).toBe("shelf://first/copy");
    expect(readFileSync(join(work, "boxes", "first", "copy", "b", "c.txt"), "utf8")).toBe("gamma");
  });

  it("copy(): a URL and an object spelling are each read once", async () => {
    await copy(join(work, "src"), "shelf://second/x/", { registry });
    await copy(join(work, "src"), { system: "shelf", path: "second/y" }, { registry });
    expect(reads.map((read) => read.form)).toEqual(["url", "object"]);
    expect(readFileSync(join(work, "boxes", "second", "y", "a.txt"), "utf8")).toBe("alpha");
  });

  it("a location read already is not read again, by the registry or by the plugin's create", async () => {
    const located = await registry.locate("shelf://third/z");
    await copy(join(work, "src"), located, { registry });
    await registry.storageFor(located);
    expect(reads).toHaveLength(1);
    expect(created.map((location) => location.root)).toEqual(["third"]);
  });

  it("a name the plugin's grammar refuses is InvalidInput in its words, and nothing is written", async () => {
    const error = await new Folder(join(work, "src"), { registry }).to("shelf://Bad_Box/x").catch((e) => e);
    expect(FerryError.isInstance(error, "InvalidInput")).toBe(true);
    expect((error as Error).message).toBe('invalid box name "Bad_Box": lower-case letters only');
    expect(created).toEqual([]);
    expect(existsSync(join(work, "boxes", "Bad_Box"))).toBe(false);
  });

  it("removing a whole root is refused in the plugin's words, before anything is removed", async () => {
    mkdirSync(join(work, "boxes", "kept"), { recursive: true });
    writeFileSync(join(work, "boxes", "kept", "x.txt"), "x");
    const error = await new Folder("shelf://kept", { registry }).rm().catch((caught) => caught);
    expect(FerryError.isInstance(error, "InvalidInput")).toBe(true);
    expect((error as Error).message).toBe(
      "refusing to remove shelf://kept/: it is a whole box; pass rm({ force: true }) to remove it anyway",
    );
    expect(readFileSync(join(work, "boxes", "kept", "x.txt"), "utf8")).toBe("x");
  });
});
