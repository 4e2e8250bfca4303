/**
 * s3rver 3.7.1 as a child process on 127.0.0.1, in a temporary directory removed at stop.
 * A child (not in-process) so the server never competes with the test for the event loop, and so
 * aws-cli, rclone and ferry all talk to the same independent server.
 */
import { mkdtemp } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  type Backend,
  freePort,
  HOST,
  spawnBackend,
  stopAndRemove,
  uniqueName,
  waitUntil,
} from "./lifecycle.ts";

export interface S3Backend extends Backend {
  /** `http://127.0.0.1:<port>`: path-style only. */
  readonly endpoint: string;
  readonly region: string;
  /** s3rver accepts any well-formed signature; these are the values its documentation uses. */
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Create a bucket (a fresh `ferry-test-<hex>` name by default) and return its name. */
  createBucket(name?: string): Promise<string>;
  /** The AWS variables a child process (aws-cli, rclone, ferry's CLI) needs to reach this server. */
  env(): Record<string, string>;
  /** The server process and its data directory (both gone after stop). */
  readonly pid: number;
  readonly dataDirectory: string;
}

const require = createRequire(import.meta.url);

function s3rverBin(): string {
  const packageJson = require.resolve("s3rver/package.json");
  return join(dirname(packageJson), "bin", "s3rver.js");
}

export async function startS3rver(): Promise<S3Backend> {
  const directory = await mkdtemp(join(tmpdir(), "ferry-s3rver-"));
  const port = await freePort();
  const endpoint = `http://${HOST}:${port}`;
  const child = spawnBackend("s3rver", process.execPath, [
    // s3rver encrypts list continuation tokens with DES, which OpenSSL 3 only offers from its legacy
    // provider: without it every truncated listing fails with InternalError.
    "--openssl-legacy-provider",
    // Keeps a PUT racing a DELETE in the same folder from ending the server (see the file).
    "--require",
    join(import.meta.dirname, "s3rver-guard.cjs"),
    s3rverBin(),
    "--directory",
    directory,
    "--address",
    HOST,
    "--port",
    String(port),
    "--no-vhost-buckets",
  ]);
  const region = "us-east-1";
  const credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
  const backend: S3Backend = {
    name: "s3rver",
    pid: child.process.pid ?? -1,
    dataDirectory: directory,
    endpoint,
    region,
    credentials,
    logs: () => child.logs(),
    async createBucket(name = uniqueName()) {
      // s3rver lets unsigned requests through; a bucket is a plain PUT.
      const response = await fetch(`${endpoint}/${encodeURIComponent(name)}`, { method: "PUT" });
      if (!response.ok)
        throw new Error(
          `s3rver could not create bucket ${name}: ${response.status} ${await response.text()}`,
        );
      return name;
    },
    env: () => ({
      AWS_ENDPOINT_URL: endpoint,
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_EC2_METADATA_DISABLED: "true",
      // Newer AWS CLIs default to CRC checksums in aws-chunked bodies, which s3rver would store verbatim.
      AWS_REQUEST_CHECKSUM_CALCULATION: "when_required",
      AWS_RESPONSE_CHECKSUM_VALIDATION: "when_required",
    }),
    stop: stopAndRemove(child, directory),
  };
  try {
    await waitUntil(
      async () => {
        if (child.process.exitCode !== null) throw new Error(`s3rver exited early:\n${child.logs()}`);
        return (await fetch(`${endpoint}/`)).ok;
      },
      { what: "s3rver" },
    );
  } catch (error) {
    await backend.stop();
    throw error;
  }
  return backend;
}

/**
 * The environment for an independent S3 client (aws-cli, rclone) against this backend: the caller's
 * environment without any AWS settings that would point elsewhere (profiles, CA bundles — rclone
 * refuses a CA bundle on a plain-http endpoint), plus the backend's own variables.
 */
export function s3ClientEnv(
  backend: S3Backend,
  base: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(base)) {
    if (value === undefined || key.startsWith("AWS_") || key.startsWith("RCLONE_")) continue;
    env[key] = value;
  }
  return { ...env, ...backend.env() };
}
