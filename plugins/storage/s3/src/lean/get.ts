/**
 * GetObject without the per-command middleware stack, over undici.
 *
 * Every `client.send()` resolves and sorts the client's middleware, resolves the endpoint rules,
 * serializes through the operation's schema and deserializes the response headers: about half a
 * millisecond of CPU per request on a 2-core machine, more than the rest of a small-file download
 * costs. A read is the one request ferry makes thousands of times with nothing but a key changing, so
 * the SDK builds one GetObject per bucket (stopped before it is sent) as a template — endpoint, path
 * style, host and query exactly as the SDK resolved them — and each read swaps the key in and signs the
 * request with the client's own SigV4 signer (and its clock-skew offset).
 *
 * The request goes out through undici, Node's own HTTP client library, rather than the SDK's handler
 * on `node:http`: node's HTTP parser copies every body chunk of a response into a new buffer, so a
 * download allocates twice what it receives and V8 collects garbage all the way through; undici hands
 * on slices of what the socket read. A 512 MiB download costs about a third less CPU.
 *
 * Only the answer ferry expects is taken from this path: 200 for a whole object, 206 with the asked-for
 * Content-Range for a range. Anything else — an error status, a redirect, a network failure before the
 * answer — returns undefined and the caller repeats the read through `client.send()`, whose retries,
 * region redirects, clock-skew correction and error parsing then apply as for every other request.
 * Buckets the template cannot describe (ARNs, S3 Express directory buckets, auth schemes other than
 * SigV4) never use it.
 */
import type { Readable } from "node:stream";
import type { S3Client } from "@aws-sdk/client-s3";
import { type FerryError, undiciStall } from "@ferry/plugin-kit";
import type { Dispatcher } from "undici";
import type { S3Sdk } from "../client.ts";

/** SHA-256 of an empty body: a GET signs no payload. */
const EMPTY_BODY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const PROBE_KEY = "ferry-lean-get-probe";
/** Headers of the template that are sent again; the rest (invocation ids, signatures) are per request. */
const KEPT_HEADERS = ["host", "user-agent", "x-amz-user-agent"];

interface HttpRequestLike {
  method: string;
  protocol: string;
  hostname: string;
  port?: number | undefined;
  path: string;
  query: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body?: unknown;
}

interface Signer {
  sign(
    request: HttpRequestLike,
    options: { signingDate?: Date; signingRegion?: string; signingService?: string },
  ): Promise<HttpRequestLike>;
}

/** What the template needs of the resolved client configuration (fields of `S3Client.config`). */
interface LeanConfig {
  signer?: () => Promise<Signer>;
  systemClockOffset?: number;
}

interface AuthScheme {
  name?: string;
  signingName?: string;
  signingRegion?: string;
}

class TemplateCaptured extends Error {
  readonly request: HttpRequestLike;
  readonly authScheme: AuthScheme | undefined;
  constructor(request: HttpRequestLike, authScheme: AuthScheme | undefined) {
    super("GetObject template captured");
    this.request = request;
    this.authScheme = authScheme;
  }
}

