/**
 * One request of ferry's own to the JSON API, over the plugin's idle-watched agents (core's
 * idleAgents): a connection that passes no byte either way for the idle timeout is destroyed and the
 * request fails with the stall error itself, which `mapGcsError` names ("no data from HOST for 60 s
 * while writing gs://bucket/key"). Uploads go this way because @google-cloud/storage sends them
 * through gaxios, which has no idle timeout.
 */
import { type Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { type Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import { findStall, isNetworkError } from "@ferry/plugin-kit";

/** Where uploads go and how they authenticate: made once per client (client.ts). */
export interface UploadConnection {
  /** JSON API endpoint, e.g. `https://storage.googleapis.com` or `http://127.0.0.1:4443`. */
  endpoint: string;
  agents: { http: HttpAgent; https: HttpsAgent };
  /** Authorization headers for a request to `url` (none for an emulator). */
  authHeaders(url: string): Promise<Record<string, string>>;
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface Call {
  method: "POST" | "PUT" | "DELETE";
  url: string;
  headers?: Record<string, string>;
  /** Sent in this order (a multipart body's parts without copying them into one). */
  body?: readonly Buffer[];
  signal?: AbortSignal | undefined;
}

/** Sends `call` and reads the whole answer (every answer here is a short JSON body or none). */
export async function send(connection: UploadConnection, call: Call): Promise<Answer> {
  const url = new URL(call.url);
  const headers = {
    ...(await connection.authHeaders(call.url)),
    ...call.headers,
    "content-length": String((call.body ?? []).reduce((sum, part) => sum + part.length, 0)),
  };
  call.signal?.throwIfAborted();
  const secure = url.protocol === "https:";
  return new Promise<Answer>((resolve, reject) => {
    const options = {
      method: call.method,
      headers,
      ...(call.signal ? { signal: call.signal } : {}),
    };
    const request = secure
      ? httpsRequest(url, { ...options, agent: connection.agents.https })
      : httpRequest(url, { ...options, agent: connection.agents.http });
    // Listeners stay for the request's whole life: a late error (a stall after the answer) is never unhandled.
    request.on("error", reject);
    request.on("response", (response) => {
      const chunks: Buffer[] = [];
      response.on("error", reject);
      // Closed before its end: the connection was lost mid-answer.
      response.on("close", () => {
        if (!response.complete) reject(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }));
      });
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }),
      );
    });
    for (const part of call.body ?? []) request.write(part);
    request.end();
  });
}

/** The JSON API's error answer in the shape errors.ts maps (`code` the HTTP status, `errors` the reasons). */
export function apiError(answer: Answer): Error {
  let detail: { message?: string; errors?: { reason?: string; message?: string }[] } = {};
  try {
    detail = (JSON.parse(answer.body.toString("utf8")) as { error?: typeof detail }).error ?? {};
  } catch {
    // not JSON: the status says enough
  }
  const error = new Error(detail.message ?? `HTTP ${answer.status}`);
  error.name = "GcsApiError";
  return Object.assign(error, { code: answer.status, errors: detail.errors ?? [] });
}

/** The object resource of a completed upload. */
export function objectOf<T>(answer: Answer): T {
  try {
    return JSON.parse(answer.body.toString("utf8")) as T;
  } catch {
    throw Object.assign(new Error("the upload's answer is not an object resource (not JSON)"), {
      code: answer.status,
    });
  }
}

/**
 * Worth asking again, as the client's own retry does: 408, 429 and 5xx, and a connection lost or
 * refused. Not a stall (the transfer engine retries the file, after the idle timeout it waited for
 * once), nor an abort.
 */
export function retryable(error: unknown): boolean {
  if (findStall(error)) return false;
  const { code, name } = (error ?? {}) as { code?: unknown; name?: unknown };
  if (name === "AbortError") return false;
  if (typeof code === "number") return code === 408 || code === 429 || code >= 500;
  return isNetworkError(code);
}

/** Tries after the first, and the first back-off (doubled each time), as the client's defaults. */
export const RETRIES = 3;
const FIRST_DELAY_MS = 500;

/** Waits before retry number `attempt` (1-based); an abort ends the wait. */
export async function backOff(attempt: number, signal: AbortSignal | undefined): Promise<void> {
  await sleep(FIRST_DELAY_MS * 2 ** (attempt - 1), undefined, signal ? { signal } : {});
}

/** `action` again while it fails with a retryable error, up to RETRIES more times. */
export async function withRetries<T>(signal: AbortSignal | undefined, action: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await action();
    } catch (error) {
      if (attempt > RETRIES || !retryable(error) || signal?.aborted) throw error;
      await backOff(attempt, signal);
    }
  }
}
