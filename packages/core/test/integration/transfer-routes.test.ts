/**
 * Every route of the transfer engine against real backends on 127.0.0.1: s3rver for S3, azurite for
 * Azure Blob, the harness's GCS server, and OpenSSH's sshd for a "cluster" reached over SSH (with
 * rclone installed on it, as on a real one).
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FerryError, type StorageDriver } from "@ferry/plugin-kit";
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
import {
  copy,
  createStorage,
  folder,
  local,
  PluginRegistry,
  sync,
  type TransferFileEvent,
} from "../../src/index.ts";
import { filesUnder, removeTemp, tempDir, writeTree } from "../transfer-faults.ts";

const sshSkip = sshdSkipReason();
// The "cluster" is this machine through sshd, so the tool it copies with is this machine's rclone.
const rcloneMissing = spawnSync("sh", ["-c", "command -v rclone"]).status !== 0;
if (rcloneMissing && process.env.CI) throw new Error("rclone is not installed (CI must install it)");
const TREE: Record<string, Uint8Array> = {
  "a.txt": new TextEncoder().encode("alpha"),
  "nested/b.bin": new Uint8Array(200_000).map((_, index) => index % 251),
  "nested/deeper/c.csv": new TextEncoder().encode("id,value\n1,2\n"),
};
const md5 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("hex");

let server: S3Backend;
let bucket: string;
let azurite: AzuriteBackend;
let container: string;
let gcsServer: GcsBackend;
let gcsBucket: string;
let sshd: SshdBackend | undefined;
let registry: PluginRegistry;
let work: string;

beforeAll(async () => {
  work = tempDir("routes");
  await writeTree(join(work, "src"), TREE);
  // Each server is recorded the moment it is up, so afterAll stops it even if another failed to start.
  const starting = await Promise.allSettled([
    startS3rver().then((started) => {
      server = started;
    }),
    startAzurite().then((started) => {
      azurite = started;
    }),
    startGcsServer().then((started) => {
      gcsServer = started;
    }),
  ]);
  for (const result of starting) if (result.status === "rejected") throw result.reason;
  [bucket, container] = await Promise.all([server.createBucket(), azurite.createContainer()]);
  gcsBucket = gcsServer.createBucket();
  const plugins = [
    local(),
    s3({
      endpoint: server.endpoint,
      region: server.region,
      credentials: { ...server.credentials },
      capabilities: { conditionalWrite: false },
    }),
  ];
  plugins.push(
    azure({ connectionString: azurite.connectionString }),
    gcs({ apiEndpoint: gcsServer.endpoint, projectId: gcsServer.projectId }),
  );
  if (!sshSkip) {
    sshd = await startSshd();
    plugins.push(
      sftp({ privateKeyPath: sshd.privateKeyPath, knownHosts: sshd.knownHostsPath, agent: false }),
    );
  }
  registry = new PluginRegistry({ cwd: work, lazy: false }).use(...plugins);
});

afterAll(async () => {
  await registry?.close();
  await Promise.allSettled([server?.stop(), azurite?.stop(), gcsServer?.stop(), sshd?.stop()]);
  removeTemp(work);
});

const s3url = (key: string) => `s3://${bucket}/${key}`;

/** MD5 of every object below `url`, by path relative to it. */
async function contents(url: string): Promise<Record<string, string>> {
  const { storage, path: prefix } = await registry.resolve(url);
  const out: Record<string, string> = {};
  for await (const entry of storage.list(prefix, { recursive: true }))
    out[entry.path.slice(prefix.length + 1)] = md5(await storage.readBytes(entry.path));
  return out;
}

const expectedSums = Object.fromEntries(Object.entries(TREE).map(([path, bytes]) => [path, md5(bytes)]));

