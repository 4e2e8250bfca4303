/**
 * The seed-spelling matrix: every spelling of Folder, Blob and Table from the Runhouse seeds
 * (with and without a name, with and without a path) on every system — local disk, S3 (s3rver),
 * GCS (the harness's server), Azure (azurite) and a cluster named by its ssh-config alias (sshd) —
 * asserting exactly where the data lands, by listing the backend directly, and that nothing else
 * was touched: not the working directory, not the home directory, not the rest of the bucket.
 * Then the tutorial's `.to()` calls, cluster to cluster by alias, and the notes a fallback leaves.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { FerryError } from "@ferry/plugin-kit";
import { azure } from "@ferry/storage-azure";
import { gcs } from "@ferry/storage-gcs";
import { s3 } from "@ferry/storage-s3";
import { sftp } from "@ferry/storage-sftp";
import {
  type AzuriteBackend,
  type GcsBackend,
  type S3Backend,
  type SshdBackend,
  sshdSkipReason,
  startAzurite,
  startGcsServer,
  startS3rver,
  startSshd,
} from "@ferry/test-harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { blob, folder, local, PluginRegistry, table } from "../../src/index.ts";
import { GRADES, TUTORIAL_BATCHES } from "../seed-fixtures.ts";
import { filesUnder, removeTemp, tempDir } from "../transfer-faults.ts";

const sshSkip = sshdSkipReason();
const rcloneMissing = spawnSync("sh", ["-c", "command -v rclone"]).status !== 0;
if (rcloneMissing && process.env.CI) throw new Error("rclone is not installed (CI must install it)");

const SEED = "seed-matrix";
const FIVE = Object.fromEntries([0, 1, 2, 3, 4].map((index) => [`${index}.txt`, String(index)]));
const BLOB = "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]";
const HEX = "[0-9a-f]{32}";

let s3rver: S3Backend;
let azurite: AzuriteBackend;
let gcsServer: GcsBackend;
let sshd: SshdBackend | undefined;
/** A second host, so that cluster → cluster is between two machines. */
let sshdB: SshdBackend | undefined;
let bucket: string;
let gsBucket: string;
let container: string;
let registry: PluginRegistry;
let work: string;
let cwd: string;
let home: string;
let remoteHome: string;
let previous: {
  cwd: string;
  home: string | undefined;
  sshConfig: string | undefined;
  s3: string | undefined;
};
/** Top-level entries of the cluster login's home before the tests (the tests may add only their own). */
let remoteHomeBefore: string[];
/** What the tests put in the cluster login's home, removed afterwards. */
const remoteLeftovers = new Set<string>();

beforeAll(async () => {
  work = tempDir("seed-matrix");
  cwd = join(work, "project");
  home = join(work, "home");
  mkdirSync(cwd);
  mkdirSync(home);
  writeFileSync(join(cwd, "notebook.ipynb"), "the user's own file");
  writeFileSync(join(home, ".profile"), "the user's own file");
  previous = {
    cwd: process.cwd(),
    home: process.env.HOME,
    sshConfig: process.env.FERRY_SSH_CONFIG,
    s3: process.env.FERRY_S3_BUCKET,
  };
  const starting = await Promise.allSettled([
    startS3rver().then((started) => {
      s3rver = started;
    }),
    startAzurite().then((started) => {
      azurite = started;
    }),
    startGcsServer().then((started) => {
      gcsServer = started;
    }),
    sshSkip
      ? Promise.resolve()
      : startSshd().then((started) => {
          sshd = started;
        }),
    sshSkip
      ? Promise.resolve()
      : startSshd().then((started) => {
          sshdB = started;
        }),
  ]);
  for (const result of starting) if (result.status === "rejected") throw result.reason;
  [bucket, container] = await Promise.all([s3rver.createBucket(), azurite.createContainer()]);
  gsBucket = gcsServer.createBucket();
  const plugins = [
    local(),
    azure({ connectionString: azurite.connectionString, defaultContainer: container }),
    gcs({ apiEndpoint: gcsServer.endpoint, projectId: gcsServer.projectId, defaultBucket: gsBucket }),
  ];
  // The S3 default bucket comes from the environment, as a user would set it.
  process.env.FERRY_S3_BUCKET = bucket;
  plugins.push(
    s3({
      endpoint: s3rver.endpoint,
      region: s3rver.region,
      credentials: { ...s3rver.credentials },
      capabilities: { conditionalWrite: false },
    }),
  );
  if (sshd) {
    // Two clusters named by their aliases, as in a laptop's ~/.ssh/config.
    const config = join(work, "ssh_config");
    writeFileSync(
      config,
      (
        [
          ["cluster-a", sshd],
          ["cluster-b", sshdB!],
        ] as const
      )
        .map(([alias, server]) =>
          [
            `Host ${alias}`,
            `  HostName ${server.host}`,
            `  Port ${server.port}`,
            `  User ${server.user}`,
            `  IdentityFile ${server.privateKeyPath}`,
            `  UserKnownHostsFile ${server.knownHostsPath}`,
            "",
          ].join("\n"),
        )
        .join("\n"),
    );
    process.env.FERRY_SSH_CONFIG = config;
    plugins.push(
      // Keys and known hosts come from each alias's IdentityFile and UserKnownHostsFile.
      sftp({ agent: false }),
    );
    remoteHome = userInfo().homedir;
    remoteHomeBefore = readdirSync(remoteHome).sort();
  }
  process.env.HOME = home;
  process.chdir(cwd);
  registry = new PluginRegistry({ cwd, lazy: false }).use(...plugins);
});

