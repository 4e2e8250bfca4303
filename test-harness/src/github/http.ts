/** HTTP plumbing shared by the GitHub routes: errors in GitHub's shape, JSON bodies, media types, pagination. */
import type { IncomingMessage, ServerResponse } from "node:http";

export const DOCS_ROOT = "https://docs.github.com/rest";

/** An error answered as GitHub does: `{ message, documentation_url, status, errors? }`. */
export class HttpError extends Error {
  readonly status: number;
  readonly documentationUrl: string;
  readonly errors: readonly Record<string, string>[] | undefined;
  readonly headers: Record<string, string>;
  constructor(
    status: number,
    message: string,
    documentationUrl = DOCS_ROOT,
    extra: { errors?: readonly Record<string, string>[]; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.status = status;
    this.documentationUrl = documentationUrl;
    this.errors = extra.errors;
    this.headers = extra.headers ?? {};
  }

  body(): Record<string, unknown> {
    return {
      message: this.message,
      ...(this.errors ? { errors: this.errors } : {}),
      documentation_url: this.documentationUrl,
      status: String(this.status),
    };
  }
}

export const notFound = (documentationUrl: string, message = "Not Found") =>
  new HttpError(404, message, documentationUrl);
export const emptyRepository = (documentationUrl: string) =>
  new HttpError(409, "Git Repository is empty.", documentationUrl);

/** What the Accept header asks for (`application/vnd.github[.v3].raw[+json]` and friends). */
export type MediaFormat = "json" | "raw" | "object" | "sha";

export function mediaFormat(accept: string | undefined): MediaFormat {
  const match = /application\/vnd\.github(?:\.v3)?\.(raw|object|sha|html)\b/.exec(accept ?? "");
  if (!match) return "json";
  return match[1] === "html" ? "raw" : (match[1] as MediaFormat);
}

const MAX_BODY_BYTES = 200 * 1024 * 1024;

export async function readJsonBody(
  request: IncomingMessage,
  documentationUrl: string,
): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    total += chunk.byteLength;
    if (total > MAX_BODY_BYTES) throw new HttpError(413, "Request body too large", documentationUrl);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      throw new Error("not an object");
    return parsed as Record<string, unknown>;
  } catch {
    throw new HttpError(400, "Problems parsing JSON", documentationUrl);
  }
}

export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "x-github-media-type": "github.v3; format=json",
    "content-length": String(Buffer.byteLength(text)),
    ...headers,
  });
  response.end(text);
}

/** GitHub wraps base64 at 60 characters per line, with a final newline. */
export function wrappedBase64(bytes: Uint8Array): string {
  const plain = Buffer.from(bytes).toString("base64");
  if (plain === "") return "";
  return `${plain.match(/.{1,60}/g)!.join("\n")}\n`;
}

export interface Page<T> {
  items: T[];
  link: string | undefined;
}

/** `per_page` (default 30, max 100) and 1-based `page`, with a Link header of absolute URLs. */
export function paginate<T>(all: readonly T[], url: URL, publicBase: string): Page<T> {
  const { perPage, page } = pageParams(url);
  const last = Math.max(1, Math.ceil(all.length / perPage));
  return {
    items: all.slice((page - 1) * perPage, page * perPage),
    link: linkHeader(url, publicBase, page, last, perPage),
  };
}

export function pageParams(url: URL): { perPage: number; page: number } {
  const perPage = Math.min(
    100,
    Math.max(1, Number.parseInt(url.searchParams.get("per_page") ?? "30", 10) || 30),
  );
  const page = Math.max(1, Number.parseInt(url.searchParams.get("page") ?? "1", 10) || 1);
  return { perPage, page };
}

export function linkHeader(
  url: URL,
  publicBase: string,
  page: number,
  last: number,
  perPage: number,
): string | undefined {
  if (last <= 1) return undefined;
  const at = (target: number) => {
    const params = new URLSearchParams(url.searchParams);
    params.set("per_page", String(perPage));
    params.set("page", String(target));
    return `<${publicBase}${url.pathname}?${params.toString()}>`;
  };
  const links: string[] = [];
  if (page > 1) links.push(`${at(page - 1)}; rel="prev"`);
  if (page < last) links.push(`${at(page + 1)}; rel="next"`, `${at(last)}; rel="last"`);
  if (page > 1) links.push(`${at(1)}; rel="first"`);
  return links.length ? links.join(", ") : undefined;
}
