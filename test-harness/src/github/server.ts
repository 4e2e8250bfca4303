/**
 * A GitHub REST API server for `@octokit/rest` (`new Octokit({ baseUrl })`), backed by real bare git
 * repositories on disk. It reproduces what a storage client relies on: response shapes, status codes
 * and error bodies, authentication (token / Bearer, 401 for a bad token, 404 for a private repository
 * without one), rate-limit headers and limits, pagination and truncated trees. GITHUB-SERVER.md lists
 * the behaviours and the gaps.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { type Backend, HOST, LogTail, track } from "../lifecycle.ts";
import type { GithubServerSettings, Principal, Route, RouteContext } from "./context.ts";
import { GitRepository } from "./git.ts";
import { DOCS_ROOT, HttpError, sendJson } from "./http.ts";
import { RateLimiter } from "./rate-limit.ts";
import { type FileContent, HostedRepository } from "./repository.ts";
import { contentRoutes } from "./routes-contents.ts";
import { contentWriteRoutes } from "./routes-contents-write.ts";
import { gitRoutes } from "./routes-git.ts";
import { repoRoutes } from "./routes-repos.ts";

export interface GithubServerOptions extends Partial<Omit<GithubServerSettings, "rateLimit">> {
  rateLimit?: Partial<GithubServerSettings["rateLimit"]>;
  /** Serve under a path prefix, like GitHub Enterprise Server's `/api/v3`. */
  pathPrefix?: string;
}

export interface CreateRepoOptions {
  /** Seed content of the first commit (default: a README). Ignored when `empty`. */
  files?: Record<string, FileContent>;
  defaultBranch?: string;
  private?: boolean;
  /** No commit at all: GitHub's "empty repository" (409 on git data reads). */
  empty?: boolean;
  message?: string;
}

export interface TokenOptions {
  login?: string;
  /** false: a token that may read but not push (403 on writes). */
  canWrite?: boolean;
}

export interface GithubBackend extends Backend {
  /** What to pass as Octokit's `baseUrl`. */
  readonly baseUrl: string;
  /** A valid token with push access to every repository. */
  readonly token: string;
  /** Live settings: change them between requests (e.g. a small tree limit or rate limit). */
  readonly settings: GithubServerSettings;
  createRepo(owner: string, name: string, options?: CreateRepoOptions): Promise<HostedRepository>;
  repo(owner: string, name: string): HostedRepository | undefined;
  /** Another valid token, with its own rate-limit window. */
  issueToken(options?: TokenOptions): string;
  /** Drop a token: requests with it get 401 Bad credentials. */
  revokeToken(token: string): void;
}

const RATE_LIMIT_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api";
const ROUTES: readonly Route[] = [...repoRoutes, ...gitRoutes, ...contentRoutes, ...contentWriteRoutes];

export async function startGithubServer(options: GithubServerOptions = {}): Promise<GithubBackend> {
  const prefix = (options.pathPrefix ?? "").replace(/\/+$/, "");
  const root = await mkdtemp(join(tmpdir(), "ferry-github-"));
  const api = new GithubApi(serverSettings(options), prefix, root);
  const token = api.issueToken();
  const server = createServer((request, response) => api.serve(request, response));
  server.listen(0, HOST);
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  const port = (server.address() as AddressInfo).port;
  let stopped: Promise<void> | undefined;
  const backend: GithubBackend = {
    name: "github",
    baseUrl: `http://${HOST}:${port}${prefix}`,
    token,
    settings: api.settings,
    logs: () => api.tail.toString(),
    issueToken: (tokenOptions) => api.issueToken(tokenOptions),
    revokeToken: (value) => api.revokeToken(value),
    repo: (owner, name) => api.repos.get(`${owner}/${name}`.toLowerCase()),
    createRepo: (owner, name, repoOptions) => api.createRepo(owner, name, repoOptions),
    stop() {
      stopped ??= (async () => {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await api.close();
      })();
      return stopped;
    },
  };
  track(backend);
  return backend;
}

/** GitHub's limits, or the ones a test asked for. */
function serverSettings(options: GithubServerOptions): GithubServerSettings {
  return {
    treeEntryLimit: options.treeEntryLimit ?? 100_000,
    contentsInlineMaxBytes: options.contentsInlineMaxBytes ?? 1024 * 1024,
    contentsMaxBytes: options.contentsMaxBytes ?? 100 * 1024 * 1024,
    blobMaxBytes: options.blobMaxBytes ?? 100 * 1024 * 1024,
    directoryListingMax: options.directoryListingMax ?? 1000,
    rateLimit: { authenticated: 5000, anonymous: 60, windowSeconds: 3600, status: 403, ...options.rateLimit },
    secondaryRateLimit: options.secondaryRateLimit,
  };
}

