/**
 * @google-cloud/storage, loaded on first use: importing @ferry/storage-gcs costs nothing until a
 * storage actually talks to GCS; and the connection ferry's own upload requests use.
 */
import { idleAgents } from "@ferry/core";
import type * as GcsSdk from "@google-cloud/storage";
import type { Storage } from "@google-cloud/storage";
import type { UploadConnection } from "./upload/request.ts";

export type Sdk = typeof GcsSdk;

let sdk: Promise<Sdk> | undefined;

export function loadSdk(): Promise<Sdk> {
  sdk ??= import("@google-cloud/storage");
  return sdk;
}

/**
 * Uploads go to the client's endpoint with the client's credentials, through keep-alive agents whose
 * sockets carry the idle timeout. An emulator or custom endpoint gets no credentials unless the
 * client was built with `useAuthWithCustomEndpoint`, as the client itself does.
 */
export function uploadConnection(storage: Storage, timeoutMs: () => number): UploadConnection {
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

/** Ends the connection's pooled sockets. */
export function closeUploadConnection(connection: UploadConnection): void {
  connection.agents.http.destroy();
  connection.agents.https.destroy();
}
