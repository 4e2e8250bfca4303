/** Small helpers over node:http shared by the GCS routes. */
import type { ServerResponse } from "node:http";
import { GcsError, gcsErrors } from "./errors.ts";

const JSON_TYPE = "application/json; charset=UTF-8";
/** JSON request bodies (resources, compose lists) are small; refuse anything larger. */
const MAX_JSON_BODY = 1024 * 1024;

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": JSON_TYPE, "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-length": "0", ...headers });
  res.end();
}

export function sendError(res: ServerResponse, error: GcsError): void {
  if (error.status === 304) {
    sendEmpty(res, 304);
    return;
  }
  sendJson(res, error.status, error.body(), error.headers);
}

/**
 * Query parameters decoded with form rules (`+` is a space), because the resumable initiation is
 * encoded with URLSearchParams; empty values count as absent (the client sends `key=` for undefined).
 */
export function parseQuery(search: string): Map<string, string> {
  const query = new Map<string, string>();
  for (const [key, value] of new URLSearchParams(search)) if (value !== "") query.set(key, value);
  return query;
}

export async function readJsonBody(body: AsyncIterable<Buffer>): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > MAX_JSON_BODY) throw gcsErrors.invalid("Request body too large.");
    chunks.push(chunk);
  }
  return parseJsonObject(Buffer.concat(chunks).toString("utf8"));
}

export function parseJsonObject(text: string): Record<string, unknown> {
  if (text.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw gcsErrors.invalid("Invalid JSON payload received.");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw gcsErrors.invalid("Invalid JSON payload: expected an object.");
  return parsed as Record<string, unknown>;
}

/**
 * Read and discard whatever is left of a request body so the client sees the answer and the
 * connection can be reused. Takes the request's one body iterator: a second iterator on the same
 * stream would miss bytes the first one holds.
 */
export async function drain(body: AsyncIterable<Buffer>): Promise<void> {
  for await (const _ of body) {
    // discard
  }
}

export function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw gcsErrors.invalid(`Malformed percent-encoding in path segment "${segment}".`);
  }
}

/** A decimal int64 query parameter (generations are below 2^53, so a JS number holds them exactly). */
export function intParam(query: Map<string, string>, name: string): number | undefined {
  const raw = query.get(name);
  if (raw === undefined) return undefined;
  if (!/^-?\d+$/.test(raw)) throw gcsErrors.invalid(`Invalid value for ${name}: ${raw}`);
  return Number(raw);
}

export function isGcsError(error: unknown): error is GcsError {
  return error instanceof GcsError;
}
