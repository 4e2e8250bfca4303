/**
 * Secret scan: credentials set every way ferry takes them, each a distinctive value; failing commands
 * (CLI with and without --json, debug logging on) and failing library calls against the real servers;
 * then no secret, nor its URL-encoded form, may appear in any output, error rendering, or file left
 * in the home or working directory (run logs, registry, known_hosts, ...).
 */
import { generateKeyPairSync } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { inspect } from "node:util";
import { PluginRegistry, parseLocation } from "@ferry/core";
import { azure } from "@ferry/storage-azure";
import { gcs } from "@ferry/storage-gcs";
import { github } from "@ferry/storage-github";
import { s3 } from "@ferry/storage-s3";
import { sftp } from "@ferry/storage-sftp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AllBackends, startAllBackends } from "../backends.ts";
import { makeTemp, removeTemp, runFerry } from "../run-ferry.ts";

const { privateKey: gcsPrivateKey } = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
});

/** Every value here must never be printed or saved by ferry. */
const SECRETS = {
  awsKeyId: "AKIAFERRYSCANENV00001",
  awsSecret: "ferryScanAwsSecret/0002+Zq",
  awsSession: "ferryScanAwsSession/0003+Zq==",
  profileKeyId: "AKIAFERRYSCANPROF0004",
  profileSecret: "ferryScanProfileSecret/0005+Zq",
  azureKey: "ZmVycnlTY2FuQXp1cmVLZXkwMDA2K1pxL3dvcmtzPT0=",
  azureEnvKey: "ZmVycnlTY2FuQXp1cmVFbnZLZXkwMDA3K1pxPT0=",
  sasSig: "ferryScanSasSig0008+Zq/x=",
  gcsKeyId: "ferryscangcskeyid0009",
  githubToken: "ghp_ferryScanGithubToken000000000010",
  optionSecret: "ferryScanOptionSecret/0011+Zq",
  optionToken: "ghp_ferryScanOptionToken00000000000012",
  passphrase: "ferryScanPassphrase/0013@Zq",
  urlPassword: "ferryScanUrlPass/0014@Zq",
  urlKeyId: "AKIAFERRYSCANURL00015",
  urlSig: "ferryScanUrlSig0016+Zq=",
} as const;

/** The secret names found in `text` (raw or URL-encoded, or the GCS private key or any of its lines). */
function leaks(text: string): string[] {
  const found: string[] = [];
  for (const [name, value] of Object.entries(SECRETS)) {
    if (text.includes(value) || text.includes(encodeURIComponent(value))) found.push(name);
  }
  const keyLines = gcsPrivateKey.split("\n").filter((line) => line.length > 20 && !line.startsWith("-----"));
  if (keyLines.some((line) => text.includes(line))) found.push("gcsPrivateKey");
  return found;
}

function filesBelow(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const full = join(entry.parentPath, entry.name);
    if (entry.isFile() && statSync(full).size < 5_000_000) out.push(full);
  }
  return out;
}

let backends: AllBackends;
let s3rver: AllBackends["s3rver"];
let azurite: AllBackends["azurite"];
let gcsServer: AllBackends["gcsServer"];
let githubServer: AllBackends["githubServer"];
let sshd: AllBackends["sshd"];
let home: string;
let work: string;
let credentialsFile: string;
let serviceAccountFile: string;
/** What every scanned file was before the commands ran (the test's own credential files). */
let planted: Set<string>;

beforeAll(async () => {
  backends = await startAllBackends();
  ({ s3rver, azurite, gcsServer, githubServer, sshd } = backends);
  home = await makeTemp("scan-home");
  work = await makeTemp("scan-work");
  await mkdir(join(home, ".aws"), { recursive: true });
  credentialsFile = join(home, ".aws", "credentials");
  await writeFile(
    credentialsFile,
    `[scan]\naws_access_key_id = ${SECRETS.profileKeyId}\naws_secret_access_key = ${SECRETS.profileSecret}\n`,
  );
  await writeFile(join(home, ".aws", "config"), "[profile scan]\nregion = us-east-1\n");
  serviceAccountFile = join(home, "service-account.json");
  await writeFile(
    serviceAccountFile,
    JSON.stringify({
      type: "service_account",
      project_id: "ferry-test-project",
      private_key_id: SECRETS.gcsKeyId,
      private_key: gcsPrivateKey,
      client_email: "scan@ferry-test-project.iam.gserviceaccount.com",
      client_id: "1",
      token_uri: `${gcsServer.endpoint}/token`,
    }),
  );
  await writeFile(join(work, "upload.txt"), "some bytes\n");
  planted = new Set([credentialsFile, serviceAccountFile]);
}, 120_000);