describe("local ↔ S3 (s3rver)", () => {
  it("local → S3 streams every byte and verifies it; a second run skips by size and MD5", async () => {
    const first = await copy(join(work, "src"), s3url("up"), { registry });
    expect(first).toMatchObject({
      copied: 3,
      failed: 0,
      bytes: 200_000 + 5 + 13,
      bytesThroughClient: 200_018,
    });
    expect(await contents(s3url("up"))).toEqual(expectedSums);
    // Compared by MD5: by time alone, files written moments before their upload are copied again (S3 keeps
    // the upload time, to the second; see "Change detection" in the S3 README), which is the safe answer.
    const second = await copy(join(work, "src"), s3url("up"), { registry, checksum: true });
    expect(second).toMatchObject({ copied: 0, skipped: 3 });
  });

  it("S3 → local brings the tree back byte for byte; unchanged on the next run (upload times carried over)", async () => {
    await copy(join(work, "src"), s3url("down-src"), { registry });
    const target = join(work, "down");
    const first = await copy(s3url("down-src"), target, { registry });
    expect(first.copied).toBe(3);
    expect(filesUnder(target)).toEqual(["a.txt", "nested/b.bin", "nested/deeper/c.csv"]);
    expect(md5(readFileSync(join(target, "nested/b.bin")))).toBe(expectedSums["nested/b.bin"]);
    const second = await copy(s3url("down-src"), target, { registry });
    expect(second).toMatchObject({ copied: 0, skipped: 3 });
    expect(second.plan.every((action) => action.reason === "same size and modified time")).toBe(true);
  });

  it("S3 → local: a large object comes as ranged GETs, several at once, checked against S3's MD5", async () => {
    const big = new Uint8Array(3 * 1024 * 1024 + 17).map((_, index) => (index * 31) % 256);
    const { storage: bucketStorage } = await registry.resolve(s3url(""));
    await bucketStorage.write("ranged/big.bin", big);
    // The same S3 storage, with every read's range recorded on its way to s3rver.
    const driver = bucketStorage.driver;
    const ranges: unknown[] = [];
    const recordingDriver: StorageDriver = {
      system: driver.system,
      root: driver.root,
      capabilities: driver.capabilities,
      stat: (path, options) => driver.stat(path, options),
      list: (dir, options) => driver.list(dir, options),
      read: (path, options) => {
        ranges.push(options?.range);
        return driver.read(path, options);
      },
      write: (path, body, options) => driver.write(path, body, options),
      delete: (paths, options) => driver.delete(paths, options),
    };
    const recording = createStorage(recordingDriver);
    const target = join(work, "ranged-down");
    const summary = await copy({ storage: recording, path: "ranged" }, target, {
      registry,
      multiThreadCutoff: 1024 * 1024,
      multiThreadChunkSize: 512 * 1024,
    });
    expect(summary).toMatchObject({ copied: 1, failed: 0, bytesThroughClient: big.byteLength });
    expect(md5(readFileSync(join(target, "big.bin")))).toBe(md5(big));
    expect(ranges).toHaveLength(7);
    expect(ranges).toContainEqual({ offset: 6 * 512 * 1024, length: 17 });
    expect(filesUnder(target)).toEqual(["big.bin"]);
  });

  it("S3 → S3 in one bucket is server-side: no bytes through this process", async () => {
    await copy(join(work, "src"), s3url("same-a"), { registry });
    const events: TransferFileEvent[] = [];
    const summary = await copy(s3url("same-a"), s3url("same-b"), {
      registry,
      onFile: (event) => events.push(event),
    });
    expect(summary).toMatchObject({ copied: 3, failed: 0, bytes: 200_018, bytesThroughClient: 0 });
    expect(events.map((event) => event.route)).toEqual(["native", "native", "native"]);
    expect(await contents(s3url("same-b"))).toEqual(expectedSums);
  });

  it("sync --delete against S3 removes only the extras", async () => {
    await copy(join(work, "src"), s3url("mirror"), { registry });
    const { storage } = await registry.resolve(s3url("mirror"));
    await storage.write("mirror/extra.txt", "stale");
    // By MD5, so that files written moments before their upload count as unchanged (see the first test).
    const summary = await sync(join(work, "src"), s3url("mirror"), {
      registry,
      delete: true,
      checksum: true,
    });
    expect(summary).toMatchObject({ copied: 0, skipped: 3, deleted: 1 });
    expect(Object.keys(await contents(s3url("mirror"))).sort()).toEqual(Object.keys(TREE).sort());
  });

  it('Folder.to("s3://bucket") lands at ferry-folder/<32 hex>; to("s3") alone asks for a bucket', async () => {
    const samples = folder(join(work, "src"), { registry });
    const remote = await samples.to(`s3://${bucket}`);
    expect(remote.url).toMatch(new RegExp(`^s3://${bucket}/ferry-folder/[0-9a-f]{32}$`));
    expect(await remote.ls()).toEqual(["a.txt", "nested"]);
    expect(await remote.ls({ recursive: true })).toEqual(["a.txt", "nested/b.bin", "nested/deeper/c.csv"]);
    const back = await remote.to(join(work, "back-from-s3"));
    expect(await back.ls({ recursive: true })).toEqual(["a.txt", "nested/b.bin", "nested/deeper/c.csv"]);
    const error = await samples.to("s3").catch((caught: unknown) => caught);
    expect(FerryError.isInstance(error, "InvalidInput")).toBe(true);
    expect((error as Error).message).toContain("which bucket");
  });
});

