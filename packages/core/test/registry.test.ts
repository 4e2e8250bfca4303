import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { FerryError } from "@ferry/plugin-kit";
import { describe, expect, it } from "vitest";
import { parseLocation, parseName, ResourceRegistry } from "../src/index.ts";
import { expectError, resourceAt, useProjects } from "./registry-fixtures.ts";

const { project } = useProjects();

describe("registry names", () => {
  it("accepts scoped and bare names and resolves bare names to the default scope", () => {
    expect(parseName("~/my_blob")).toEqual({ scope: "local", key: "my_blob", full: "~/my_blob" });
    expect(parseName("@/team/bert_tokenized.v2")).toEqual({
      scope: "shared",
      key: "team/bert_tokenized.v2",
      full: "@/team/bert_tokenized.v2",
    });
    expect(parseName("my-data")).toMatchObject({ scope: "local", full: "~/my-data" });
    expect(parseName("my-data", "shared")).toMatchObject({ scope: "shared", full: "@/my-data" });
  });

  it.each([
    ["", /empty/],
    ["~", /no name/],
    ["@/", /empty/],
    ["~/a/../b", /"\.\." segment/],
    ["~/./b", /"\." segment/],
    ["~/a//b", /empty segment/],
    ["~/a/", /ends with a slash/],
    ["/abs", /starts with a slash/],
    ["~/with space", /outside/],
    ["~/_versions", /start with a letter or digit/],
    ["~/.hidden", /"\." segment|start with a letter or digit/],
    ["~/sneaky\u0000", /outside/],
    [`~/${"a".repeat(201)}`, /201 characters/],
  ])("refuses %j with InvalidInput", (name, message) => {
    let caught: unknown;
    try {
      parseName(name);
    } catch (error) {
      caught = error;
    }
    expect(FerryError.isInstance(caught, "InvalidInput")).toBe(true);
    expect((caught as Error).message).toMatch(message);
  });

  it("refuses a non-string name", () => {
    expect(() => parseName(42 as unknown as string)).toThrow(/must be a string/);
  });
});

