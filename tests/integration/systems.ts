/**
 * Every storage system ferry ships, each against its real backend on 127.0.0.1, as a transfer
 * destination: a storage for the library, and a URL plus environment for the `ferry` command.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createStorage,
  local,
  localStorage,
  PluginRegistry,
  parseLocation,
  type TransferEndpoint,
} from "@ferry/core";
import type { Storage, StoragePlugin } from "@ferry/plugin-kit";
import { azure } from "@ferry/storage-azure";
import { gcs } from "@ferry/storage-gcs";
import { github } from "@ferry/storage-github";
import { s3 } from "@ferry/storage-s3";
import { sftpStorage } from "@ferry/storage-sftp";
import {
  type Backend,
  s3ClientEnv,
  sshdSkipReason,
  startAzurite,
  startGcsServer,
  startGithubServer,
  startS3rver,
  startSshd,
} from "@ferry/test-harness";

export interface Destination {
  /** The destination's storage, to read back what arrived under `path`. */
  storage: Storage;
  /** Where the library copies to: a path on local disk (as a user passes one), else `{ storage, path }`. */
  target: TransferEndpoint;
  /** The same place for the `ferry` command, and the environment it needs to get there. */
  url: string;
  env: Record<string, string>;
  /** The registry the library calls use (it resolves the local source). */
  registry: PluginRegistry;
}

export interface System {
  name: string;
  /** Why it cannot run on this machine, or undefined. */
  skip?: string | undefined;
  /** Start the backend; `fresh()` then gives an empty destination each time. */
  start(): Promise<{ fresh(): Promise<Destination>; stop(): Promise<void> }>;
}

let counter = 0;
const nextName = (prefix: string) => `${prefix}-${process.pid}-${++counter}`;

/** Where every system's destination tree lives inside its storage. */
export const PREFIX = "m";

const onStorage = (storage: Storage, rest: Omit<Destination, "storage" | "target">): Destination => ({
  storage,
  target: { storage, path: PREFIX },
  ...rest,
});

const registryWith = (...plugins: StoragePlugin[]) =>
  new PluginRegistry({ lazy: false }).use(local(), ...plugins);

/** Environment for the CLI without settings that could point it at other servers. */
function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || /^(AWS_|AZURE_|GITHUB_|GH_|STORAGE_EMULATOR|GOOGLE_|FERRY_)/.test(key))
      continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

function closing(backends: Backend[], cleanup: () => void = () => {}) {
  return async () => {
    await Promise.all(backends.map((backend) => backend.stop()));
    cleanup();
  };
}

export const SYSTEMS: System[] = [
  {
    name: "local disk",
    async start() {
      const root = mkdtempSync(join(tmpdir(), "ferry-model-local-"));
      return {
        async fresh() {
          const dir = join(root, nextName("dst"));
          return {
            storage: localStorage(dir),
            target: join(dir, PREFIX),
            url: join(dir, PREFIX),
            env: cleanEnv({}),
            registry: registryWith(),
          };
        },
        stop: async () => rmSync(root, { recursive: true, force: true }),
      };
    },
  },
  {
    name: "S3 (s3rver)",
    async start() {
      const server = await startS3rver();
      const options = {
        endpoint: server.endpoint,
        region: server.region,
        credentials: { ...server.credentials },
        // s3rver ignores If-None-Match; declared, as the plugin's own tests do.
        capabilities: { conditionalWrite: false },
      };
      return {
        async fresh() {
          const bucket = await server.createBucket();
          const plugin = s3(options);
          return onStorage(createStorage(await plugin.create(parseLocation(`s3://${bucket}/`))), {
            url: `s3://${bucket}/${PREFIX}`,
            env: cleanEnv(s3ClientEnv(server, {})),
            registry: registryWith(plugin),
          });
        },
        stop: closing([server]),
      };
    },
  },
  {
    name: "GCS (harness server)",
    async start() {
      const server = await startGcsServer();
      const plugin = gcs({ apiEndpoint: server.endpoint, projectId: server.projectId });
      return {
        async fresh() {
          const bucket = server.createBucket();
          return onStorage(createStorage(await plugin.create(parseLocation(`gs://${bucket}`))), {
            url: `gs://${bucket}/${PREFIX}`,
            env: cleanEnv({ STORAGE_EMULATOR_HOST: server.endpoint, GOOGLE_CLOUD_PROJECT: server.projectId }),
            registry: registryWith(plugin),
          });
        },
        stop: closing([server]),
      };
    },
  },
  {
    name: "Azure Blob (azurite)",
    async start() {
      const server = await startAzurite();
      const plugin = azure({ connectionString: server.connectionString });
      return {
        async fresh() {
          const container = await server.createContainer();
          return onStorage(createStorage(await plugin.create(parseLocation(`az://${container}`))), {
            url: `az://${container}/${PREFIX}`,
            env: cleanEnv({ AZURE_STORAGE_CONNECTION_STRING: server.connectionString }),
            registry: registryWith(plugin),
          });
        },
        stop: closing([server]),
      };
    },
  },
  {
    name: "SFTP (OpenSSH sshd)",
    skip: sshdSkipReason(),
    async start() {
      const server = await startSshd();
      const open: Storage[] = [];
      return {
        async fresh() {
          const root = server.makeRoot();
          const storage = await sftpStorage({
            host: server.host,
            port: server.port,
            user: server.user,
            privateKeyPath: server.privateKeyPath,
            knownHosts: server.knownHostsPath,
            agent: false,
            root,
          });
          open.push(storage);
          return onStorage(storage, {
            url: `${server.alias}:${root}/${PREFIX}`,
            env: cleanEnv({ FERRY_SSH_CONFIG: server.sshConfigPath }),
            registry: registryWith(),
          });
        },
        async stop() {
          await Promise.all(open.map((storage) => storage.close()));
          await server.stop();
        },
      };
    },
  },
  {
    name: "GitHub (harness server)",
    async start() {
      const server = await startGithubServer();
      // The `ferry` command commits from another process: read back with no cached branch head.
      const plugin = github({ baseUrl: server.baseUrl, token: server.token, treeCacheTtl: 0 });
      return {
        async fresh() {
          const name = nextName("model");
          await server.createRepo("octo", name, { files: {} });
          return onStorage(createStorage(await plugin.create(parseLocation(`github://octo/${name}`))), {
            url: `github://octo/${name}/${PREFIX}`,
            env: cleanEnv({ GITHUB_API_URL: server.baseUrl, GITHUB_TOKEN: server.token }),
            registry: registryWith(plugin),
          });
        },
        stop: closing([server]),
      };
    },
  },
];
