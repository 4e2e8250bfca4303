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
  const settings: GithubServerSettings = {
    treeEntryLimit: options.treeEntryLimit ?? 100_000,
    contentsInlineMaxBytes: options.contentsInlineMaxBytes ?? 1024 * 1024,
    contentsMaxBytes: options.contentsMaxBytes ?? 100 * 1024 * 1024,
    blobMaxBytes: options.blobMaxBytes ?? 100 * 1024 * 1024,
    directoryListingMax: options.directoryListingMax ?? 1000,
    rateLimit: { authenticated: 5000, anonymous: 60, windowSeconds: 3600, status: 403, ...options.rateLimit },
    secondaryRateLimit: options.secondaryRateLimit,
  };
  const prefix = (options.pathPrefix ?? "").replace(/\/+$/, "");
  const root = await mkdtemp(join(tmpdir(), "ferry-github-"));
  const repos = new Map<string, HostedRepository>();
  const tokens = new Map<string, { login: string; userId: number; canWrite: boolean }>();
  const limiter = new RateLimiter(settings);
  const tail = new LogTail();
  let nextId = 1;
  let requestCount = 0;

  const issueToken = (tokenOptions: TokenOptions = {}): string => {
    const token = `ghp_${randomBytes(18).toString("base64url")}`;
    tokens.set(token, {
      login: tokenOptions.login ?? "ferry-user",
      userId: nextId++,
      canWrite: tokenOptions.canWrite ?? true,
    });
    return token;
  };
  const token = issueToken();

  const server = createServer((request, response) => {
    const started = Date.now();
    const requestId = `${(++requestCount).toString(16).toUpperCase().padStart(4, "0")}:FERRY`;
    response.setHeader("x-github-request-id", requestId);
    response.once("finish", () => {
      // Path and status only: the Authorization header never reaches the log.
      tail.push(`${request.method} ${request.url} -> ${response.statusCode} ${Date.now() - started}ms\n`);
    });
    handle(request, response).catch((error: unknown) => {
      tail.push(
        `[error] ${request.method} ${request.url}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      if (!response.headersSent)
        sendJson(response, 500, { message: "Server Error", documentation_url: DOCS_ROOT, status: "500" });
      else response.destroy();
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const origin = `http://${request.headers.host ?? HOST}`;
    const url = new URL(request.url ?? "/", origin);
    const apiBase = `${origin}${prefix}`;
    let path = url.pathname;
    if (prefix) {
      if (!path.startsWith(`${prefix}/`) && path !== prefix) throw new HttpError(404, "Not Found");
      path = path.slice(prefix.length) || "/";
    }

    const principal = authenticate(request);
    if (principal instanceof HttpError) {
      sendJson(
        response,
        principal.status,
        principal.body(),
        limiter.peekHeaders({ kind: "anonymous", address: "bad-token" }),
      );
      return;
    }
    if (request.method === "GET" && path === "/rate_limit") {
      const rate = limiter.status(principal);
      sendJson(response, 200, { resources: { core: rate }, rate }, limiter.peekHeaders(principal));
      return;
    }
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
      return;
    }
    const rate = limiter.take(principal);
    if (!rate.allowed) {
      const who = principal.kind === "token" ? `user ID ${principal.userId}` : principal.address;
      const extra =
        principal.kind === "anonymous"
          ? " (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)"
          : "";
      const error = new HttpError(
        settings.rateLimit.status,
        `API rate limit exceeded for ${who}.${extra}`,
        RATE_LIMIT_DOCS,
      );
      sendJson(response, error.status, error.body(), rate.headers);
      return;
    }
    const baseHeaders = rate.headers;

    try {
      await dispatch(request, response, { url, path, principal, apiBase, origin, baseHeaders });
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      if (response.headersSent) {
        response.destroy();
        return;
      }
      sendJson(response, error.status, error.body(), { ...baseHeaders, ...error.headers });
    }
  }

  async function dispatch(
    request: IncomingMessage,
    response: ServerResponse,
    args: {
      url: URL;
      path: string;
      principal: Principal;
      apiBase: string;
      origin: string;
      baseHeaders: Record<string, string>;
    },
  ): Promise<void> {
    const match = /^\/repos\/([^/]+)\/([^/]+)(\/.*)?$/.exec(args.path);
    if (!match) throw new HttpError(404, "Not Found");
    const owner = decodeURIComponent(match[1]!);
    const name = decodeURIComponent(match[2]!);
    const rest = match[3] ?? "";
    const repo = repos.get(`${owner}/${name}`.toLowerCase());
    const method = request.method ?? "GET";
    const route = ROUTES.find((candidate) => candidate.method === method && candidate.pattern.test(rest));
    const docs = route?.docs ?? DOCS_ROOT;
    // A private repository is indistinguishable from a missing one without a token (GitHub answers 404).
    if (!repo || (repo.isPrivate && args.principal.kind !== "token"))
      throw new HttpError(404, "Not Found", docs);
    if (!route) throw new HttpError(404, "Not Found", DOCS_ROOT);
    if (route.write) {
      if (args.principal.kind !== "token") throw new HttpError(401, "Requires authentication", docs);
      if (!args.principal.canWrite)
        throw new HttpError(403, "Resource not accessible by personal access token", docs);
    }
    const captures = route.pattern.exec(rest)!.slice(1);
    let params: string[];
    try {
      params = captures.map((capture) => (capture === undefined ? "" : decodeURIComponent(capture)));
    } catch {
      throw new HttpError(400, "Malformed percent-encoding in the path", docs);
    }
    const apiRepo = `${args.apiBase}/repos/${encodeURIComponent(repo.owner)}/${encodeURIComponent(repo.name)}`;
    const context: RouteContext = {
      request,
      response,
      url: args.url,
      params,
      repo,
      urls: {
        api: apiRepo,
        html: `${args.origin}/${encodeURIComponent(repo.owner)}/${encodeURIComponent(repo.name)}`,
      },
      principal: args.principal,
      settings,
      apiBase: args.apiBase,
      json: (status, body, headers = {}) =>
        sendJson(response, status, body, { ...args.baseHeaders, ...headers }),
      raw: (status, body, contentType, headers = {}) => {
        response.writeHead(status, { ...args.baseHeaders, "content-type": contentType, ...headers });
        if (body instanceof Readable) {
          body.on("error", () => response.destroy());
          body.pipe(response);
        } else {
          response.end(body);
        }
      },
      empty: (status) => {
        response.writeHead(status, args.baseHeaders);
        response.end();
      },
    };
    await route.handle(context);
  }

  function authenticate(request: IncomingMessage): Principal | HttpError {
    const header = request.headers.authorization;
    const address = request.socket.remoteAddress ?? HOST;
    if (!header) return { kind: "anonymous", address };
    const match = /^(?:token|bearer)\s+(\S+)\s*$/i.exec(header);
    const record = match ? tokens.get(match[1]!) : undefined;
    if (!match || !record) return new HttpError(401, "Bad credentials", DOCS_ROOT);
    return { kind: "token", token: match[1]!, ...record };
  }

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
    settings,
    logs: () => tail.toString(),
    issueToken,
    revokeToken: (value) => {
      tokens.delete(value);
    },
    repo: (owner, name) => repos.get(`${owner}/${name}`.toLowerCase()),
    async createRepo(owner, name, repoOptions = {}) {
      const key = `${owner}/${name}`.toLowerCase();
      if (repos.has(key)) throw new Error(`repository ${owner}/${name} already exists`);
      if (!/^[A-Za-z0-9_.-]+$/.test(owner) || !/^[A-Za-z0-9_.-]+$/.test(name))
        throw new Error(`invalid repository name ${owner}/${name}`);
      const defaultBranch = repoOptions.defaultBranch ?? "main";
      const git = await GitRepository.init(join(root, `${owner}__${name}.git`), defaultBranch);
      const repo = new HostedRepository({
        owner,
        name,
        id: nextId++,
        git,
        isPrivate: repoOptions.private ?? false,
        defaultBranch,
      });
      if (!repoOptions.empty) {
        await repo.commit({
          files: repoOptions.files ?? { "README.md": `# ${name}\n` },
          message: repoOptions.message ?? "Initial commit",
        });
      }
      repos.set(key, repo);
      return repo;
    },
    stop() {
      stopped ??= (async () => {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        for (const repo of repos.values()) repo.git.close();
        await rm(root, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
  track(backend);
  return backend;
}
