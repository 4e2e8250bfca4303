/**
 * Interop with independent S3 clients against the same s3rver: what ferry writes, the aws CLI and
 * rclone list and read back byte for byte, and ferry reads what they write — keys with spaces and
 * unicode included.
 */
import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { md5Hex } from "@ferry/conformance";
import type { Storage } from "@ferry/plugin-kit";
import { printLogsOnFailure, type S3Backend, s3ClientEnv } from "@ferry/test-harness";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { bucketStorage, startS3rver } from "../fixture.ts";

const run = promisify(execFile);

function onPath(binary: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${binary}`]).status === 0;
}

/**
 * Registers the suite when the client is installed. Without it: a failing test on CI (the machine
 * must provide it), a skipped one with the install hint elsewhere.
 */
function describeWithClient(binary: string, debianPackage: string, body: () => void): void {
  const hint = `the ${binary} command is missing: install the Debian package ${debianPackage} (apt-get install -y ${debianPackage})`;
  describe(`interop with ${binary}`, () => {
    if (onPath(binary)) {
      body();
    } else if (process.env.CI) {
      it(`needs ${binary}`, () => {
        throw new Error(hint);
      });
    } else {
      it.skip(hint, () => {});
    }
  });
}

let server: S3Backend;
let storage: Storage;
let bucket: string;
beforeAll(async () => {
  server = await startS3rver();
  bucket = await server.createBucket();
  storage = await bucketStorage(server, { partSize: 8 * 1024 }, bucket);
});
afterAll(() => server?.stop());
afterEach((context) => printLogsOnFailure(context, server));

/** Objects ferry writes, by key: a small text, unicode and spaces in every segment, and a multipart upload. */
const written = new Map<string, Buffer>([
  ["from-ferry/with space.txt", Buffer.from("plain text with a space in its name\n")],
  ["from-ferry/ünïcödé dir/世界 файл.bin", randomBytes(10_000)],
  ["from-ferry/multipart.bin", randomBytes(40 * 1024 + 3)],
]);

async function writeFromFerry(prefix: string): Promise<void> {
  for (const [key, body] of written) await storage.write(`${prefix}/${key}`, body);
}

const aws = (args: string[], input?: Buffer) => {
  const child = run("aws", ["--endpoint-url", server.endpoint, ...args], {
    env: s3ClientEnv(server),
    encoding: "buffer",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (input) child.child.stdin!.end(input);
  return child.then((result) => result.stdout);
};

const rcloneEnv = () => ({
  ...s3ClientEnv(server),
  RCLONE_CONFIG: "/dev/null",
  RCLONE_CONFIG_INTEROP_TYPE: "s3",
  RCLONE_CONFIG_INTEROP_PROVIDER: "Other",
  RCLONE_CONFIG_INTEROP_ENDPOINT: server.endpoint,
  RCLONE_CONFIG_INTEROP_REGION: server.region,
  RCLONE_CONFIG_INTEROP_ACCESS_KEY_ID: server.credentials.accessKeyId,
  RCLONE_CONFIG_INTEROP_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
  RCLONE_CONFIG_INTEROP_FORCE_PATH_STYLE: "true",
});

const rclone = (args: string[], input?: Buffer) => {
  const child = run("rclone", [...args, "--low-level-retries", "1"], {
    env: rcloneEnv(),
    encoding: "buffer",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (input) child.child.stdin!.end(input);
  else child.child.stdin!.end();
  return child.then((result) => result.stdout);
};

async function ferryReads(prefix: string, expected: Map<string, Buffer>): Promise<void> {
  const listed: string[] = [];
  for await (const entry of storage.list(prefix, { recursive: true })) listed.push(entry.path);
  expect(listed.sort()).toEqual([...expected.keys()].map((key) => `${prefix}/${key}`).sort());
  for (const [key, body] of expected) {
    const read = Buffer.from(await storage.readBytes(`${prefix}/${key}`));
    expect(md5Hex(read), key).toBe(md5Hex(body));
    expect((await storage.stat(`${prefix}/${key}`)).md5, key).toBe(md5Hex(body));
  }
}

describeWithClient("aws", "awscli", () => {
  it("lists and reads back byte-identical what ferry wrote", async () => {
    await writeFromFerry("aws-reads");
    const listing = JSON.parse(
      (await aws(["s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "aws-reads/"])).toString(
        "utf8",
      ),
    ) as {
      Contents: Array<{ Key: string; Size: number }>;
    };
    expect(listing.Contents.map((object) => object.Key).sort()).toEqual(
      [...written.keys()].map((key) => `aws-reads/${key}`).sort(),
    );
    // One recursive download (each CLI start costs seconds), then compare file by file.
    const local = await mkdtemp(join(tmpdir(), "ferry-aws-"));
    try {
      await aws(["s3", "cp", "--recursive", `s3://${bucket}/aws-reads/`, local]);
      for (const [key, body] of written)
        expect(md5Hex(await readFile(join(local, key))), key).toBe(md5Hex(body));
    } finally {
      await rm(local, { recursive: true, force: true });
    }
  });

  it("writes objects that ferry lists and reads back", async () => {
    const fromAws = new Map<string, Buffer>([
      ["a file with spaces.txt", Buffer.from("written by the aws CLI\n")],
      ["ordner ü/日本語 ファイル.bin", randomBytes(5000)],
    ]);
    const local = await mkdtemp(join(tmpdir(), "ferry-aws-"));
    try {
      for (const [key, body] of fromAws) {
        await mkdir(dirname(join(local, key)), { recursive: true });
        await writeFile(join(local, key), body);
      }
      await aws(["s3", "cp", "--recursive", local, `s3://${bucket}/from-aws/`]);
    } finally {
      await rm(local, { recursive: true, force: true });
    }
    await ferryReads("from-aws", fromAws);
  });
});

describeWithClient("rclone", "rclone", () => {
  it("lists and reads back byte-identical what ferry wrote", async () => {
    await writeFromFerry("rclone-reads");
    const lines = (await rclone(["lsf", "-R", "--files-only", `interop:${bucket}/rclone-reads`]))
      .toString("utf8")
      .trim()
      .split("\n");
    expect(lines.sort()).toEqual([...written.keys()].sort());
    for (const [key, body] of written) {
      const read = await rclone(["cat", `interop:${bucket}/rclone-reads/${key}`]);
      expect(md5Hex(read), key).toBe(md5Hex(body));
    }
    // rclone's own check: the MD5s it sees (ETag or ferry's recorded md5chksum) match the content.
    const sums = (await rclone(["md5sum", `interop:${bucket}/rclone-reads`])).toString("utf8");
    for (const [key, body] of written) expect(sums).toContain(`${md5Hex(body)}  ${key}`);
  });

  it("writes objects that ferry lists and reads back", async () => {
    const fromRclone = new Map<string, Buffer>([
      ["name with spaces.txt", Buffer.from("written by rclone\n")],
      ["κατάλογος/emoji 🙂 файл.bin", randomBytes(7000)],
    ]);
    for (const [key, body] of fromRclone)
      await rclone(["rcat", `interop:${bucket}/from-rclone/${key}`], body);
    await ferryReads("from-rclone", fromRclone);
  });
});
