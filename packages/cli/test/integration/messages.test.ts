/**
 * Messages that tell a `ferry` user what to change name a flag, config key or environment variable,
 * never a library option the command line does not have (`hostKeyCheck: "accept-new"`,
 * `ferry.use(...)`, `s3({ region })`, `storeCopy: false`, `retry: true`, the `shared` option).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type GcsBackend,
  type SshdBackend,
  sshdSkipReason,
  startGcsServer,
  startSshd,
} from "@ferry/test-harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTemp, removeTemp, runFerry } from "../run-ferry.ts";

/** Library spellings that mean nothing on the command line. */
const LIBRARY_WORDS =
  /ferry\.use|hostKeyCheck|s3\(\{|storeCopy|retry: true|`shared` option|keyFilename|token option|options or the environment/;

let work: string;
let home: string;
let gcs: GcsBackend;
let sshd: SshdBackend | undefined;
const sshdMissing = sshdSkipReason();

beforeAll(async () => {
  work = await makeTemp("messages");
  home = join(work, "home");
  await mkdir(join(home, ".ssh"), { recursive: true });
  gcs = await startGcsServer();
  if (!sshdMissing) sshd = await startSshd();
});

afterAll(async () => {
  await gcs?.stop();
  await sshd?.stop();
  await removeTemp(work);
});

/** Nothing leaves 127.0.0.1: a client that tried the internet would meet a closed port. */
const OFFLINE = { HTTPS_PROXY: "http://127.0.0.1:9", HTTP_PROXY: "http://127.0.0.1:9" };

interface MessageCase {
  /** Commands to run first, in the same directory. */
  before?: string[][];
  args: () => string[];
  env?: () => Record<string, string | undefined>;
  code: number;
  says: RegExp;
}

const CASES: Record<string, MessageCase> = {
  "a scheme without a plugin names ferry.config.json, not ferry.use()": {
    args: () => ["ls", "nosuch://x/y"],
    code: 5,
    says: /list its package under "plugins" in ferry\.config\.json/,
  },
  "a reused run id names --retry": {
    before: [["run", "--run-id", "again", "--", "true"]],
    args: () => ["run", "--run-id", "again", "--", "true"],
    code: 7,
    says: /add --retry to run it again/,
  },
  "a hash-only file names ferry run --no-copy": {
    before: [["run", "--no-copy", "--put", "made.txt", "--run-id", "hashed", "--", "echo x > made.txt"]],
    args: () => ["catalog", "get", "hashed", "made.txt"],
    code: 3,
    says: /recorded by hash only \(ferry run --no-copy\)/,
  },
  "no shared registry names --shared": {
    args: () => ["registry", "ls", "@/"],
    env: () => ({ FERRY_SHARED_REGISTRY: undefined }),
    code: 2,
    says: /FERRY_SHARED_REGISTRY, or --shared$/m,
  },
  "no AWS region names AWS_REGION only": {
    args: () => ["ls", "s3://some-bucket/"],
    env: () => ({
      ...OFFLINE,
      HOME: home,
      AWS_REGION: undefined,
      AWS_DEFAULT_REGION: undefined,
      AWS_PROFILE: undefined,
    }),
    code: 2,
    says: /set AWS_REGION \(or a region in your AWS profile\)$/m,
  },
  "GCS permission denied names GOOGLE_APPLICATION_CREDENTIALS": {
    args: () => ["ls", `gs://${gcs.createBucket()}/`],
    env: () => {
      gcs.injectFault({ method: "GET", status: 403, times: 1 });
      return { STORAGE_EMULATOR_HOST: gcs.endpoint, GOOGLE_CLOUD_PROJECT: gcs.projectId };
    },
    code: 4,
    says: /Application Default Credentials, e\.g\. GOOGLE_APPLICATION_CREDENTIALS/,
  },
};

describe("messages name what a ferry user can change", () => {
  for (const [name, kase] of Object.entries(CASES)) {
    it(name, async () => {
      const cwd = await makeTemp("message-case");
      try {
        for (const args of kase.before ?? []) expect((await runFerry(args, { cwd })).code).toBe(0);
        const run = await runFerry(kase.args(), { cwd, env: kase.env?.() ?? {} });
        expect(run.code, run.stderr).toBe(kase.code);
        expect(run.stderr).toMatch(kase.says);
        expect(run.stderr).not.toMatch(LIBRARY_WORDS);
      } finally {
        await removeTemp(cwd);
      }
    });
  }

  it.skipIf(sshdMissing !== undefined)(
    "an unknown SSH host key names StrictHostKeyChecking in ~/.ssh/config, not hostKeyCheck",
    async () => {
      const server = sshd!;
      // The key comes from `Host *`; known_hosts is the empty home's, so the host key is unknown.
      await writeFile(join(home, ".ssh/config"), `Host *\n  IdentityFile ${server.privateKeyPath}\n`);
      const run = await runFerry(
        ["ls", `sftp://${server.user}@127.0.0.1:${server.port}${server.makeRoot()}`],
        {
          env: { HOME: home, SSH_AUTH_SOCK: "", FERRY_SSH_CONFIG: join(home, ".ssh/config") },
        },
      );
      expect(run.code, run.stderr).toBe(4);
      expect(run.stderr).toMatch(/set StrictHostKeyChecking accept-new for this host in ~\/\.ssh\/config/);
      expect(run.stderr).not.toMatch(LIBRARY_WORDS);
    },
  );
});