afterAll(async () => {
  process.chdir(previous?.cwd ?? process.cwd());
  for (const [key, value] of [
    ["HOME", previous?.home],
    ["FERRY_SSH_CONFIG", previous?.sshConfig],
    ["FERRY_S3_BUCKET", previous?.s3],
  ] as const) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  await registry?.close();
  await Promise.allSettled([s3rver?.stop(), azurite?.stop(), gcsServer?.stop(), sshd?.stop(), sshdB?.stop()]);
  for (const path of remoteLeftovers) rmSync(path, { recursive: true, force: true });
  const tops = ["ferry-folder", "ferry-blob", "ferry-table", SEED].filter(
    (top) => !remoteHomeBefore?.includes(top),
  );
  for (const dir of [
    join(remoteHome ?? "/nonexistent", ".cache", "ferry"),
    ...tops.map((top) => join(remoteHome ?? "/nonexistent", top)),
  ]) {
    if (existsSync(dir) && readdirSync(dir).length === 0) rmSync(dir, { recursive: true });
  }
  if (work) removeTemp(work);
});

type Kind = "folder" | "blob" | "table";
type System = "file" | "s3" | "gs" | "azure" | "cluster-a";
const SYSTEMS: System[] = ["file", "s3", "gs", "azure", "cluster-a"];

/** Every key (or file, relative to `root`) a backend holds now. */
async function snapshot(system: System): Promise<Set<string>> {
  if (system === "file") return new Set(filesUnder(cwd));
  if (system === "cluster-a") {
    const keys = new Set<string>();
    for (const top of ["ferry-folder", "ferry-blob", "ferry-table", ".cache/ferry", SEED]) {
      const dir = join(remoteHome, top);
      if (existsSync(dir)) for (const file of filesUnder(dir)) keys.add(`${top}/${file}`);
    }
    return keys;
  }
  const url = { s3: `s3://${bucket}`, gs: `gs://${gsBucket}`, azure: `az://${container}` }[system];
  const { storage } = await registry.resolve(url);
  const keys = new Set<string>();
  for await (const entry of storage.list("", { recursive: true })) keys.add(entry.path);
  return keys;
}

/** What a spelling is given for its path on `system`: bucket-first for stores (as the seeds write it). */
function pathOn(system: System, relative: string): string {
  if (system === "s3") return `/${bucket}/${relative}`;
  if (system === "gs") return `/${gsBucket}/${relative}`;
  if (system === "azure") return `/${container}/${relative}`;
  return relative;
}

/** The files a kind writes, relative to where it lands. */
function written(kind: Kind, keys: string[], at: string): boolean {
  const below = keys.map((key) => key.slice(at.length + 1));
  if (!keys.every((key) => key.startsWith(`${at}/`) || key === at)) return false;
  if (kind === "folder") return JSON.stringify(below.sort()) === JSON.stringify(Object.keys(FIVE).sort());
  if (kind === "blob") return keys.length === 1 && keys[0] === at;
  return below.length > 0 && below.every((name) => /^part-\d{5}-[0-9a-f]{32}\.parquet$/.test(name));
}

