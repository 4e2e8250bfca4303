import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Location, StoragePlugin } from "@ferry/plugin-kit";
import { describe, expect, it } from "vitest";
import {
  Blob,
  Folder,
  isSecretKey,
  LocalDriver,
  local,
  localCapabilities,
  PluginRegistry,
  parseLocation,
  ResourceRegistry,
} from "../../src/index.ts";
import { expectError, resourceAt, useProjects } from "../registry-fixtures.ts";

const { project } = useProjects();

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