describe("Azure Blob (azurite) and GCS (harness server)", () => {
  const azUrl = (key: string) => `az://${container}/${key}`;
  const gsUrl = (key: string) => `gs://${gcsBucket}/${key}`;

  it("local → Azure → GCS → local, byte for byte, each hop verified", async () => {
    expect(await copy(join(work, "src"), azUrl("hop"), { registry })).toMatchObject({ copied: 3, failed: 0 });
    expect(await contents(azUrl("hop"))).toEqual(expectedSums);
    const across = await copy(azUrl("hop"), gsUrl("hop"), { registry });
    expect(across).toMatchObject({ copied: 3, failed: 0, bytesThroughClient: 200_018 });
    expect(await contents(gsUrl("hop"))).toEqual(expectedSums);
    const target = join(work, "from-gcs");
    expect(await copy(gsUrl("hop"), target, { registry })).toMatchObject({ copied: 3 });
    expect(md5(readFileSync(join(target, "nested/b.bin")))).toBe(expectedSums["nested/b.bin"]);
    // Nothing changed: every hop is skipped on a second run.
    expect((await copy(azUrl("hop"), gsUrl("hop"), { registry })).skipped).toBe(3);
    expect((await copy(gsUrl("hop"), target, { registry })).skipped).toBe(3);
  });

  it("S3 → Azure streams; Azure → Azure and GCS → GCS copy server-side", async () => {
    await copy(join(work, "src"), s3url("to-azure"), { registry });
    expect(await copy(s3url("to-azure"), azUrl("from-s3"), { registry })).toMatchObject({
      copied: 3,
      bytesThroughClient: 200_018,
    });
    const events: TransferFileEvent[] = [];
    const withinAzure = await copy(azUrl("from-s3"), azUrl("copy"), {
      registry,
      onFile: (event) => events.push(event),
    });
    expect(withinAzure).toMatchObject({ copied: 3, failed: 0, bytesThroughClient: 0 });
    expect(await contents(azUrl("copy"))).toEqual(expectedSums);
    await copy(join(work, "src"), gsUrl("a"), { registry });
    const withinGcs = await copy(gsUrl("a"), gsUrl("b"), { registry, onFile: (event) => events.push(event) });
    expect(withinGcs).toMatchObject({ copied: 3, failed: 0, bytesThroughClient: 0 });
    expect(await contents(gsUrl("b"))).toEqual(expectedSums);
    expect(new Set(events.map((event) => event.route))).toEqual(new Set(["native"]));
  });
});

/** What rclone on the cluster needs to reach s3rver (on a real cluster: its own AWS configuration). */
function rcloneOnTheClusterEnv(): Record<string, string> {
  return {
    RCLONE_CONFIG: "/dev/null",
    RCLONE_S3_PROVIDER: "Other",
    RCLONE_S3_ENDPOINT: server.endpoint,
    RCLONE_S3_REGION: server.region,
    RCLONE_S3_FORCE_PATH_STYLE: "true",
    AWS_ACCESS_KEY_ID: server.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
  };
}