async function create(kind: Kind, spec: Record<string, unknown>): Promise<{ url: string }> {
  if (kind === "folder") return folder(spec, { registry }).put(FIVE);
  if (kind === "blob") return blob({ ...spec, data: BLOB }, { registry }).write();
  return table({ ...spec, data: GRADES, mkdir: true }, { registry }).write();
}

/** The expected place, relative to the backend's root (cwd, bucket, container or the login's home). */
function expectedPlace(kind: Kind, system: System, name: string | undefined, relative: string | undefined) {
  if (relative !== undefined) return new RegExp(`^${relative}$`);
  if (name === undefined) return new RegExp(`^ferry-${kind}/${HEX}$`);
  if (system === "file") return new RegExp(`^${name}$`);
  if (system === "cluster-a") return new RegExp(`^\\.cache/ferry/${name}$`);
  return new RegExp(`^ferry-${kind}/${name}$`);
}

/** The place a set of new keys was written to: the blob's key, else the common folder. */
function placeOf(kind: Kind, keys: string[]): string {
  if (kind === "blob") return keys[0]!;
  const dirs = keys.map((key) => key.split("/").slice(0, -1).join("/"));
  return dirs.sort((a, b) => a.length - b.length)[0]!;
}

/** The directory a test made in the login's home for `key`: `.cache/ferry/<name>` or `<top>/<name>`. */
function ownDirectory(key: string): string {
  const parts = key.split("/");
  return parts.slice(0, key.startsWith(".cache/") ? 3 : 2).join("/");
}

describe("every seed spelling lands exactly where it says, and nowhere else", () => {
  for (const system of SYSTEMS) {
    for (const kind of ["folder", "blob", "table"] as Kind[]) {
      for (const named of [true, false]) {
        for (const withPath of [false, true]) {
          const title = `${kind}({ ${named ? "name, " : ""}${withPath ? "path, " : ""}system: "${system}" })`;
          const skip = system === "cluster-a" && sshSkip !== undefined;
          it.skipIf(skip)(title, async () => {
            const name = named ? `${kind}-${system}-${withPath ? "p" : "n"}-${process.pid}` : undefined;
            const relative = withPath
              ? `${SEED}/${kind}-${named ? "named" : "anon"}-${process.pid}`
              : undefined;
            const path = relative === undefined ? undefined : pathOn(system, relative);
            const clusterPath = system === "cluster-a" && path !== undefined ? path : undefined;
            const before = await snapshot(system);
            const homeBefore = filesUnder(home);
            const spec = {
              system,
              ...(name ? { name } : {}),
              ...(path ? { path: clusterPath ?? path } : {}),
            };
            const made = await create(kind, spec);
            const after = await snapshot(system);
            const added = [...after].filter((key) => !before.has(key));
            // Recorded before any assertion, so a failing case still leaves nothing in the login's home.
            if (system === "cluster-a")
              for (const key of added) remoteLeftovers.add(join(remoteHome, ownDirectory(key)));
            expect(added.length, `${made.url} wrote nothing new`).toBeGreaterThan(0);
            const place = placeOf(kind, added);
            expect(place).toMatch(expectedPlace(kind, system, name, relative));
            expect(written(kind, added, place), `${added.join(", ")} under ${place}`).toBe(true);
            // Nothing that was there before was removed or is missing.
            expect([...before].filter((key) => !after.has(key))).toEqual([]);
            expect(filesUnder(home)).toEqual(homeBefore);
            if (system !== "file") expect(filesUnder(cwd)).toEqual(["notebook.ipynb"]);
            expect(readFileSync(join(cwd, "notebook.ipynb"), "utf8")).toBe("the user's own file");
            if (system === "cluster-a") {
              const now = readdirSync(remoteHome).filter((entry) => !remoteHomeBefore.includes(entry));
              expect(
                now.every((entry) => ["ferry-folder", "ferry-blob", "ferry-table", SEED].includes(entry)),
              ).toBe(true);
            }
            // Clean up what the spelling wrote, with the resource's own rm().
            if (system === "file") rmSync(join(cwd, place), { recursive: true, force: true });
          });
        }
      }
    }
  }
});

