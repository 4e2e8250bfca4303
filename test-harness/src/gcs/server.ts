/**
 * `startGcsServer()`: a GCS JSON API server on 127.0.0.1 for the official @google-cloud/storage
 * client, with object bytes on disk in a temporary directory that `stop()` removes.
 */
import { once } from "node:events";
import { mkdtemp } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Backend, HOST, LogTail, track, uniqueName } from "../lifecycle.ts";
import type { GcsContext, GcsRequest, GcsServerSettings } from "./context.ts";
import { GcsError, gcsErrors } from "./errors.ts";
import { drain, isGcsError, parseQuery, sendError } from "./http.ts";
import { RewriteJobs } from "./rewrite.ts";
import { route } from "./routes.ts";
import { GcsStore } from "./store.ts";
import { UploadSessions } from "./uploads.ts";

export interface GcsServerOptions {
  projectId?: string;
  /** See GcsServerSettings.rewriteBytesPerCall; default 1 MiB, so larger copies take several calls. */
  rewriteBytesPerCall?: number;
  /** See GcsServerSettings.credential; default none (every caller is let in). */
  credential?: string;
}

/**
 * A failure to inject into the next matching request(s), to exercise client retries and resumes.
 * `status` answers with that status and a JSON error instead of handling the request;
 * `resetAfterBytes` lets that many body bytes through (a resumable session keeps them) and then
 * drops the connection, as a network failure mid-chunk would; `corruptResponse` flips one bit of the
 * first response body chunk, as a faulty network or proxy would.
 */
export interface GcsFault {
  method?: string;
  /** Matched against the path and query string. */
  path?: RegExp;
  status?: number;
  resetAfterBytes?: number;
  corruptResponse?: boolean;
  /** How many requests it applies to (default 1). */
  times?: number;
}

export interface GcsBackend extends Backend {
  /** `http://127.0.0.1:PORT`: pass as `apiEndpoint` (or STORAGE_EMULATOR_HOST) to the client. */
  readonly endpoint: string;
  readonly projectId: string;
  readonly port: number;
  /** Create a bucket (a unique `ferry-test-…` name when none is given) and return its name. */
  createBucket(name?: string): string;
  /** Fail the next matching request(s). */
  injectFault(fault: GcsFault): void;
  /** Forget faults that have not fired yet. */
  clearFaults(): void;
  /** Requests served so far (method, path, status), oldest first, for assertions and failure reports. */
  requests(): readonly GcsRequestRecord[];
}

export interface GcsRequestRecord {
  method: string;
  url: string;
  status: number;
  /** Request body bytes the server read (media and JSON alike). */
  bytesIn: number;
  /** Response body bytes sent. */
  bytesOut: number;
}

const DEFAULT_REWRITE_BYTES_PER_CALL = 1024 * 1024;