describe("registry on local storage", () => {
  it("saves under .ferry/registry in the working directory and reads the entry back, validated", async () => {
    const cwd = await project();
    const registry = new ResourceRegistry({ cwd });
    const entry = await registry.save(resourceAt(join(cwd, "data")), {
      name: "~/my_data",
      metadata: { owner: "ml-team", rows: 6 },
    });
    expect(entry).toMatchObject({
      type: "folder",
      name: "~/my_data",
      system: "file",
      version: 1,
      metadata: { owner: "ml-team", rows: 6 },
    });
    expect(entry.url).toBe(pathToFileURL(join(cwd, "data")).href);
    const file = join(cwd, ".ferry/registry/my_data/_versions/000001.json");
    const onDisk = JSON.parse(await readFile(file, "utf8"));
    expect(onDisk).toEqual(entry);
    expect(await registry.entry("my_data")).toEqual(entry);
    expect(await registry.exists("~/my_data")).toBe(true);
    expect(await registry.exists("~/other")).toBe(false);
  });

  it("keeps every save as a version and loads any earlier one", async () => {
    const cwd = await project();
    const registry = new ResourceRegistry({ cwd });
    await registry.save(resourceAt("s3://bucket-one/a"), { name: "~/ds" });
    await registry.save(resourceAt("s3://bucket-one/b"), { name: "~/ds" });
    const third = await registry.save(resourceAt("s3://bucket-one/c", "table"), { name: "~/ds" });
    expect(third.version).toBe(3);
    const history = await registry.history("~/ds");
    expect(history.map((entry) => [entry.version, entry.url, entry.type])).toEqual([
      [1, "s3://bucket-one/a", "folder"],
      [2, "s3://bucket-one/b", "folder"],
      [3, "s3://bucket-one/c", "table"],
    ]);
    expect(history.every((entry) => entry.created === history[0]!.created)).toBe(true);
    expect((await registry.entry("~/ds", { version: 2 })).url).toBe("s3://bucket-one/b");
    expect((await registry.entry("~/ds")).version).toBe(3);
    await expectError(registry.entry("~/ds", { version: 4 }), "NotFound", /version 4 of ds/);
    await expectError(registry.entry("~/ds", { version: 0 }), "InvalidInput");
    await expectError(registry.entry("~/ds", { type: "folder" }), "InvalidInput", /is a table, not a folder/);
  });

  it("lists names by scope and prefix, nested names included", async () => {
    const cwd = await project();
    const registry = new ResourceRegistry({ cwd });
    for (const name of ["~/team/bert", "~/team/bert/v2", "~/team/gpt", "~/solo"])
      await registry.save(resourceAt("/tmp/x"), { name });
    expect(await registry.list()).toEqual(["~/solo", "~/team/bert", "~/team/bert/v2", "~/team/gpt"]);
    expect(await registry.list("~/team/")).toEqual(["~/team/bert", "~/team/bert/v2", "~/team/gpt"]);
    expect(await registry.list("~/team/be")).toEqual(["~/team/bert", "~/team/bert/v2"]);
    expect(await registry.list("~")).toHaveLength(4);
    expect(await registry.list("~/team/bert/v")).toEqual(["~/team/bert/v2"]);
    await expectError(registry.list("~/../etc"), "InvalidInput", /invalid registry prefix/);
    await expectError(registry.list("~/a b"), "InvalidInput", /invalid registry prefix/);
  });

  it("removes a name and its history, leaving nested names alone", async () => {
    const cwd = await project();
    const registry = new ResourceRegistry({ cwd });
    await registry.save(resourceAt("/tmp/x"), { name: "~/a" });
    await registry.save(resourceAt("/tmp/y"), { name: "~/a" });
    await registry.save(resourceAt("/tmp/z"), { name: "~/a/child" });
    await registry.rm("~/a");
    expect(await registry.exists("~/a")).toBe(false);
    expect(await registry.list()).toEqual(["~/a/child"]);
    await expectError(registry.rm("~/a"), "NotFound", /~\/a is not in the registry/);
    await expectError(registry.entry("~/a"), "NotFound");
  });

  it("renames a whole history, refuses an existing target, and can move a name to the shared registry", async () => {
    const cwd = await project();
    const shared = join(cwd, "shared-registry");
    const registry = new ResourceRegistry({ cwd, shared });
    await registry.save(resourceAt("/tmp/one"), { name: "~/old" });
    await registry.save(resourceAt("/tmp/two"), { name: "~/old" });
    await registry.save(resourceAt("/tmp/three"), { name: "~/taken" });
    await expectError(registry.rename("~/old", "~/taken"), "AlreadyExists");
    await expectError(registry.rename("~/missing", "~/new"), "NotFound");
    await registry.rename("~/old", "~/new");
    expect(await registry.exists("~/old")).toBe(false);
    expect((await registry.history("~/new")).map((entry) => [entry.name, entry.version, entry.url])).toEqual([
      ["~/new", 1, "file:///tmp/one"],
      ["~/new", 2, "file:///tmp/two"],
    ]);
    await registry.rename("~/new", "@/published");
    expect(await registry.list("@")).toEqual(["@/published"]);
    expect((await registry.entry("@/published")).url).toBe("file:///tmp/two");
    expect(await readdir(join(shared, "published/_versions"))).toEqual(["000001.json", "000002.json"]);
  });

  it("reports a corrupt entry as InvalidInput naming the file, and a save still goes on", async () => {
    const cwd = await project();
    const registry = new ResourceRegistry({ cwd });
    await registry.save(resourceAt("/tmp/x"), { name: "~/broken" });
    const file = join(cwd, ".ferry/registry/broken/_versions/000001.json");
    await writeFile(
      file,
      '{"$schema": "https://unpkg.com/@ferry/core/schema/registry-entry.schema.json", "type": "fol',
    );
    const error = await expectError(registry.entry("~/broken"), "InvalidInput", /is not valid JSON/);
    expect(error.message).toContain(file);
    const next = await registry.save(resourceAt("/tmp/y"), { name: "~/broken" });
    expect(next.version).toBe(2);
    expect((await registry.entry("~/broken")).url).toBe("file:///tmp/y");
    await expectError(registry.history("~/broken"), "InvalidInput", /000001\.json/);
  });

  it("refuses foreign JSON and entries that break the schema, naming the file and the problem", async () => {
    const cwd = await project();
    const registry = new ResourceRegistry({ cwd });
    const dir = join(cwd, ".ferry/registry/foreign/_versions");
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, "000001.json"),
      JSON.stringify({ name: "foreign", resource_type: "table", system: "s3" }),
    );
    await expectError(registry.entry("~/foreign"), "InvalidInput", /not a ferry registry entry.*\$schema/);
    await writeFile(join(dir, "000001.json"), "[1, 2, 3]");
    await expectError(registry.entry("~/foreign"), "InvalidInput", /expected a JSON object/);
    const saved = await registry.save(resourceAt("/tmp/x", "table"), { name: "~/valid" });
    const tampered = {
      ...saved,
      name: "~/foreign",
      version: 1,
      type: "dataset",
      extra: true,
      created: "yesterday",
    };
    await writeFile(join(dir, "000001.json"), JSON.stringify(tampered));
    const error = await expectError(
      registry.entry("~/foreign"),
      "InvalidInput",
      /not a valid ferry registry entry/,
    );
    expect(error.message).toMatch(/\/type must be one of/);
    expect(error.message).toMatch(/\/extra is not an allowed property/);
    expect(error.message).toMatch(/\/created must be an RFC 3339 date-time/);
    await writeFile(join(dir, "000001.json"), JSON.stringify({ ...saved, version: 7 }));
    await expectError(registry.entry("~/foreign"), "InvalidInput", /says it is version 7/);
    await writeFile(join(dir, "000001.json"), JSON.stringify({ ...saved, version: 1 }));
    await expectError(registry.entry("~/foreign"), "InvalidInput", /names ~\/valid, not ~\/foreign/);
  });

  it("validates table schemas in entries", async () => {
    const cwd = await project();
    const registry = new ResourceRegistry({ cwd });
    const location = parseLocation("s3://tables-bucket/t");
    const schema = {
      fields: [
        { name: "id", type: { type: "int", bits: 64, signed: true }, nullable: false },
        {
          name: "tags",
          type: { type: "list", item: { name: "item", type: { type: "string" }, nullable: true } },
          nullable: true,
        },
        { name: "at", type: { type: "timestamp", unit: "us", timezone: undefined }, nullable: true },
      ],
    } as const;
    const entry = await registry.save(
      {
        registryDescription: () => ({
          type: "table",
          location,
          flavour: "arrow",
          partitioning: ["year"],
          schema,
        }),
      },
      { name: "~/t" },
    );
    expect(entry).toMatchObject({ flavour: "arrow", partitioning: ["year"] });
    expect((await registry.entry("~/t")).schema?.fields[2]).toEqual({
      name: "at",
      type: { type: "timestamp", unit: "us" },
      nullable: true,
    });
    const file = join(cwd, ".ferry/registry/t/_versions/000001.json");
    const broken = JSON.parse(await readFile(file, "utf8"));
    delete broken.schema.fields[0].type.bits;
    await writeFile(file, JSON.stringify(broken));
    await expectError(
      registry.entry("~/t"),
      "InvalidInput",
      /\/schema\/fields\/0\/type is missing required property "bits"/,
    );
  });

  it("refuses a shared name when no shared registry is configured", async () => {
    const cwd = await project();
    await expectError(
      new ResourceRegistry({ cwd, env: {} }).save(resourceAt("/tmp/x"), { name: "@/x" }),
      "InvalidInput",
      /no shared registry/,
    );
  });

  it("takes the shared registry and default scope from ferry.config.json, overridden by the environment and options", async () => {
    const cwd = await project();
    await writeFile(
      join(cwd, "ferry.config.json"),
      JSON.stringify({ registry: { shared: "./team-registry", defaultScope: "shared", local: "reg" } }),
    );
    const nested = join(cwd, "src", "deep");
    await mkdir(nested, { recursive: true });
    const fromFile = new ResourceRegistry({ cwd: nested, env: {} });
    expect(fromFile.config.defaultScope).toBe("shared");
    expect(fromFile.config.local).toBe(join(cwd, "reg"));
    await fromFile.save(resourceAt("/tmp/x"), { name: "bare" });
    expect(await fromFile.list("@")).toEqual(["@/bare"]);
    await fromFile.save(resourceAt("/tmp/x"), { name: "~/mine" });
    expect(await readdir(join(cwd, "reg"))).toEqual(["mine"]);
    const fromEnv = new ResourceRegistry({
      cwd,
      env: { FERRY_SHARED_REGISTRY: join(cwd, "env-registry"), FERRY_REGISTRY_DEFAULT_SCOPE: "local" },
    });
    expect(fromEnv.config.shared).toBe(join(cwd, "env-registry"));
    expect(fromEnv.config.defaultScope).toBe("local");
    const fromOption = new ResourceRegistry({
      cwd,
      env: { FERRY_SHARED_REGISTRY: "/nowhere" },
      shared: "s3://team-bucket/ferry-registry",
    });
    expect(fromOption.config.shared).toBe("s3://team-bucket/ferry-registry");
    await writeFile(
      join(cwd, "ferry.config.json"),
      JSON.stringify({ registry: { defaultScope: "everyone" } }),
    );
    expect(() => new ResourceRegistry({ cwd })).toThrow(/must be "local" or "shared"/);
  });
});