/** Keys below `prefix` in a store, relative to it. */
async function keysBelow(url: string): Promise<string[]> {
  const { storage, path } = await registry.resolve(url);
  const keys: string[] = [];
  for await (const entry of storage.list(path, { recursive: true }))
    keys.push(entry.path.slice(path.length + 1));
  return keys.sort();
}

describe("the tutorial's .to() calls", () => {
  it("folder.to('s3' | 'gs' | 'azure') lands at <default bucket>/ferry-folder/<32 hex> and lists the five files", async () => {
    const local = await folder({ path: "sample_folder", system: "file" }, { registry }).put(FIVE);
    for (const [system, root] of [
      ["s3", `s3://${bucket}`],
      ["gs", `gs://${gsBucket}`],
      ["azure", `az://${container}`],
    ] as const) {
      const copied = await local.to(system);
      expect(copied.url).toMatch(new RegExp(`^${root}/ferry-folder/${HEX}$`));
      expect(await copied.ls()).toEqual(["0.txt", "1.txt", "2.txt", "3.txt", "4.txt"]);
      expect(await keysBelow(copied.url)).toEqual(["0.txt", "1.txt", "2.txt", "3.txt", "4.txt"]);
    }
    expect(existsSync(join(cwd, "s3"))).toBe(false);
    await local.rm();
  });

  it("to('s3') with no default bucket names the option and the environment variable to set", async () => {
    const saved = process.env.FERRY_S3_BUCKET;
    delete process.env.FERRY_S3_BUCKET;
    const bare = new PluginRegistry({ cwd, lazy: false }).use(
      local(),
      s3({ endpoint: s3rver.endpoint, region: s3rver.region, credentials: { ...s3rver.credentials } }),
    );
    process.env.FERRY_S3_BUCKET = saved;
    try {
      const local = await folder({ path: "to-nowhere", system: "file" }, { registry: bare }).put(FIVE);
      const error = await local.to("s3").catch((caught: unknown) => caught);
      expect(FerryError.isInstance(error, "InvalidInput"), String(error)).toBe(true);
      expect((error as Error).message).toMatch(
        /`defaultBucket` option or the FERRY_S3_BUCKET environment variable/,
      );
      await local.rm();
    } finally {
      await bare.close();
    }
  });

  it.skipIf(sshSkip !== undefined)(
    "Table.to(alias), to('s3'), to(alias, '/abs') and to('here') land there, not in local folders named so",
    async () => {
      const rhTable = await table(
        {
          data: GRADES,
          name: "sample_table",
          path: `/${bucket}/runhouse-table/sample_table`,
          system: "s3",
          mkdir: true,
        },
        { registry },
      )
        .write()
        .save();
      expect(await keysBelow(`s3://${bucket}/runhouse-table/sample_table`)).toHaveLength(1);

      const onCluster = await rhTable.to("cluster-a");
      expect(onCluster.url).toMatch(new RegExp(`^sftp://.*/~/ferry-table/${HEX}$`));
      const clusterDir = join(remoteHome, onCluster.location.path);
      remoteLeftovers.add(clusterDir);
      expect(readdirSync(clusterDir)).toEqual([expect.stringMatching(/^part-00000-[0-9a-f]{32}\.parquet$/)]);
      expect(await onCluster.fetch()).toEqual(GRADES);

      const onS3 = await rhTable.to("s3");
      expect(onS3.url).toMatch(new RegExp(`^s3://${bucket}/ferry-table/${HEX}$`));

      const root = sshd!.makeRoot();
      const exact = await rhTable.to("cluster-a", `${root}/tables/sample_table`);
      expect(readdirSync(join(root, "tables", "sample_table"))).toHaveLength(1);
      expect(await exact.count()).toBe(6);

      const here = await onCluster.to("here");
      expect(here.url).toBe(`file://${join(cwd, onCluster.location.path.split("/").at(-1)!)}`);
      expect(await here.fetch()).toEqual(GRADES);
      const back = await rhTable.to("here");
      expect(back.url).toBe(`file://${join(cwd, "sample_table")}`);

      for (const stray of ["cluster-a", "s3", "tables"]) expect(existsSync(join(cwd, stray))).toBe(false);

      const reloaded = table({ name: "sample_table" }, { registry });
      const batches = [];
      for await (const batch of reloaded.stream({ batchSize: 2 })) batches.push(batch);
      expect(batches).toEqual(TUTORIAL_BATCHES);
      await here.rm();
      await back.rm();
      rmSync(join(cwd, ".ferry"), { recursive: true, force: true });
    },
  );

  it.skipIf(sshSkip !== undefined)(
    "blob.to(alias) and blob.to('s3') land at ferry-blob/<32 hex>",
    async () => {
      const localBlob = await blob(
        { name: "local_blob", data: BLOB, system: "file", path: "local_blob.pickle" },
        { registry },
      ).write();
      const onCluster = await localBlob.to("cluster-a");
      expect(onCluster.location.path).toMatch(new RegExp(`^ferry-blob/${HEX}$`));
      remoteLeftovers.add(join(remoteHome, onCluster.location.path));
      expect(readFileSync(join(remoteHome, onCluster.location.path), "utf8")).toBe(BLOB);
      const onS3 = await localBlob.to("s3");
      expect(onS3.url).toMatch(new RegExp(`^s3://${bucket}/ferry-blob/${HEX}$`));
      expect(await onS3.text()).toBe(BLOB);
      await localBlob.rm();
    },
  );
});