export async function startGcsServer(options: GcsServerOptions = {}): Promise<GcsBackend> {
  const dataDir = await mkdtemp(join(tmpdir(), "ferry-gcs-"));
  const store = new GcsStore(dataDir);
  const settings: GcsServerSettings = {
    projectId: options.projectId ?? "ferry-test-project",
    projectNumber: "123456789012",
    rewriteBytesPerCall: options.rewriteBytesPerCall ?? DEFAULT_REWRITE_BYTES_PER_CALL,
    ...(options.credential !== undefined ? { credential: options.credential } : {}),
  };
  const log = new LogTail();
  const records: GcsRequestRecord[] = [];
  const faults: (GcsFault & { remaining: number })[] = [];
  const sessions = new UploadSessions();
  const rewrites = new RewriteJobs();
  let ctx: GcsContext | undefined;

  const server = createServer((req, res) => {
    if (!ctx) return res.destroy();
    // Recorded when the request arrives and completed as it is answered, so a client that has its
    // answer always finds the request in requests() (the socket's close comes later).
    const entry: GcsRequestRecord = {
      method: req.method ?? "?",
      url: req.url ?? "/",
      status: 0,
      bytesIn: 0,
      bytesOut: 0,
    };
    records.push(entry);
    res.once("close", () =>
      log.push(
        `${entry.method} ${entry.url} -> ${entry.status} (${entry.bytesIn} in, ${entry.bytesOut} out)\n`,
      ),
    );
    serve(ctx, req, res, takeFault(faults, req), entry).catch((error: unknown) => {
      log.push(`[server error] ${error instanceof Error ? error.stack : String(error)}\n`);
      res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  server.listen(0, HOST);
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  const endpoint = `http://${HOST}:${port}`;
  ctx = { store, settings, baseUrl: endpoint, sessions, rewrites };

  let stopped: Promise<void> | undefined;
  const backend: GcsBackend = {
    name: "gcs",
    endpoint,
    port,
    projectId: settings.projectId,
    createBucket: (name = uniqueName()) => store.createBucket(name).name,
    injectFault: (fault) => faults.push({ ...fault, remaining: fault.times ?? 1 }),
    clearFaults: () => faults.splice(0),
    requests: () => records,
    logs: () => log.toString(),
    stop() {
      stopped ??= (async () => {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await sessions.close();
        await rewrites.close();
        await store.close();
      })();
      return stopped;
    },
  };
  track(backend);
  return backend;
}

function takeFault(faults: (GcsFault & { remaining: number })[], req: IncomingMessage): GcsFault | undefined {
  const index = faults.findIndex(
    (fault) =>
      (!fault.method || fault.method === req.method) && (!fault.path || fault.path.test(req.url ?? "")),
  );
  if (index < 0) return undefined;
  const fault = faults[index]!;
  fault.remaining -= 1;
  if (fault.remaining <= 0) faults.splice(index, 1);
  return fault;
}

async function serve(
  ctx: GcsContext,
  req: IncomingMessage,
  res: ServerResponse,
  fault: GcsFault | undefined,
  entry: GcsRequestRecord,
): Promise<void> {
  const url = new URL(req.url ?? "/", ctx.baseUrl);
  const count = (chunk: unknown) => {
    entry.status = res.statusCode;
    if (typeof chunk === "string") entry.bytesOut += Buffer.byteLength(chunk);
    else if (chunk instanceof Uint8Array) entry.bytesOut += chunk.length;
  };
  const write = res.write.bind(res);
  let corrupt = fault?.corruptResponse === true;
  res.write = ((chunk: unknown, ...rest: unknown[]) => {
    count(chunk);
    if (corrupt && chunk instanceof Uint8Array && chunk.length > 0) {
      corrupt = false;
      const damaged = Buffer.from(chunk);
      damaged[0]! ^= 0x01;
      return (write as (...args: unknown[]) => boolean)(damaged, ...rest);
    }
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof res.write;
  const end = res.end.bind(res);
  res.end = ((chunk?: unknown, ...rest: unknown[]) => {
    count(chunk);
    return (end as (...args: unknown[]) => ServerResponse)(chunk, ...rest);
  }) as typeof res.end;
  const request: GcsRequest = {
    req,
    res,
    method: req.method ?? "GET",
    query: parseQuery(url.search),
    body: countedBody(req, entry, fault?.resetAfterBytes),
    header: (name) => {
      const value = req.headers[name.toLowerCase()];
      return Array.isArray(value) ? value.join(", ") : value;
    },
  };
  try {
    if (fault?.status !== undefined) {
      await drain(request.body);
      throw new GcsError(
        fault.status,
        fault.status === 429 ? "rateLimitExceeded" : "backendError",
        "Injected failure.",
      );
    }
    checkCredential(ctx.settings.credential, request);
    await route(ctx, request, url.pathname);
  } catch (error) {
    if (res.headersSent || !req.socket || req.socket.destroyed) {
      res.destroy();
      return;
    }
    const known = isGcsError(error) ? error : gcsErrors.internal(error);
    // An error can come before the body was read: drain it so the client sees the answer.
    if (!req.readableEnded) await drain(request.body).catch(() => {});
    if (!res.headersSent && !res.destroyed) sendError(res, known);
  }
}

/**
 * With a credential set, only callers that present it (`Authorization: Bearer …` or
 * `X-Goog-Api-Key`) get in, as GCS lets in only authenticated callers; a resumable session's own
 * requests need none, since its URI is the credential there.
 */
function checkCredential(credential: string | undefined, request: GcsRequest): void {
  if (credential === undefined || request.query.has("upload_id")) return;
  const presented =
    /^Bearer\s+(\S+)$/i.exec(request.header("authorization") ?? "")?.[1] ?? request.header("x-goog-api-key");
  if (presented === undefined) throw new GcsError(401, "required", "Login Required.");
  if (presented !== credential) throw new GcsError(401, "authError", "Invalid Credentials");
}

async function* countedBody(
  req: IncomingMessage,
  counters: { bytesIn: number },
  resetAfterBytes: number | undefined,
): AsyncIterable<Buffer> {
  for await (const chunk of req as AsyncIterable<Buffer>) {
    if (resetAfterBytes !== undefined && counters.bytesIn + chunk.length >= resetAfterBytes) {
      const keep = resetAfterBytes - counters.bytesIn;
      counters.bytesIn += keep;
      if (keep > 0) yield chunk.subarray(0, keep);
      req.socket.destroy();
      throw new Error("connection reset by injected fault");
    }
    counters.bytesIn += chunk.length;
    yield chunk;
  }
}