describe.skipIf(sshSkip !== undefined)(
  `a cluster over SSH (sshd)${sshSkip ? ` — skipped: ${sshSkip}` : ""}`,
  () => {
    const sftpUrl = (path: string) => `sftp://${sshd!.user}@${sshd!.host}:${sshd!.port}${path}`;

    it("local → SFTP → local streams both ways", async () => {
      const root = sshd!.makeRoot();
      const up = await copy(join(work, "src"), sftpUrl(`${root}/data`), { registry });
      expect(up).toMatchObject({ copied: 3, failed: 0 });
      expect(filesUnder(join(root, "data"))).toEqual(["a.txt", "nested/b.bin", "nested/deeper/c.csv"]);
      const target = join(work, "from-cluster");
      const down = await copy(sftpUrl(`${root}/data`), target, { registry });
      expect(down).toMatchObject({ copied: 3, bytesThroughClient: 200_018 });
      expect(md5(readFileSync(join(target, "nested/b.bin")))).toBe(expectedSums["nested/b.bin"]);
      expect((await copy(join(work, "src"), sftpUrl(`${root}/data`), { registry })).copied).toBe(0);
    });

    it.skipIf(rcloneMissing)(
      "cluster → S3 runs on the cluster (rclone there): the data never comes back here",
      async () => {
        const root = sshd!.makeRoot();
        await writeTree(join(root, "results"), TREE);
        const events: TransferFileEvent[] = [];
        const summary = await copy(sftpUrl(`${root}/results`), s3url("from-cluster"), {
          registry,
          onFile: (event) => events.push(event),
          remoteEnv: rcloneOnTheClusterEnv(),
        });
        expect(summary.notes).toEqual([expect.stringMatching(/^copied on sftp:\/\/\S+ with rclone$/)]);
        expect(summary).toMatchObject({ copied: 3, failed: 0, bytes: 200_018 });
        expect(events.every((event) => event.route === "remote")).toBe(true);
        expect(summary.bytesThroughClient).toBeGreaterThan(0);
        expect(summary.bytesThroughClient).toBeLessThan(summary.bytes / 100);
        expect(await contents(s3url("from-cluster"))).toEqual(expectedSums);
      },
    );

    it.skipIf(rcloneMissing)("S3 → cluster runs on the cluster too: it fetches the data itself", async () => {
      await copy(join(work, "src"), s3url("to-cluster"), { registry });
      const root = sshd!.makeRoot();
      const events: TransferFileEvent[] = [];
      const summary = await copy(s3url("to-cluster"), sftpUrl(`${root}/fetched`), {
        registry,
        onFile: (event) => events.push(event),
        remoteEnv: rcloneOnTheClusterEnv(),
      });
      expect(summary.notes).toEqual([expect.stringMatching(/^copied on sftp:\/\/\S+ with rclone$/)]);
      expect(summary).toMatchObject({ copied: 3, failed: 0, bytes: 200_018 });
      expect(events.every((event) => event.route === "remote")).toBe(true);
      expect(summary.bytesThroughClient).toBeLessThan(summary.bytes / 100);
      expect(filesUnder(join(root, "fetched"))).toEqual(["a.txt", "nested/b.bin", "nested/deeper/c.csv"]);
      expect(md5(readFileSync(join(root, "fetched/nested/b.bin")))).toBe(expectedSums["nested/b.bin"]);
    });

    it("falls back to streaming, with a note, when the cluster has no tool for the job", async () => {
      const root = sshd!.makeRoot();
      await writeTree(join(root, "results"), TREE);
      const summary = await copy(sftpUrl(`${root}/results`), s3url("fallback"), {
        registry,
        remoteEnv: { PATH: "/nonexistent" },
      });
      expect(summary.notes.join("\n")).toMatch(
        /no ferry, rclone or aws CLI on .* that can write to s3; streamed through this machine instead/,
      );
      expect(summary).toMatchObject({ copied: 3, failed: 0, bytesThroughClient: 200_018 });
      expect(await contents(s3url("fallback"))).toEqual(expectedSums);
    });
  },
);
