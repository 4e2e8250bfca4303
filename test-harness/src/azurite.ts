/**
 * azurite-blob 3.36.0 as a child process on 127.0.0.1, persisting to a temporary directory removed
 * at stop, with the emulator's well-known development account.
 */
import { createHmac } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  type Backend,
  freePort,
  HOST,
  spawnBackend,
  uniqueName,
  waitForPort,
  waitUntil,
} from "./lifecycle.ts";

export interface AzuriteBackend extends Backend {
  readonly connectionString: string;
  readonly accountName: string;
  /** The emulator's published development key (not a secret). */
  readonly accountKey: string;
  /** `http://127.0.0.1:<port>/devstoreaccount1` */
  readonly blobEndpoint: string;
  /** Create a container (a fresh `ferry-test-<hex>` name by default) and return its name. */
  createContainer(name?: string): Promise<string>;
  /** The server process and its data directory (both gone after stop). */
  readonly pid: number;
  readonly dataDirectory: string;
}

const ACCOUNT_NAME = "devstoreaccount1";
const ACCOUNT_KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const API_VERSION = "2025-01-05";

const require = createRequire(import.meta.url);

function azuriteBlobBin(): string {
  const packageJson = require.resolve("azurite/package.json");
  const manifest = require(packageJson) as { bin: Record<string, string> };
  return join(dirname(packageJson), manifest.bin["azurite-blob"]!);
}

export async function startAzurite(): Promise<AzuriteBackend> {
  const location = await mkdtemp(join(tmpdir(), "ferry-azurite-"));
  const port = await freePort();
  const blobEndpoint = `http://${HOST}:${port}/${ACCOUNT_NAME}`;
  const child = spawnBackend(
    "azurite-blob",
    process.execPath,
    [
      azuriteBlobBin(),
      "--location",
      location,
      "--blobHost",
      HOST,
      "--blobPort",
      String(port),
      "--skipApiVersionCheck",
      "--loose",
      "--disableTelemetry",
      "--silent",
    ],
    { cwd: location },
  );
  let stopped: Promise<void> | undefined;
  const backend: AzuriteBackend = {
    name: "azurite-blob",
    pid: child.process.pid ?? -1,
    dataDirectory: location,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT_NAME};AccountKey=${ACCOUNT_KEY};BlobEndpoint=${blobEndpoint};`,
    accountName: ACCOUNT_NAME,
    accountKey: ACCOUNT_KEY,
    blobEndpoint,
    logs: () => child.logs(),
    async createContainer(name = uniqueName()) {
      const response = await signedRequest(
        "PUT",
        `${blobEndpoint}/${name}?restype=container`,
        `/${name}\nrestype:container`,
      );
      if (response.status !== 201) {
        throw new Error(
          `azurite could not create container ${name}: ${response.status} ${await response.text()}`,
        );
      }
      return name;
    },
    stop() {
      stopped ??= (async () => {
        await child.stop();
        await rm(location, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
  try {
    await waitForPort(port, { what: "azurite-blob" });
    await waitUntil(
      async () => {
        if (child.process.exitCode !== null) throw new Error(`azurite-blob exited early:\n${child.logs()}`);
        const response = await signedRequest("GET", `${blobEndpoint}/?comp=list`, "/\ncomp:list");
        return response.status === 200;
      },
      { what: "azurite-blob" },
    );
  } catch (error) {
    await backend.stop();
    throw error;
  }
  return backend;
}

/**
 * One Shared Key–signed request without a body. The harness has no Azure SDK of its own (that is
 * the plugin's dependency), and creating a container is a single signed PUT.
 * `resource` is the path below the account plus canonicalised query lines, e.g. `/c\nrestype:container`.
 */
async function signedRequest(method: string, url: string, resource: string): Promise<Response> {
  const date = new Date().toUTCString();
  const canonicalHeaders = `x-ms-date:${date}\nx-ms-version:${API_VERSION}\n`;
  const stringToSign = `${method}\n\n\n\n\n\n\n\n\n\n\n\n${canonicalHeaders}/${ACCOUNT_NAME}/${ACCOUNT_NAME}${resource}`;
  const signature = createHmac("sha256", Buffer.from(ACCOUNT_KEY, "base64"))
    .update(stringToSign, "utf8")
    .digest("base64");
  return fetch(url, {
    method,
    headers: {
      "x-ms-date": date,
      "x-ms-version": API_VERSION,
      authorization: `SharedKey ${ACCOUNT_NAME}:${signature}`,
    },
  });
}
