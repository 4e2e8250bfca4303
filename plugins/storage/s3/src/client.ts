/**
 * The S3 client: the AWS SDK, loaded on first use (importing @ferry/storage-s3 costs nothing until a
 * storage actually talks to S3), and one client per plugin instance, shared by every bucket it opens
 * and destroyed with the last one closed, together with the connection pool of the lean reads. A
 * caller's own client (`s3({ client })`) is used as it is and never destroyed.
 */
import type * as ClientS3 from "@aws-sdk/client-s3";
import type { S3Client, S3ClientConfig } from "@aws-sdk/client-s3";
import type * as Presigner from "@aws-sdk/s3-request-presigner";
import { idleAgents, idleTimeoutMs, lazyImport } from "@ferry/plugin-kit";
import type { Dispatcher } from "undici";
import { clientConfig, type S3Options } from "./options.ts";

export type S3Sdk = typeof ClientS3;
export type PresignerSdk = typeof Presigner;

let presigner: Promise<PresignerSdk> | undefined;

/** The SDK, loaded on first use (PluginMissing naming it when it is not installed). */
export const loadSdk: () => Promise<S3Sdk> = lazyImport(
  () => import("@aws-sdk/client-s3"),
  "@aws-sdk/client-s3",
);

export function loadPresigner(): Promise<PresignerSdk> {
  presigner ??= import("@aws-sdk/s3-request-presigner");
  return presigner;
}

/** Per-request options: the caller's AbortSignal, when there is one. */
export function requestOptions(signal: AbortSignal | undefined): { abortSignal?: AbortSignal } {
  return signal ? { abortSignal: signal } : {};
}

/**
 * A client from `config`. When neither the options nor the SDK's chain (environment, profile, instance
 * metadata) name a region, a custom endpoint still works: S3-compatible servers ignore the region, so
 * `us-east-1` signs the requests. Without an endpoint the SDK's "Region is missing" error stands.
 */
export async function createClient(sdk: S3Sdk, config: S3ClientConfig): Promise<S3Client> {
  const client = withUnsignedUploads(new sdk.S3Client(config));
  if (config.region !== undefined || config.endpoint === undefined) return client;
  try {
    await client.config.region();
    return client;
  } catch {
    client.destroy();
    return withUnsignedUploads(new sdk.S3Client({ ...config, region: "us-east-1" }));
  }
}

/** Uploads whose every request carries Content-MD5. */
const MD5_CHECKED_UPLOADS = new Set(["PutObjectCommand", "UploadPartCommand"]);

/**
 * Upload bodies are not hashed into the signature (`x-amz-content-sha256: UNSIGNED-PAYLOAD`, which
 * the SDK already uses over HTTPS): ferry sends a signed Content-MD5 with every part and PutObject,
 * and S3 rejects a body that does not match it, so on a plain-HTTP endpoint a SHA-256 of every byte
 * would add a pass over the data and no protection. Only clients ferry creates are changed.
 */
function withUnsignedUploads(client: S3Client): S3Client {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const headers = (args.request as { headers?: Record<string, string> }).headers;
      if (headers && MD5_CHECKED_UPLOADS.has(context.commandName ?? "") && headers["content-md5"])
        headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD";
      return next(args);
    },
    { step: "build", name: "ferryUnsignedUploads" },
  );
  return client;
}

/** Connections per origin for lean reads: the SDK's own default `maxSockets`. */
const LEAN_CONNECTIONS = 50;

/** What a driver asks of the plugin's client. */
export interface ClientHandle {
  client(): Promise<{ client: S3Client; sdk: S3Sdk }>;
  /**
   * The connection pool for reads that bypass the per-command middleware (lean/get.ts); undefined
   * turns them off (a caller's own client, or `leanReads: false`).
   */
  leanDispatcher(): Promise<Dispatcher | undefined>;
  /** The idle timeout in ms of the lean reads' dispatcher (0 or absent: none). */
  idleTimeoutMs?(): number;
  /** Static credential values to keep out of messages. */
  secrets(): readonly string[];
}

/** The plugin instance's client, counted: `open()` per driver made, `release()` per driver closed. */
export interface SharedClient extends ClientHandle {
  open(): void;
  /** Called once per closed driver; the last one destroys the client ferry made and the lean pool. */
  release(): Promise<void>;
}

/** The client of one `s3(options)`, made on first use. */
export function sharedClient(options: S3Options): SharedClient {
  const ownsClient = options.client === undefined;
  const timeoutMs = () => idleTimeoutMs(options.timeout);
  let pending: Promise<{ client: S3Client; sdk: S3Sdk }> | undefined;
  let lean: Promise<Dispatcher> | undefined;
  let open = 0;
  return {
    leanDispatcher() {
      if (!ownsClient || options.leanReads === false) return Promise.resolve(undefined);
      lean ??= import("undici").then(({ Agent }) => {
        // undici's own timers are its idle timeout: headers (the server's silence before it answers) and
        // body (silence between chunks). 0 turns both off, as it does for the SDK's requests.
        const idle = timeoutMs();
        return new Agent({ connections: LEAN_CONNECTIONS, headersTimeout: idle, bodyTimeout: idle });
      });
      return lean;
    },
    client() {
      pending ??= (async () => {
        const sdk = await loadSdk();
        if (options.client) return { client: options.client, sdk };
        const agents = idleAgents({ timeoutMs, system: "s3" });
        const config = {
          ...clientConfig(options),
          requestHandler: { httpAgent: agents.http, httpsAgent: agents.https },
        };
        return { client: await createClient(sdk, config), sdk };
      })();
      return pending;
    },
    idleTimeoutMs: timeoutMs,
    secrets() {
      const credentials = options.credentials;
      if (credentials === undefined || typeof credentials === "function") return [];
      return [credentials.accessKeyId, credentials.secretAccessKey, credentials.sessionToken ?? ""].filter(
        Boolean,
      );
    },
    open() {
      open += 1;
    },
    async release() {
      open -= 1;
      if (open === 0 && ownsClient && pending) {
        const { client } = await pending;
        pending = undefined;
        client.destroy();
      }
      if (open === 0 && lean) {
        const dispatcher = await lean;
        lean = undefined;
        await dispatcher.close();
      }
    },
  };
}