/** `encodeURIComponent` plus the characters RFC 3986 reserves, per path segment, as the SDK encodes `{Key+}`. */
export function encodeKeyPath(key: string): string {
  return key
    .split("/")
    .map((segment) =>
      encodeURIComponent(segment).replace(
        /[!'()*]/g,
        (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`,
      ),
    )
    .join("/");
}

export class LeanGet {
  readonly #template: HttpRequestLike;
  readonly #pathPrefix: string;
  readonly #origin: string;
  readonly #query: string;
  readonly #signer: Signer;
  readonly #dispatcher: Dispatcher;
  readonly #config: LeanConfig;
  readonly #signing: { signingRegion?: string; signingService: string };
  readonly #idleMs: () => number;

  private constructor(
    template: HttpRequestLike,
    pathPrefix: string,
    signer: Signer,
    dispatcher: Dispatcher,
    config: LeanConfig,
    authScheme: AuthScheme | undefined,
    idleMs: () => number,
  ) {
    this.#template = template;
    this.#idleMs = idleMs;
    this.#pathPrefix = pathPrefix;
    this.#origin = originOf(template);
    this.#query = queryString(template.query);
    this.#signer = signer;
    this.#dispatcher = dispatcher;
    this.#config = config;
    this.#signing = {
      signingService: authScheme?.signingName ?? "s3",
      ...(authScheme?.signingRegion ? { signingRegion: authScheme.signingRegion } : {}),
    };
  }

  /**
   * The template for `bucket`, or undefined where the lean path does not apply (the caller then always
   * uses `client.send()`). Builds one GetObject through the client's middleware and stops it before the
   * network; no request is sent.
   */
  static async forBucket(
    client: S3Client,
    sdk: S3Sdk,
    bucket: string,
    dispatcher: Dispatcher,
    /** The dispatcher's `headersTimeout` / `bodyTimeout`, for the stall error. */
    idleMs: () => number = () => 0,
  ): Promise<LeanGet | undefined> {
    if (bucket.startsWith("arn:") || bucket.endsWith("--x-s3")) return undefined;
    const config = client.config as unknown as LeanConfig;
    if (typeof config.signer !== "function") return undefined;
    const command = new sdk.GetObjectCommand({ Bucket: bucket, Key: PROBE_KEY });
    command.middlewareStack.add(
      (_next, context) => async (args) => {
        const endpoint = (context as { endpointV2?: { properties?: { authSchemes?: AuthScheme[] } } })
          .endpointV2;
        throw new TemplateCaptured(args.request as HttpRequestLike, endpoint?.properties?.authSchemes?.[0]);
      },
      { step: "build", priority: "low", name: "ferryLeanGetTemplate" },
    );
    let captured: TemplateCaptured;
    try {
      await client.send(command);
      return undefined;
    } catch (error) {
      if (!(error instanceof TemplateCaptured)) return undefined;
      captured = error;
    }
    const { request, authScheme } = captured;
    if (authScheme?.name !== undefined && authScheme.name !== "sigv4") return undefined;
    const probePath = `/${encodeKeyPath(PROBE_KEY)}`;
    if (request.method !== "GET" || !request.path.endsWith(probePath)) return undefined;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (KEPT_HEADERS.includes(name.toLowerCase())) headers[name.toLowerCase()] = value;
    }
    headers.host ??= request.port ? `${request.hostname}:${request.port}` : request.hostname;
    const template: HttpRequestLike = {
      method: "GET",
      protocol: request.protocol,
      hostname: request.hostname,
      port: request.port,
      path: "",
      query: { ...request.query },
      headers,
    };
    let signer: Signer;
    try {
      signer = await config.signer();
    } catch {
      return undefined;
    }
    const pathPrefix = request.path.slice(0, -probePath.length + 1);
    if (template.protocol !== "http:" && template.protocol !== "https:") return undefined;
    return new LeanGet(template, pathPrefix, signer, dispatcher, config, authScheme, idleMs);
  }

  /**
   * The object's bytes (`range` is an HTTP Range value such as `bytes=0-99`), or undefined when the
   * answer was not the plain success expected: the caller then reads through `client.send()`.
   * Throws only when `signal` aborted the request, or the server stalled (a stall error: reading it
   * again through `send()` would only wait as long once more).
   */
  async get(
    key: string,
    range: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Readable | undefined> {
    const request: HttpRequestLike = {
      ...this.#template,
      path: this.#pathPrefix + encodeKeyPath(key),
      headers: {
        ...this.#template.headers,
        "x-amz-content-sha256": EMPTY_BODY_SHA256,
        ...(range ? { range } : {}),
      },
    };
    let response: Dispatcher.ResponseData;
    try {
      const signed = await this.#signer.sign(request, {
        ...this.#signing,
        signingDate: new Date(Date.now() + (this.#config.systemClockOffset ?? 0)),
      });
      response = await this.#dispatcher.request({
        origin: this.#origin,
        path: this.#query ? `${signed.path}?${this.#query}` : signed.path,
        method: "GET",
        headers: signed.headers,
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      const stall = this.stall(error);
      if (stall) throw stall;
      return undefined;
    }
    if (isExpectedAnswer(response.statusCode, response.headers["content-range"], range)) return response.body;
    response.body.resume(); // drain the answer so the connection goes back to the pool
    return undefined;
  }

  /** `error` as a stall error when it is the dispatcher's idle timeout firing; else undefined. */
  stall(error: unknown): FerryError | undefined {
    return undiciStall(error, this.#origin.replace(/^\w+:\/\//, ""), this.#idleMs(), { system: "s3" });
  }
}

/** `protocol//host[:port]`, an IPv6 address in brackets whether or not the SDK gave it with them. */
export function originOf(request: Pick<HttpRequestLike, "protocol" | "hostname" | "port">): string {
  const host =
    request.hostname.includes(":") && !request.hostname.startsWith("[")
      ? `[${request.hostname}]`
      : request.hostname;
  return `${request.protocol}//${host}${request.port ? `:${request.port}` : ""}`;
}

/** The template's query (`x-id=GetObject`), encoded as SigV4 signs it. */
function queryString(query: HttpRequestLike["query"]): string {
  return Object.entries(query)
    .flatMap(([name, value]) =>
      value === null
        ? [encodeURIComponent(name)]
        : [value].flat().map((one) => `${encodeURIComponent(name)}=${encodeURIComponent(one)}`),
    )
    .join("&");
}

/**
 * Whether an answer is the plain success a lean read takes: 200 for a whole object; for a range, 206
 * starting where asked (a server that ignores Range answers 200 with the whole object, which must not
 * be handed on as the range).
 */
export function isExpectedAnswer(
  status: number,
  served: string | string[] | undefined,
  range: string | undefined,
): boolean {
  if (range === undefined) return status === 200;
  if (status !== 206 || typeof served !== "string") return false;
  const start = /^bytes=(\d+)-/.exec(range)?.[1];
  return start !== undefined && served.startsWith(`bytes ${start}-`);
}
