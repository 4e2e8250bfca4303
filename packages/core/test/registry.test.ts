import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Blob,
  FerryError,
  Folder,
  isSecretKey,
  LocalDriver,
  type Location,
  local,
  localCapabilities,
  PluginRegistry,
  parseLocation,
  parseName,
  type Registrable,
  ResourceRegistry,
  type StoragePlugin,
} from "../src/index.ts";
import { runTogether } from "./registry-children.ts";

function resourceAt(url: string, type: "folder" | "table" | "blob" = "folder"): Registrable {
  return { registryDescription: () => ({ type, location: parseLocation(url) }) };
}

async function expectError(promise: Promise<unknown>, code: string, message?: RegExp): Promise<FerryError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(FerryError.isInstance(error), `expected a FerryError ${code}, got ${String(error)}`).toBe(true);
  expect((error as FerryError).code).toBe(code);
  if (message) expect((error as FerryError).message).toMatch(message);
  return error as FerryError;
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "ferry-registry-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function project(): Promise<string> {
  return mkdtemp(join(work, "project-"));
}

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

describe("no secret is ever written", () => {
  it("refuses metadata keys that name secrets, and credential-shaped values, writing nothing", async () => {
    const cwd = await project();
    const registry = new ResourceRegistry({ cwd });
    const refused: Record<string, unknown>[] = [
      { password: "x" },
      { aws: { secretAccessKey: "x" } },
      { sas_token: "x" },
      { connectionString: "x" },
      { AccountKey: "x" },
      { credentials: { client_email: "a" } },
      { apiKey: "x" },
      { privateKey: "x" },
      { GITHUB_TOKEN: "x" },
      { note: "AKIAIOSFODNN7EXAMPLE" },
      { note: "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc==;" },
      { note: "https://acct.blob.core.windows.net/c?sv=2022-11-02&sig=abc%3D" },
      { note: "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----" },
      { notes: ["ghp_abcdefghijklmnopqrstuvwxyz0123456789"] },
      { endpoint: "https://user:hunter2@example.com/" },
    ];
    for (const metadata of refused) {
      await expectError(
        registry.save(resourceAt("/tmp/x"), { name: "~/m", metadata }),
        "InvalidInput",
        /never saves credentials/,
      );
    }
    expect(await registry.exists("~/m")).toBe(false);
    for (const key of ["tokenizer", "keyword", "monkey", "author", "rows", "passes"])
      expect(isSecretKey(key)).toBe(false);
    await registry.save(resourceAt("/tmp/x"), {
      name: "~/m",
      metadata: { tokenizer: "bert-base-uncased", keyword: "nlp" },
    });
  });

  it("keeps plugin credentials given through every option out of saved entries", async () => {
    // Each first-party plugin's credential options, as a user would pass them. They configure the
    // storage that resolves locations; the registry saves only the credential-free location.
    const secrets = {
      s3: {
        accessKeyId: "AKIAFERRYTESTKEY0001",
        secretAccessKey: "s3-secret-value-000",
        sessionToken: "s3-session-token-000",
      },
      gs: {
        credentials: { client_email: "svc@p.iam.gserviceaccount.com", private_key: "gs-private-key-000" },
        keyFilename: "/keys/gs.json",
      },
      az: {
        connectionString:
          "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=az-account-key-000==;",
        accountKey: "az-account-key-000==",
        sasToken: "sv=2022&sig=az-sas-signature-000",
      },
      sftp: {
        password: "sftp-password-000",
        privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----sftp-key-000",
        passphrase: "sftp-passphrase-000",
      },
      github: { token: "ghp_ferrytesttoken000000000000000000000" },
    } as const;
    const cwd = await project();
    const dataRoot = join(cwd, "data-root");
    const plugins = new PluginRegistry({ lazy: false });
    plugins.use(local());
    for (const [system, options] of Object.entries(secrets)) {
      plugins.use(credentialedPlugin(system, options, dataRoot));
    }
    const shared = join(cwd, "shared");
    const registry = new ResourceRegistry({ cwd, shared, plugins });
    const urls = [
      "s3://team-bucket/ds",
      "gs://team-bucket/ds",
      "az://team-container/ds",
      "sftp://me@cluster.example:2222/data",
      "github://owner/repo@main/ds",
    ];
    for (const [index, url] of urls.entries()) {
      const location = parseLocation(url);
      const { storage } = await plugins.resolve(location);
      await storage.write("probe.txt", "reachable");
      await registry.save(resourceAt(url), { name: `@/r${index}` });
      await registry.save(resourceAt(url), { name: `~/r${index}` });
      // Secrets passed as metadata are refused outright.
      await expectError(
        registry.save(resourceAt(url), {
          name: `@/leak${index}`,
          metadata: { options: Object.values(secrets)[index] },
        }),
        "InvalidInput",
      );
    }
    const written = await collectFiles([join(cwd, ".ferry"), shared]);
    expect(written.length).toBe(urls.length * 2);
    const everything = (await Promise.all(written.map((file) => readFile(file, "utf8")))).join("\n");
    for (const value of allStrings(secrets)) expect(everything).not.toContain(value);
    expect(everything).toContain("s3://team-bucket/ds");
  });
});