afterAll(async () => {
  await backends?.stop();
  await removeTemp(home);
  await removeTemp(work);
});

/** The environment every CLI run gets: all credentials at once, debug logging on, a private home. */
function baseEnv(): Record<string, string> {
  return {
    HOME: home,
    NODE_DEBUG: "ferry:*",
    AWS_ENDPOINT_URL: s3rver.endpoint,
    AWS_ENDPOINT_URL_S3: s3rver.endpoint,
    AWS_REGION: "us-east-1",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_ACCESS_KEY_ID: SECRETS.awsKeyId,
    AWS_SECRET_ACCESS_KEY: SECRETS.awsSecret,
    AWS_SESSION_TOKEN: SECRETS.awsSession,
    AZURE_STORAGE_CONNECTION_STRING: `DefaultEndpointsProtocol=http;AccountName=${azurite.accountName};AccountKey=${SECRETS.azureKey};BlobEndpoint=${azurite.blobEndpoint};`,
    AZURE_STORAGE_KEY: SECRETS.azureEnvKey,
    AZURE_STORAGE_SAS_TOKEN: `sv=2022-11-02&ss=b&srt=sco&sp=rl&se=2099-01-01T00:00:00Z&sig=${encodeURIComponent(SECRETS.sasSig)}`,
    GOOGLE_APPLICATION_CREDENTIALS: serviceAccountFile,
    STORAGE_EMULATOR_HOST: gcsServer.endpoint,
    GITHUB_TOKEN: SECRETS.githubToken,
    GITHUB_API_URL: githubServer.baseUrl,
    FERRY_LOCAL_REGISTRY: join(work, "registry"),
  };
}

/** Failing commands: one per way a credential reaches ferry, each run plain and with --json. */
function failingCommands(): { args: string[]; env?: Record<string, string> }[] {
  const sshHost = sshd ? `${sshd.host}:${sshd.port}` : "127.0.0.1:1";
  return [
    { args: ["cp", "upload.txt", "s3://ferry-scan-missing/x"] },
    { args: ["stat", `s3://${SECRETS.urlKeyId}:${SECRETS.urlPassword}@ferry-scan-missing/x`] },
    {
      args: ["ls", "s3://ferry-scan-missing/x"],
      env: { AWS_PROFILE: "scan", AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "", AWS_SESSION_TOKEN: "" },
    },
    { args: ["cp", "upload.txt", "az://ferry-scan-missing/x"] },
    { args: ["ls", `az://acct:${SECRETS.urlPassword}/x@ferry-scan`] },
    {
      args: [
        "ls",
        `https://${azurite.accountName}.blob.core.windows.net/ferry-scan/x?sv=2022-11-02&sig=${encodeURIComponent(SECRETS.urlSig)}`,
      ],
    },
    { args: ["ls", "gs://ferry-scan-missing/x"] },
    { args: ["cp", "upload.txt", "github://ferry-scan/missing@main/x"] },
    { args: ["ls", `sftp://root:${SECRETS.urlPassword}@${sshHost}/x`] },
    // Run logs and the catalog: a run whose catalog cannot be written, and one named with a password.
    { args: ["run", "--catalog", "s3://ferry-scan-missing/catalog", "--put", "upload.txt", "--", "true"] },
    {
      args: [
        "run",
        "--catalog",
        `s3://${SECRETS.urlKeyId}:${SECRETS.urlPassword}@ferry-scan-missing/catalog`,
        "--put",
        "upload.txt",
        "--",
        "true",
      ],
    },
  ];
}

