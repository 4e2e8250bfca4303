/** The git data API: refs, commits, trees, blobs and tag objects, mapped onto git plumbing. */
import type { Route, RouteContext } from "./context.ts";
import { type RefRecord, ZERO_SHA } from "./git.ts";
import { emptyRepository, HttpError, mediaFormat, notFound, readJsonBody, wrappedBase64 } from "./http.ts";
import { signatureInput, userSignature } from "./identity.ts";
import { gitCommit, gitRef, gitTree, nodeId } from "./shapes.ts";
import { buildTree, parseTreeChanges } from "./tree-builder.ts";

const DOCS = {
  getRef: "https://docs.github.com/rest/git/refs#get-a-reference",
  matchingRefs: "https://docs.github.com/rest/git/refs#list-matching-references",
  createRef: "https://docs.github.com/rest/git/refs#create-a-reference",
  updateRef: "https://docs.github.com/rest/git/refs#update-a-reference",
  deleteRef: "https://docs.github.com/rest/git/refs#delete-a-reference",
  getCommit: "https://docs.github.com/rest/git/commits#get-a-commit-object",
  createCommit: "https://docs.github.com/rest/git/commits#create-a-commit",
  getTree: "https://docs.github.com/rest/git/trees#get-a-tree",
  createTree: "https://docs.github.com/rest/git/trees#create-a-tree",
  getBlob: "https://docs.github.com/rest/git/blobs#get-a-blob",
  createBlob: "https://docs.github.com/rest/git/blobs#create-a-blob",
  getTag: "https://docs.github.com/rest/git/tags#get-a-tag",
};

async function requireCommits(context: RouteContext, docs: string): Promise<void> {
  if (!(await context.repo.git.hasCommits())) throw emptyRepository(docs);
}

/** `heads/main` → the ref record, or undefined. */
function findRef(context: RouteContext, ref: string): Promise<RefRecord | undefined> {
  return context.repo.git.readRef(`refs/${ref}`);
}

function created<T extends { url: string }>(context: RouteContext, body: T): void {
  context.json(201, body, { location: body.url });
}