describe("no credential given to a first-party plugin reaches the registry", () => {
  it("saves folders and blobs on s3, gs, az, sftp and github through plugins configured with every credential option", async () => {
    const secrets = {
      s3: {
        credentials: {
          accessKeyId: "AKIAREGISTRYTEST0001",
          secretAccessKey: "s3-secret-access-key-1",
          sessionToken: "s3-session-token-1",
        },
      },
      gs: {
        credentials: {
          client_email: "svc@project.iam.gserviceaccount.com",
          private_key: "-----BEGIN PRIVATE KEY-----gs-private-key-1",
        },
        keyFilename: "/secure/gs-key-file-1.json",
      },
      az: {
        connectionString:
          "DefaultEndpointsProtocol=https;AccountName=acct1;AccountKey=az-account-key-1==;EndpointSuffix=core.windows.net",
        accountKey: "az-account-key-2==",
        sasToken: "sv=2022-11-02&ss=b&sig=az-sas-signature-1",
        account: "acct1",
      },
      sftp: {
        privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----sftp-private-key-1",
        passphrase: "sftp-passphrase-1",
        privateKeyPath: "/secure/id_sftp_1",
      },
      github: { token: "ghp_registrytesttoken0000000000000000000" },
    };
    const { s3 } = await import("@ferry/storage-s3");
    const { gcs } = await import("@ferry/storage-gcs");
    const { azure } = await import("@ferry/storage-azure");
    const { sftp } = await import("@ferry/storage-sftp");
    const { github } = await import("@ferry/storage-github");
    const plugins = new PluginRegistry({ lazy: false });
    plugins.use(
      local(),
      s3(secrets.s3),
      gcs(secrets.gs),
      azure(secrets.az),
      sftp(secrets.sftp),
      github(secrets.github),
    );
    const cwd = await project();
    const shared = join(cwd, "team-registry");
    const registry = new ResourceRegistry({ cwd, shared, plugins });
    const locations = [
      "s3://team-bucket/ds/bert_preproc",
      "gs://team-bucket/ds",
      "az://team-container/ds",
      "sftp://me@cluster.example:2222/data/run1",
      "github://owner/repo@main/data",
    ];
    for (const [index, url] of locations.entries()) {
      await registry.save(new Folder(url, { registry: plugins }), { name: `@/folder${index}` });
      await registry.save(new Blob(`${url}/model.bin`, { registry: plugins }), { name: `~/blob${index}` });
    }
    const written = await collectFiles([join(cwd, ".ferry"), shared]);
    expect(written).toHaveLength(locations.length * 2);
    const everything = (await Promise.all(written.map((file) => readFile(file, "utf8")))).join("\n");
    for (const value of allStrings(secrets).filter((value) => value !== "acct1"))
      expect(everything).not.toContain(value);
    expect((await registry.entry("@/folder2")).url).toBe("az://team-container/ds");
  });
});

function allStrings(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (typeof value === "object" && value !== null) return Object.values(value).flatMap(allStrings);
  return [];
}

async function collectFiles(dirs: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const dir of dirs) {
    for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) files.push(join(entry.parentPath, entry.name));
    }
  }
  return files;
}

/** A storage plugin configured with credentials, serving its scheme from a local directory. */
function credentialedPlugin(
  system: string,
  options: object,
  dataRoot: string,
): StoragePlugin & { options: object } {
  return {
    name: `${system}-with-credentials`,
    schemes: [system],
    capabilities: localCapabilities,
    options,
    create: (location: Location) => {
      const driver = new LocalDriver(join(dataRoot, system, location.root.replace(/[^A-Za-z0-9]/g, "_")));
      return Object.assign(driver, { system });
    },
  };
}

