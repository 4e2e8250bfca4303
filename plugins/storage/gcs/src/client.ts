/**
 * The client and its lifetime. @google-cloud/storage is loaded and the client made on first use
 * (importing @ferry/storage-gcs costs nothing until a storage talks to GCS), once per plugin
 * instance and shared by its buckets; so is the connection ferry's own upload requests use, which
 * is ended when the last driver using it closes. A caller's own `storage` is used as given.
 */
import { idleAgents, idleTimeoutMs, lazyImport, registerSecret } from "@ferry/plugin-kit";
import type * as GcsSdk from "@google-cloud/storage";
import type { Storage } from "@google-cloud/storage";
import { checkCredentials, clientSetup, type GcsOptions } from "./options.ts";
import type { UploadConnection } from "./upload/request.ts";

export type Sdk = typeof GcsSdk;

/** The SDK, loaded on first use (PluginMissing naming it when it is not installed). */
export const loadSdk: () => Promise<Sdk> = lazyImport(
  () => import("@google-cloud/storage"),
  "@google-cloud/storage",
);

/** One plugin instance's client, shared by every bucket it opens. */
export class GcsClient {
  readonly #options: GcsOptions;
  #storage: Promise<Storage> | undefined;
  #uploads: Promise<UploadConnection> | undefined;
  /** Drivers open on this client. */
  #users = 0;

  constructor(options: GcsOptions) {
    this.#options = options;
    const privateKey = options.credentials?.private_key;
    if (typeof privateKey === "string") registerSecret(privateKey);
    idleTimeoutMs(options.timeout, "gcs(): timeout"); // a malformed timeout fails here, not on first use
  }

  /** The storage client, made on first use; a failure to make it is not kept. */
  client(): Promise<Storage> {
    this.#storage ??= this.#options.storage ? Promise.resolve(this.#options.storage) : this.#create();
    this.#storage.catch(() => {
      this.#storage = undefined;
    });
    return this.#storage;
  }

  async #create(): Promise<Storage> {
    checkCredentials(this.#options);
    const { Storage, IdempotencyStrategy } = await loadSdk();
    const setup = clientSetup(this.#options);
    const storage = new Storage({
      ...setup.options,
      // Retry every call the client can retry, including deletes without a generation: deletes
      // ignore 404 and rewrites are repeatable, so the default "only with preconditions" strategy
      // guards against nothing here.
      retryOptions: { idempotencyStrategy: IdempotencyStrategy.RetryAlways },
      // The client's own timeout is an idle timeout: the socket's, then the gap between body chunks.
      timeout: this.idleTimeoutMs(),
    });
    if (setup.baseUrl) storage.baseUrl = setup.baseUrl;
    return storage;
  }

  /** Where ferry's own upload requests go, over connections with the idle timeout. */
  uploads(): Promise<UploadConnection> {
    this.#uploads ??= this.client().then((storage) => uploadConnection(storage, () => this.idleTimeoutMs()));
    this.#uploads.catch(() => {
      this.#uploads = undefined;
    });
    return this.#uploads;
  }

  /** The idle timeout in ms (0: none), asked at each use: `setIdleTimeout()` may change it. */
  idleTimeoutMs(): number {
    return idleTimeoutMs(this.#options.timeout);
  }

  /** `host:port` of the API endpoint, for the stall error. */
  host(): string {
    return new URL(clientSetup(this.#options).options.apiEndpoint ?? "https://storage.googleapis.com").host;
  }

  /** Values never to appear in messages. */
  secrets(): readonly string[] {
    const key = this.#options.credentials?.private_key;
    return typeof key === "string" ? [key] : [];
  }

  /**
   * A driver starts using the client; it calls the function it gets back (once or more) when it
   * closes, and the last one to close ends the upload connection's pooled sockets.
   */
  open(): () => Promise<void> {
    this.#users += 1;
    let closed = false;
    return async () => {
      if (closed) return;
      closed = true;
      this.#users -= 1;
      const uploads = this.#uploads;
      if (this.#users > 0 || uploads === undefined) return;
      this.#uploads = undefined;
      await uploads.then(closeUploadConnection, () => undefined);
    };
  }
}

/**
 * Uploads go to the client's endpoint with the client's credentials, through keep-alive agents whose
 * sockets carry the idle timeout. An emulator or custom endpoint gets no credentials unless the
 * client was built with `useAuthWithCustomEndpoint`, as the client itself does.
 */
function uploadConnection(storage: Storage, timeoutMs: () => number): UploadConnection {
  const anonymous = storage.customEndpoint && !storage.useAuthWithCustomEndpoint;
  return {
    endpoint: storage.apiEndpoint.replace(/\/+$/, ""),
    agents: idleAgents({ timeoutMs, system: "gs" }),
    async authHeaders(url) {
      if (anonymous) return {};
      return Object.fromEntries(new Headers(await storage.authClient.getRequestHeaders(url)));
    },
  };
}

function closeUploadConnection(connection: UploadConnection): void {
  connection.agents.http.destroy();
  connection.agents.https.destroy();
}