export const gitRoutes: Route[] = [
  {
    method: "GET",
    pattern: /^\/git\/ref\/(.+)$/,
    docs: DOCS.getRef,
    async handle(context) {
      await requireCommits(context, DOCS.getRef);
      const record = await findRef(context, context.params[0]!);
      if (!record) throw notFound(DOCS.getRef);
      context.json(200, gitRef(context.urls, record));
    },
  },
  {
    method: "GET",
    pattern: /^\/git\/matching-refs(?:\/(.*))?$/,
    docs: DOCS.matchingRefs,
    async handle(context) {
      await requireCommits(context, DOCS.matchingRefs);
      const prefix = `refs/${context.params[0] ?? ""}`;
      const records = (await context.repo.git.refs()).filter((record) => record.ref.startsWith(prefix));
      context.json(
        200,
        records.map((record) => gitRef(context.urls, record)),
      );
    },
  },
  {
    method: "POST",
    pattern: /^\/git\/refs$/,
    docs: DOCS.createRef,
    write: true,
    async handle(context) {
      const body = await readJsonBody(context.request, DOCS.createRef);
      const { ref, sha } = body;
      if (
        typeof ref !== "string" ||
        !/^refs\/[^/]+\/.+/.test(ref) ||
        ref.includes("..") ||
        ref.endsWith("/")
      ) {
        throw new HttpError(422, `${String(ref)} is not a valid ref name.`, DOCS.createRef);
      }
      if (typeof sha !== "string" || !(await context.repo.git.objectType(sha)))
        throw new HttpError(422, "Object does not exist", DOCS.createRef);
      const ok = await context.repo.exclusive(() => context.repo.git.updateRef(ref, sha, ZERO_SHA));
      if (!ok) throw new HttpError(422, "Reference already exists", DOCS.createRef);
      const record = (await findRef(context, ref.slice("refs/".length)))!;
      created(context, gitRef(context.urls, record));
    },
  },
  {
    method: "PATCH",
    pattern: /^\/git\/refs\/(.+)$/,
    docs: DOCS.updateRef,
    write: true,
    async handle(context) {
      const body = await readJsonBody(context.request, DOCS.updateRef);
      const { sha, force } = body;
      if (typeof sha !== "string")
        throw new HttpError(422, 'Invalid request.\n\n"sha" wasn\'t supplied.', DOCS.updateRef);
      const name = context.params[0]!.replace(/^refs\//, "");
      const { repo } = context;
      const record = await repo.exclusive(async () => {
        const current = await findRef(context, name);
        if (!current) throw new HttpError(422, "Reference does not exist", DOCS.updateRef);
        const type = await repo.git.objectType(sha);
        if (!type) throw new HttpError(422, "Object does not exist", DOCS.updateRef);
        if (force !== true) {
          // Most updates are a direct child of the current head: no need to ask merge-base.
          const fastForward =
            type === "commit" &&
            current.type === "commit" &&
            ((await repo.git.readCommit(sha)).parents.includes(current.sha) ||
              (await repo.git.isAncestor(current.sha, sha)));
          if (!fastForward) throw new HttpError(422, "Update is not a fast forward", DOCS.updateRef);
        }
        // Compare-and-swap against the value just checked: git refuses if the ref moved meanwhile.
        if (!(await repo.git.updateRef(current.ref, sha, current.sha)))
          throw new HttpError(422, "Update is not a fast forward", DOCS.updateRef);
        repo.pushedAt = new Date();
        return { ...current, sha, type, peeled: undefined };
      });
      context.json(200, gitRef(context.urls, record));
    },
  },
  {
    method: "DELETE",
    pattern: /^\/git\/refs\/(.+)$/,
    docs: DOCS.deleteRef,
    write: true,
    async handle(context) {
      const name = context.params[0]!.replace(/^refs\//, "");
      await context.repo.exclusive(async () => {
        const current = await findRef(context, name);
        if (!current) throw new HttpError(422, "Reference does not exist", DOCS.deleteRef);
        await context.repo.git.deleteRef(current.ref);
      });
      context.empty(204);
    },
  },
  {
    method: "GET",
    pattern: /^\/git\/commits\/([^/]+)$/,
    docs: DOCS.getCommit,
    async handle(context) {
      await requireCommits(context, DOCS.getCommit);
      const sha = context.params[0]!;
      if ((await context.repo.git.objectType(sha)) !== "commit") throw notFound(DOCS.getCommit);
      context.json(200, gitCommit(context.urls, await context.repo.git.readCommit(sha)));
    },
  },
  {
    method: "POST",
    pattern: /^\/git\/commits$/,
    docs: DOCS.createCommit,
    write: true,
    async handle(context) {
      const body = await readJsonBody(context.request, DOCS.createCommit);
      const { git } = context.repo;
      if (typeof body.message !== "string")
        throw new HttpError(422, 'Invalid request.\n\n"message" wasn\'t supplied.', DOCS.createCommit);
      if (typeof body.tree !== "string" || (await git.objectType(body.tree)) !== "tree") {
        throw new HttpError(422, "Tree SHA does not exist", DOCS.createCommit);
      }
      const parents = body.parents ?? [];
      if (!Array.isArray(parents))
        throw new HttpError(422, "Invalid request.\n\n'parents' is not an array.", DOCS.createCommit);
      for (const parent of parents) {
        if (typeof parent !== "string" || (await git.objectType(parent)) !== "commit") {
          throw new HttpError(422, "Parent SHA does not exist or is not a commit object", DOCS.createCommit);
        }
      }
      const author = signatureInput(
        body.author,
        userSignature(context.principal),
        "author",
        DOCS.createCommit,
      );
      const committer = signatureInput(body.committer, author, "committer", DOCS.createCommit);
      const sha = await git.writeCommit({
        tree: body.tree,
        parents: parents as string[],
        author,
        committer,
        message: body.message,
      });
      created(context, gitCommit(context.urls, await git.readCommit(sha)));
    },
  },
  {
    method: "GET",
    pattern: /^\/git\/trees\/(.+)$/,
    docs: DOCS.getTree,
    async handle(context) {
      await requireCommits(context, DOCS.getTree);
      const { repo, settings } = context;
      const treeSha = await resolveTree(context, context.params[0]!);
      if (!treeSha) throw notFound(DOCS.getTree);
      const recursive = context.url.searchParams.has("recursive");
      const entries = await repo.git.listTree(treeSha, { recursive });
      const truncated = entries.length > settings.treeEntryLimit;
      context.json(
        200,
        gitTree(
          context.urls,
          treeSha,
          truncated ? entries.slice(0, settings.treeEntryLimit) : entries,
          truncated,
        ),
      );
    },
  },
  {
    method: "POST",
    pattern: /^\/git\/trees$/,
    docs: DOCS.createTree,
    write: true,
    async handle(context) {
      const body = await readJsonBody(context.request, DOCS.createTree);
      const { git } = context.repo;
      const changes = parseTreeChanges(body.tree);
      let base: string | undefined;
      if (body.base_tree !== undefined && body.base_tree !== null) {
        if (typeof body.base_tree !== "string" || (await git.objectType(body.base_tree)) !== "tree") {
          throw new HttpError(422, "base_tree is not a valid tree oid", DOCS.createTree);
        }
        base = body.base_tree;
      }
      const sha = await buildTree(git, base, changes);
      created(context, gitTree(context.urls, sha, await git.listTree(sha), false));
    },
  },
  {
    method: "GET",
    pattern: /^\/git\/blobs\/([^/]+)$/,
    docs: DOCS.getBlob,
    async handle(context) {
      await requireCommits(context, DOCS.getBlob);
      const { git } = context.repo;
      const sha = context.params[0]!;
      if ((await git.objectType(sha)) !== "blob") throw notFound(DOCS.getBlob);
      const size = await git.blobSize(sha);
      if (size > context.settings.blobMaxBytes) {
        throw new HttpError(
          403,
          "This API returns blobs up to 100 MB in size. The requested blob is too large to fetch via the API.",
          DOCS.getBlob,
          {
            errors: [{ resource: "Blob", field: "data", code: "too_large" }],
          },
        );
      }
      if (mediaFormat(context.request.headers.accept) === "raw") {
        context.raw(200, git.streamBlob(sha), "application/vnd.github.raw; charset=utf-8", {
          "content-length": String(size),
          "x-github-media-type": "github.v3; param=raw; format=json",
        });
        return;
      }
      const content = await git.readBlob(sha);
      context.json(200, {
        sha,
        node_id: nodeId("B", sha),
        size,
        url: `${context.urls.api}/git/blobs/${sha}`,
        content: wrappedBase64(content),
        encoding: "base64",
      });
    },
  },
  {
    method: "POST",
    pattern: /^\/git\/blobs$/,
    docs: DOCS.createBlob,
    write: true,
    async handle(context) {
      const body = await readJsonBody(context.request, DOCS.createBlob);
      if (!(await context.repo.git.hasCommits())) throw emptyRepository(DOCS.createBlob);
      const { content, encoding = "utf-8" } = body;
      if (typeof content !== "string")
        throw new HttpError(422, 'Invalid request.\n\n"content" wasn\'t supplied.', DOCS.createBlob);
      let bytes: Buffer;
      if (encoding === "base64") {
        if (!/^[A-Za-z0-9+/=\s]*$/.test(content))
          throw new HttpError(422, "content is not valid Base64", DOCS.createBlob);
        bytes = Buffer.from(content, "base64");
      } else if (encoding === "utf-8" || encoding === "utf8") {
        bytes = Buffer.from(content, "utf8");
      } else {
        throw new HttpError(
          422,
          `encoding must be "utf-8" or "base64", got ${JSON.stringify(encoding)}`,
          DOCS.createBlob,
        );
      }
      const sha = await context.repo.git.writeBlob(bytes);
      created(context, { url: `${context.urls.api}/git/blobs/${sha}`, sha });
    },
  },
  {
    method: "GET",
    pattern: /^\/git\/tags\/([^/]+)$/,
    docs: DOCS.getTag,
    async handle(context) {
      const { git } = context.repo;
      const sha = context.params[0]!;
      if ((await git.objectType(sha)) !== "tag") throw notFound(DOCS.getTag);
      const tag = await git.readTag(sha);
      context.json(200, {
        node_id: nodeId("TAG", sha),
        tag: tag.tag,
        sha,
        url: `${context.urls.api}/git/tags/${sha}`,
        message: tag.message,
        tagger: tag.tagger,
        object: {
          type: tag.type,
          sha: tag.object,
          url: `${context.urls.api}/git/${tag.type}s/${tag.object}`,
        },
        verification: {
          verified: false,
          reason: "unsigned",
          signature: null,
          payload: null,
          verified_at: null,
        },
      });
    },
  },
];

/** A tree sha, a commit sha, a branch or tag name, or `<ref>:<path>` → tree sha. */
async function resolveTree(context: RouteContext, name: string): Promise<string | undefined> {
  const { repo } = context;
  const colon = name.indexOf(":");
  if (colon !== -1) {
    const commit = await repo.resolveCommit(name.slice(0, colon));
    if (!commit) return undefined;
    const path = name.slice(colon + 1).replace(/^\/+|\/+$/g, "");
    if (path === "") return (await repo.git.readCommit(commit)).tree;
    const entry = await repo.git.entryAt(commit, path);
    return entry?.type === "tree" ? entry.sha : undefined;
  }
  const type = await repo.git.objectType(name);
  if (type === "tree") return name;
  if (type === "commit") return (await repo.git.readCommit(name)).tree;
  const commit = await repo.resolveCommit(name);
  return commit ? (await repo.git.readCommit(commit)).tree : undefined;
}