// A plugin serving `nocas://<root>/...` from a local directory with conditional writes withheld, so
// the registry must use its claim protocol instead of create-only writes.
const NO_CONDITIONAL_PLUGIN = `
const { LocalDriver, localCapabilities, PluginRegistry, local } = core;
class NoConditionalDriver extends LocalDriver { capabilities = { ...localCapabilities, conditionalWrite: false }; system = "nocas"; }
const plugins = new PluginRegistry({ lazy: false });
plugins.use(local(), { name: "nocas", schemes: ["nocas"], capabilities: { ...localCapabilities, conditionalWrite: false },
  create: () => new NoConditionalDriver(process.env.NOCAS_DIR) });
`;

const SAVER = `
const registry = new core.ResourceRegistry({ cwd: process.env.PROJECT, shared: process.env.SHARED, plugins: typeof plugins === "undefined" ? undefined : plugins });
const resource = (i) => ({ registryDescription: () => ({ type: "blob", location: core.parseLocation("s3://race-bucket/" + process.env.WHO + "/" + i) }) });
// Warm up (module loading, first storage use) before the start signal, so both race from the first save.
await registry.save(resource(0), { name: process.env.NAME + "-warmup-" + process.env.WHO });
const versions = [];
await ready();
for (let i = 0; i < Number(process.env.SAVES); i++) versions.push((await registry.save(resource(i), { name: process.env.NAME, metadata: { who: process.env.WHO, i } })).version);
console.log(JSON.stringify(versions));
`;

describe("two processes saving the same name at once", () => {
  const SAVES = 40;

  async function race(env: Record<string, string>, prelude = ""): Promise<number[][]> {
    const outputs = await runTogether(
      ["a", "b"].map((who) => ({ body: prelude + SAVER, env: { ...env, WHO: who, SAVES: String(SAVES) } })),
    );
    return outputs.map((output) => JSON.parse(output.trim()) as number[]);
  }

  async function checkNoLostUpdate(
    registry: ResourceRegistry,
    name: string,
    perProcess: number[][],
  ): Promise<void> {
    const all = perProcess.flat().sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: SAVES * 2 }, (_, index) => index + 1));
    const history = await registry.history(name);
    expect(history.map((entry) => entry.version)).toEqual(all);
    for (const who of ["a", "b"]) {
      const mine = history.filter((entry) => entry.metadata.who === who).map((entry) => entry.metadata.i);
      expect(mine).toEqual(Array.from({ length: SAVES }, (_, index) => index));
    }
    for (const entry of history)
      expect(entry.url).toBe(`s3://race-bucket/${entry.metadata.who}/${entry.metadata.i}`);
    // The saves really did interleave (otherwise this test would prove nothing).
    const writers = history.map((entry) => entry.metadata.who).join("");
    expect(writers).toMatch(/ab.*ba|ba.*ab/);
  }

  it("on storage with conditional writes: every version is kept, none corrupt", async () => {
    const cwd = await project();
    const perProcess = await race({ PROJECT: cwd, NAME: "~/contested" });
    await checkNoLostUpdate(new ResourceRegistry({ cwd }), "~/contested", perProcess);
  });

  it("on storage without conditional writes: the claim protocol keeps every version", async () => {
    const cwd = await project();
    const dir = join(cwd, "nocas-root");
    await mkdir(dir);
    const perProcess = await race(
      { PROJECT: cwd, SHARED: "nocas://team/registry", NOCAS_DIR: dir, NAME: "@/contested" },
      NO_CONDITIONAL_PLUGIN,
    );
    const plugins = new PluginRegistry({ lazy: false });
    plugins.use(local(), {
      name: "nocas",
      schemes: ["nocas"],
      capabilities: { ...localCapabilities, conditionalWrite: false },
      create: () =>
        Object.assign(new LocalDriver(dir), {
          capabilities: { ...localCapabilities, conditionalWrite: false },
        }),
    });
    await checkNoLostUpdate(
      new ResourceRegistry({ cwd, shared: "nocas://team/registry", plugins }),
      "@/contested",
      perProcess,
    );
    // Every claim was withdrawn or removed after its version was written.
    const claims = await readdir(join(dir, "registry/contested/_claims"), {
      recursive: true,
      withFileTypes: true,
    }).catch(() => []);
    expect(claims.filter((entry) => entry.isFile())).toEqual([]);
  });
});