describe.skipIf(sshSkip !== undefined)("between clusters and through fallbacks", () => {
  it.skipIf(rcloneMissing)(
    "cluster → cluster by ssh alias runs on the source host, which is given the host, port and user (not the alias)",
    async () => {
      const from = sshd!.makeRoot();
      const to = sshdB!.makeRoot();
      const source = await folder({ system: "cluster-a", path: `${from}/results` }, { registry }).put(FIVE);
      const notes: string[] = [];
      const copied = await source.to("cluster-b", `${to}/results`, {
        remoteEnv: {
          RCLONE_CONFIG: "/dev/null",
          // How the source host reaches cluster-b is its own configuration: here, cluster-b's key.
          RCLONE_SFTP_KEY_FILE: sshdB!.privateKeyPath,
          RCLONE_SFTP_KNOWN_HOSTS_FILE: sshdB!.knownHostsPath,
        },
        onNote: (note) => notes.push(note),
      });
      expect(notes).toEqual([expect.stringMatching(/^copied on sftp:\/\/\S+ with rclone$/)]);
      expect(copied.notes).toEqual(notes);
      expect(filesUnder(join(to, "results"))).toEqual(Object.keys(FIVE));
    },
  );

  it("Folder.to, Blob.to and Table.to hand back the note when a cluster copy falls back to streaming", async () => {
    const root = sshd!.makeRoot();
    const noTools = { PATH: "/nonexistent" };
    const fallback = /streamed through this machine instead/;
    const onCluster = await folder({ system: "cluster-a", path: `${root}/f` }, { registry }).put(FIVE);
    const heard: string[] = [];
    const copied = await onCluster.to(`s3://${bucket}/fallback/f`, undefined, {
      remoteEnv: noTools,
      onNote: (note) => heard.push(note),
    });
    expect(copied.notes.join("\n")).toMatch(fallback);
    expect(heard).toEqual(copied.notes);
    const clusterBlob = await blob(
      { system: "cluster-a", path: `${root}/b.bin`, data: BLOB },
      { registry },
    ).write();
    const blobCopy = await clusterBlob.to(`s3://${bucket}/fallback/b.bin`, undefined, { remoteEnv: noTools });
    expect(blobCopy.notes.join("\n")).toMatch(fallback);
    const clusterTable = await table(
      { system: "cluster-a", path: `${root}/t`, data: GRADES },
      { registry },
    ).write();
    const tableCopy = await clusterTable.to(`s3://${bucket}/fallback/t`, undefined, { remoteEnv: noTools });
    expect(tableCopy.notes.join("\n")).toMatch(fallback);
    expect(await tableCopy.fetch()).toEqual(GRADES);
  });
});
