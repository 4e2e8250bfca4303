/** Repository, branches, tags and commits (the repos API). */
import type { Route, RouteContext } from "./context.ts";
import {
  emptyRepository,
  HttpError,
  linkHeader,
  mediaFormat,
  notFound,
  pageParams,
  paginate,
} from "./http.ts";
import { branch, nodeId, repoCommit } from "./shapes.ts";

const DOCS = {
  getRepo: "https://docs.github.com/rest/repos/repos#get-a-repository",
  listBranches: "https://docs.github.com/rest/branches/branches#list-branches",
  getBranch: "https://docs.github.com/rest/branches/branches#get-a-branch",
  listTags: "https://docs.github.com/rest/repos/repos#list-repository-tags",
  listCommits: "https://docs.github.com/rest/commits/commits#list-commits",
  getCommit: "https://docs.github.com/rest/commits/commits#get-a-commit",
};

export function repositoryBody(context: Pick<RouteContext, "repo" | "urls" | "principal" | "apiBase">) {
  const { repo, urls, principal } = context;
  const ownerUrl = `${context.apiBase}/users/${repo.owner}`;
  const owns = principal.kind === "token";
  return {
    id: repo.id,
    node_id: nodeId("R", String(repo.id)),
    name: repo.name,
    full_name: repo.fullName,
    private: repo.isPrivate,
    visibility: repo.isPrivate ? "private" : "public",
    owner: {
      login: repo.owner,
      id: repo.id,
      node_id: nodeId("U", repo.owner),
      type: "User",
      url: ownerUrl,
      html_url: urls.html.replace(/\/[^/]+$/, ""),
    },
    html_url: urls.html,
    description: null,
    fork: false,
    url: urls.api,
    git_url: `${urls.html}.git`,
    clone_url: `${urls.html}.git`,
    default_branch: repo.defaultBranch,
    archived: false,
    disabled: false,
    size: 0,
    created_at: repo.createdAt.toISOString().replace(/\.\d{3}Z$/, "Z"),
    updated_at: repo.pushedAt.toISOString().replace(/\.\d{3}Z$/, "Z"),
    pushed_at: repo.pushedAt.toISOString().replace(/\.\d{3}Z$/, "Z"),
    ...(owns
      ? { permissions: { admin: true, maintain: true, push: principal.canWrite, triage: true, pull: true } }
      : {}),
  };
}

function withLink(link: string | undefined): Record<string, string> {
  return link ? { link } : {};
}

export const repoRoutes: Route[] = [
  {
    method: "GET",
    pattern: /^$/,
    docs: DOCS.getRepo,
    async handle(context) {
      context.json(200, repositoryBody(context));
    },
  },
  {
    method: "GET",
    pattern: /^\/branches$/,
    docs: DOCS.listBranches,
    async handle(context) {
      const heads = (await context.repo.git.refs()).filter((record) => record.ref.startsWith("refs/heads/"));
      const page = paginate(heads, context.url, new URL(context.apiBase).origin);
      context.json(
        200,
        page.items.map((record) => {
          const name = record.ref.slice("refs/heads/".length);
          return {
            name,
            commit: { sha: record.sha, url: `${context.urls.api}/commits/${record.sha}` },
            protected: false,
          };
        }),
        withLink(page.link),
      );
    },
  },
  {
    method: "GET",
    pattern: /^\/branches\/(.+)$/,
    docs: DOCS.getBranch,
    async handle(context) {
      const name = context.params[0]!;
      const sha = await context.repo.branchHead(name);
      if (!sha) throw new HttpError(404, "Branch not found", DOCS.getBranch);
      context.json(200, branch(context.urls, name, await context.repo.git.readCommit(sha)));
    },
  },
  {
    method: "GET",
    pattern: /^\/tags$/,
    docs: DOCS.listTags,
    async handle(context) {
      const tags = (await context.repo.git.refs()).filter((record) => record.ref.startsWith("refs/tags/"));
      const page = paginate(tags, context.url, new URL(context.apiBase).origin);
      context.json(
        200,
        page.items.map((record) => {
          const name = record.ref.slice("refs/tags/".length);
          const commit = record.peeled ?? record.sha;
          return {
            name,
            commit: { sha: commit, url: `${context.urls.api}/commits/${commit}` },
            zipball_url: `${context.urls.api}/zipball/refs/tags/${encodeURIComponent(name)}`,
            tarball_url: `${context.urls.api}/tarball/refs/tags/${encodeURIComponent(name)}`,
            node_id: nodeId("REF", record.ref),
          };
        }),
        withLink(page.link),
      );
    },
  },
  {
    method: "GET",
    pattern: /^\/commits$/,
    docs: DOCS.listCommits,
    async handle(context) {
      const { repo, url } = context;
      if (!(await repo.git.hasCommits())) throw emptyRepository(DOCS.listCommits);
      const start = await repo.resolveCommit(url.searchParams.get("sha") ?? repo.defaultBranch);
      if (!start) throw notFound(DOCS.listCommits);
      const path = url.searchParams.get("path") ?? undefined;
      const { perPage, page } = pageParams(url);
      const total = await repo.git.countCommits(start, path);
      const shas = await repo.git.revList(start, { skip: (page - 1) * perPage, max: perPage, path });
      const commits = await Promise.all(shas.map((sha) => repo.git.readCommit(sha)));
      const last = Math.max(1, Math.ceil(total / perPage));
      context.json(
        200,
        commits.map((commit) => repoCommit(context.urls, commit)),
        withLink(linkHeader(url, new URL(context.apiBase).origin, page, last, perPage)),
      );
    },
  },
  {
    method: "GET",
    pattern: /^\/commits\/(.+)$/,
    docs: DOCS.getCommit,
    async handle(context) {
      const { repo } = context;
      if (!(await repo.git.hasCommits())) throw emptyRepository(DOCS.getCommit);
      const ref = context.params[0]!;
      const sha = await repo.resolveCommit(ref);
      if (!sha) throw new HttpError(422, `No commit found for SHA: ${ref}`, DOCS.getCommit);
      if (mediaFormat(context.request.headers.accept) === "sha") {
        context.raw(200, sha, "application/vnd.github.sha; charset=utf-8", {
          "x-github-media-type": "github.v3; param=sha",
        });
        return;
      }
      context.json(200, repoCommit(context.urls, await repo.git.readCommit(sha)));
    },
  },
];
