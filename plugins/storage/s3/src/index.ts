/**
 * @ferry/storage-s3 — Amazon S3 and S3-compatible servers for ferry.
 *
 * ```ts
 * import { s3 } from "@ferry/storage-s3";
 * ferry.use(s3({ region: "eu-west-1" }));
 * ```
 */

import type { S3Client } from "@aws-sdk/client-s3";
import {
  baseCapabilities,
  type Capabilities,
  defaultRoot,
  errors,
  idleAgents,
  idleTimeoutMs,
  type Location,
  registerSecret,
  type StoragePlugin,
} from "@ferry/core";
import type { Dispatcher } from "undici";
import { createClient, loadSdk, type S3Sdk } from "./client.ts";
import { type ClientHandle, S3Driver } from "./driver.ts";
import { clientConfig, GiB, MiB, resolveOptions, type S3Options } from "./options.ts";

/** Connections per origin for lean reads: the SDK's own default `maxSockets`. */
const LEAN_CONNECTIONS = 50;

export { S3Driver } from "./driver.ts";
export type { S3Options } from "./options.ts";
export { needsPathStyle } from "./options.ts";

/** What S3 itself supports; `options.capabilities` may narrow it for a compatible server. */
export function s3Capabilities(options: S3Options = {}): Capabilities {
  const markers = options.directoryMarkers ?? false;
  const resolved = resolveOptions(options);
  const declared: Capabilities = {
    ...baseCapabilities,
    conditionalWrite: true,
    rangeRead: true,
    copy: "native",
    move: "emulated",
    mkdir: markers ? "marker" : false,
    emptyDirectories: markers,
    directories: "virtual",
    hashes: ["md5"],
    checksum: true,
    presign: true,
    listOrder: "lexicographic",
    listRecursive: "native",
    // LastModified is the upload time, to the second; a caller's mtime is not kept.
    mtime: "none",
    mtimePrecisionMs: 1000,
    setMtime: false,
    contentType: true,
    caseInsensitive: false,
    cleanup: true,
    limits: {
      listPageMax: 1000,
      deleteBatchMax: 1000,
      partSizeMin: 5 * MiB,
      partSizeMax: 5 * GiB,
      partSizeDefault: resolved.partSize,
      maxParts: 10_000,
      maxObjectSize: 5 * 1024 * GiB,
      maxKeyBytes: 1024,
    },
  };
  const { limits, ...overrides } = options.capabilities ?? {};
  return { ...declared, ...overrides, limits: { ...declared.limits, ...limits } };
}

/** A ferry storage plugin for `s3://bucket/key` locations. */
export function s3(options: S3Options = {}): StoragePlugin {
  const resolved = resolveOptions(options);
  const capabilities = s3Capabilities(options);
  if (options.credentials !== undefined && typeof options.credentials !== "function") {
    const { accessKeyId, secretAccessKey, sessionToken } = options.credentials;
    registerSecret(accessKeyId, secretAccessKey, sessionToken);
  }
  const ownsClient = options.client === undefined;
  idleTimeoutMs(options.timeout, "s3(): timeout"); // a malformed timeout fails here, not on first use
  const timeoutMs = () => idleTimeoutMs(options.timeout);
  let pending: Promise<{ client: S3Client; sdk: S3Sdk }> | undefined;
  let lean: Promise<Dispatcher> | undefined;
  const handle: ClientHandle = {
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
  };
  let open = 0;
  return {
    name: "s3",
    schemes: ["s3"],
    capabilities,
    defaultRoot: defaultRoot(options.defaultBucket, process.env.FERRY_S3_BUCKET),
    create(location: Location) {
      const bucket = location.bucket ?? location.root;
      if (!bucket)
        throw errors.invalidInput("an s3 location needs a bucket: s3://bucket/key", { system: "s3" });
      open += 1;
      const driver = new S3Driver(bucket, capabilities, handle, resolved);
      let closed = false;
      return Object.assign(driver, {
        async close() {
          if (closed) return;
          closed = true;
          open -= 1;
          // The client is shared by every bucket of this plugin instance; release it with the last one.
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
      });
    },
  };
}

export default s3;