describe("secret scan", () => {
  it("no failing CLI command prints or saves a credential, with or without --json", async () => {
    const report: string[] = [];
    const runs = failingCommands().flatMap((command) =>
      [false, true].map((json) => ({
        args: json ? [command.args[0]!, "--json", ...command.args.slice(1)] : command.args,
        env: { ...baseEnv(), ...command.env },
      })),
    );
    // Two at a time: each run is a fresh process, mostly start-up time.
    for (let index = 0; index < runs.length; index += 2) {
      const batch = runs.slice(index, index + 2);
      const results = await Promise.all(batch.map(({ args, env }) => runFerry(args, { cwd: work, env })));
      for (const [position, run] of results.entries()) {
        const args = batch[position]!.args;
        // Every one of these fails: the scan is only meaningful if the error paths ran.
        expect(run.code, `${args.join(" ")}\n${run.stderr}`).not.toBe(0);
        const found = leaks(`${run.stdout}\n${run.stderr}`);
        if (found.length > 0)
          report.push(`ferry ${args.join(" ")} → ${found.join(", ")}\n${run.stdout}${run.stderr}`);
      }
    }
    for (const file of [...filesBelow(home), ...filesBelow(work)]) {
      if (planted.has(file)) continue;
      const found = leaks(readFileSync(file, "utf8"));
      if (found.length > 0) report.push(`${file} → ${found.join(", ")}`);
    }
    expect(report).toEqual([]);
  }, 240_000);

  it("no failing library call carries a credential in its message, stack, JSON, inspection or cause chain", async () => {
    const passphraseKey = sshd?.passphraseKey;
    const instance = new PluginRegistry()
      .use(
        s3({
          endpoint: s3rver.endpoint,
          region: "us-east-1",
          forcePathStyle: true,
          credentials: { accessKeyId: SECRETS.urlKeyId, secretAccessKey: SECRETS.optionSecret },
        }),
      )
      .use(
        azure({
          connectionString: `DefaultEndpointsProtocol=http;AccountName=${azurite.accountName};AccountKey=${SECRETS.azureKey};BlobEndpoint=${azurite.blobEndpoint};`,
        }),
      )
      .use(
        gcs({
          apiEndpoint: gcsServer.endpoint,
          projectId: "ferry-test-project",
          credentials: {
            client_email: "scan@ferry-test-project.iam.gserviceaccount.com",
            private_key: gcsPrivateKey,
          },
        }),
      )
      .use(github({ token: SECRETS.optionToken, baseUrl: githubServer.baseUrl }))
      .use(
        sftp({
          ...(passphraseKey
            ? { privateKey: passphraseKey.privateKey, passphrase: SECRETS.passphrase, agent: false }
            : {}),
          knownHosts: sshd?.knownHostsPath ?? join(home, "known_hosts"),
        }),
      );
    const at = (url: string) => instance.storageFor(parseLocation(url));
    const stat = (url: string) => () => at(url).then((storage) => storage.stat("x"));
    const write = (url: string) => () => at(url).then((storage) => storage.write("x", "bytes"));
    const calls: [string, () => Promise<unknown>][] = [
      ["s3 stat", stat("s3://ferry-scan-missing")],
      ["s3 write", write("s3://ferry-scan-missing")],
      ["s3 url credentials", () => at(`s3://${SECRETS.urlKeyId}:${SECRETS.optionSecret}@b/x`)],
      ["azure stat", stat("az://ferry-scan-missing")],
      ["azure write", write("az://ferry-scan-missing")],
      ["gcs stat", stat("gs://ferry-scan-missing")],
      ["github stat", stat("github://ferry-scan/missing@main")],
    ];
    if (sshd)
      calls.push(["sftp with a wrong passphrase", stat(`sftp://${sshd.user}@${sshd.host}:${sshd.port}/tmp`)]);
    const report: string[] = [];
    try {
      for (const [name, call] of calls) {
        const error = await Promise.resolve()
          .then(call)
          .then(
            () => undefined,
            (caught: unknown) => caught,
          );
        expect(error, `${name} should fail`).toBeInstanceOf(Error);
        const renderings: string[] = [];
        for (let link: unknown = error, depth = 0; link instanceof Error && depth < 10; depth += 1) {
          renderings.push(link.message, link.stack ?? "");
          link = link.cause;
        }
        renderings.push(JSON.stringify(error), inspect(error, { depth: 12 }), String(error));
        const found = leaks(renderings.join("\n"));
        if (found.length > 0) report.push(`${name} → ${found.join(", ")}\n${inspect(error, { depth: 12 })}`);
      }
    } finally {
      await instance.close();
    }
    expect(report).toEqual([]);
  }, 120_000);
});