/** A request's place in the API once it is past authentication and the rate limits. */
interface Admitted {
  url: URL;
  /** The path below the prefix. */
  path: string;
  principal: Principal;
  apiBase: string;
  origin: string;
  baseHeaders: Record<string, string>;
}

/** The API's state (repositories, tokens, rate limits, the request log) and how it answers a request. */
class GithubApi {
  readonly settings: GithubServerSettings;
  readonly repos = new Map<string, HostedRepository>();
  readonly tail = new LogTail();
  readonly #prefix: string;
  /** Where the bare repositories live; removed by close(). */
  readonly #root: string;
  readonly #tokens = new Map<string, { login: string; userId: number; canWrite: boolean }>();
  readonly #limiter: RateLimiter;
  #nextId = 1;
  #requestCount = 0;

  constructor(settings: GithubServerSettings, prefix: string, root: string) {
    this.settings = settings;
    this.#prefix = prefix;
    this.#root = root;
    this.#limiter = new RateLimiter(settings);
  }

  issueToken(options: TokenOptions = {}): string {
    const token = `ghp_${randomBytes(18).toString("base64url")}`;
    this.#tokens.set(token, {
      login: options.login ?? "ferry-user",
      userId: this.#nextId++,
      canWrite: options.canWrite ?? true,
    });
    return token;
  }

  revokeToken(token: string): void {
    this.#tokens.delete(token);
  }

  async createRepo(owner: string, name: string, options: CreateRepoOptions = {}): Promise<HostedRepository> {
    const key = `${owner}/${name}`.toLowerCase();
    if (this.repos.has(key)) throw new Error(`repository ${owner}/${name} already exists`);
    if (!/^[A-Za-z0-9_.-]+$/.test(owner) || !/^[A-Za-z0-9_.-]+$/.test(name))
      throw new Error(`invalid repository name ${owner}/${name}`);
    const defaultBranch = options.defaultBranch ?? "main";
    const git = await GitRepository.init(join(this.#root, `${owner}__${name}.git`), defaultBranch);
    const repo = new HostedRepository({
      owner,
      name,
      id: this.#nextId++,
      git,
      isPrivate: options.private ?? false,
      defaultBranch,
    });
    if (!options.empty) {
      await repo.commit({
        files: options.files ?? { "README.md": `# ${name}\n` },
        message: options.message ?? "Initial commit",
      });
    }
    this.repos.set(key, repo);
    return repo;
  }

  async close(): Promise<void> {
    for (const repo of this.repos.values()) repo.git.close();
    await rm(this.#root, { recursive: true, force: true });
  }

  /** Answer one request, logging its path and status (never its Authorization header). */
  serve(request: IncomingMessage, response: ServerResponse): void {
    const started = Date.now();
    const requestId = `${(++this.#requestCount).toString(16).toUpperCase().padStart(4, "0")}:FERRY`;
    response.setHeader("x-github-request-id", requestId);
    response.once("finish", () => {
      this.tail.push(
        `${request.method} ${request.url} -> ${response.statusCode} ${Date.now() - started}ms\n`,
      );
    });
    this.#handle(request, response).catch((error: unknown) => {
      this.tail.push(
        `[error] ${request.method} ${request.url}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      if (!response.headersSent)
        sendJson(response, 500, { message: "Server Error", documentation_url: DOCS_ROOT, status: "500" });
      else response.destroy();
    });
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const admitted = this.#admit(request, response);
    if (!admitted) return;
    try {
      await this.#dispatch(request, response, admitted);
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      if (response.headersSent) {
        response.destroy();
        return;
      }
      sendJson(response, error.status, error.body(), { ...admitted.baseHeaders, ...error.headers });
    }
  }

  /**
   * Authenticate and count the request against the rate limits. Answers it (and returns undefined)
   * when it stops here: a bad token, `GET /rate_limit`, or a limit exceeded.
   */
  #admit(request: IncomingMessage, response: ServerResponse): Admitted | undefined {
    const origin = `http://${request.headers.host ?? HOST}`;
    const url = new URL(request.url ?? "/", origin);
    const prefix = this.#prefix;
    let path = url.pathname;
    if (prefix) {
      if (!path.startsWith(`${prefix}/`) && path !== prefix) throw new HttpError(404, "Not Found");
      path = path.slice(prefix.length) || "/";
    }
    const principal = this.#authenticate(request);
    if (principal instanceof HttpError) {
      const headers = this.#limiter.peekHeaders({ kind: "anonymous", address: "bad-token" });
      sendJson(response, principal.status, principal.body(), headers);
      return undefined;
    }
    if (request.method === "GET" && path === "/rate_limit") {
      const rate = this.#limiter.status(principal);
      sendJson(response, 200, { resources: { core: rate }, rate }, this.#limiter.peekHeaders(principal));
      return undefined;
    }
    const baseHeaders = this.#rateLimited(principal, response);
    if (!baseHeaders) return undefined;
    return { url, path, principal, apiBase: `${origin}${prefix}`, origin, baseHeaders };
  }

  /** The rate-limit headers of an allowed request; undefined after answering one over a limit. */
  #rateLimited(principal: Principal, response: ServerResponse): Record<string, string> | undefined {
    const limiter = this.#limiter;
    const wait = limiter.secondary(principal);
    if (wait !== undefined) {
      const error = new HttpError(
        403,
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        `${RATE_LIMIT_DOCS}#about-secondary-rate-limits`,
      );
      sendJson(response, 403, error.body(), {
        ...limiter.peekHeaders(principal),
        "retry-after": String(wait),
      });
      return undefined;
    }
    const rate = limiter.take(principal);
    if (rate.allowed) return rate.headers;
    const who = principal.kind === "token" ? `user ID ${principal.userId}` : principal.address;
    const extra =
      principal.kind === "anonymous"
        ? " (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)"
        : "";
    const error = new HttpError(
      this.settings.rateLimit.status,
      `API rate limit exceeded for ${who}.${extra}`,
      RATE_LIMIT_DOCS,
    );
    sendJson(response, error.status, error.body(), rate.headers);
    return undefined;
  }

  #authenticate(request: IncomingMessage): Principal | HttpError {
    const header = request.headers.authorization;
    const address = request.socket.remoteAddress ?? HOST;
    if (!header) return { kind: "anonymous", address };
    const match = /^(?:token|bearer)\s+(\S+)\s*$/i.exec(header);
    const record = match ? this.#tokens.get(match[1]!) : undefined;
    if (!match || !record) return new HttpError(401, "Bad credentials", DOCS_ROOT);
    return { kind: "token", token: match[1]!, ...record };
  }

  /** Find the repository and the route, check the caller may use it, and run it. */
  async #dispatch(request: IncomingMessage, response: ServerResponse, admitted: Admitted): Promise<void> {
    const match = /^\/repos\/([^/]+)\/([^/]+)(\/.*)?$/.exec(admitted.path);
    if (!match) throw new HttpError(404, "Not Found");
    const owner = decodeURIComponent(match[1]!);
    const name = decodeURIComponent(match[2]!);
    const rest = match[3] ?? "";
    const repo = this.repos.get(`${owner}/${name}`.toLowerCase());
    const method = request.method ?? "GET";
    const route = ROUTES.find((candidate) => candidate.method === method && candidate.pattern.test(rest));
    const docs = route?.docs ?? DOCS_ROOT;
    // A private repository is indistinguishable from a missing one without a token (GitHub answers 404).
    if (!repo || (repo.isPrivate && admitted.principal.kind !== "token"))
      throw new HttpError(404, "Not Found", docs);
    if (!route) throw new HttpError(404, "Not Found", DOCS_ROOT);
    if (route.write) {
      if (admitted.principal.kind !== "token") throw new HttpError(401, "Requires authentication", docs);
      if (!admitted.principal.canWrite)
        throw new HttpError(403, "Resource not accessible by personal access token", docs);
    }
    const captures = route.pattern.exec(rest)!.slice(1);
    let params: string[];
    try {
      params = captures.map((capture) => (capture === undefined ? "" : decodeURIComponent(capture)));
    } catch {
      throw new HttpError(400, "Malformed percent-encoding in the path", docs);
    }
    await route.handle(this.#context(request, response, admitted, { repo, params }));
  }

  /** What a route handler gets: the request, its repository and parameters, and ways to answer. */
  #context(
    request: IncomingMessage,
    response: ServerResponse,
    admitted: Admitted,
    found: { repo: HostedRepository; params: string[] },
  ): RouteContext {
    const { repo, params } = found;
    const { baseHeaders, apiBase, origin } = admitted;
    const repoPath = `${encodeURIComponent(repo.owner)}/${encodeURIComponent(repo.name)}`;
    return {
      request,
      response,
      url: admitted.url,
      params,
      repo,
      urls: { api: `${apiBase}/repos/${repoPath}`, html: `${origin}/${repoPath}` },
      principal: admitted.principal,
      settings: this.settings,
      apiBase,
      json: (status, body, headers = {}) => sendJson(response, status, body, { ...baseHeaders, ...headers }),
      raw: (status, body, contentType, headers = {}) => {
        response.writeHead(status, { ...baseHeaders, "content-type": contentType, ...headers });
        if (body instanceof Readable) {
          body.on("error", () => response.destroy());
          body.pipe(response);
        } else {
          response.end(body);
        }
      },
      empty: (status) => {
        response.writeHead(status, baseHeaders);
        response.end();
      },
    };
  }
}
