/**
 * `PUT` and `DELETE /repos/{o}/{r}/contents/{path}`: one file changed as one commit on a branch,
 * with GitHub's conflict answers (422 `"sha" wasn't supplied`, 409 `<path> does not match <sha>`,
 * 409 `is at <head> but expected <head>`). PUT is also how GitHub starts an empty repository.
 */
import type { Route, RouteContext } from "./context.ts";
import { ZERO_SHA } from "./git.ts";
import { HttpError, notFound, readJsonBody } from "./http.ts";
import { signatureInput, userSignature } from "./identity.ts";
import { contentItem, gitCommit } from "./shapes.ts";
import { buildTree } from "./tree-builder.ts";

const DOCS = {
  put: "https://docs.github.com/rest/repos/contents#create-or-update-file-contents",
  delete: "https://docs.github.com/rest/repos/contents#delete-a-file",
};

interface FileChange {
  path: string;
  message: string;
  branch: string;
  /** The blob sha the caller says it is replacing or deleting. */
  expectedSha: string | undefined;
}

async function parseChange(
  context: RouteContext,
  body: Record<string, unknown>,
  docs: string,
): Promise<FileChange> {
  const path = (context.params[0] ?? "").replace(/^\/+|\/+$/g, "");
  if (
    path === "" ||
    path.split("/").some((segment) => segment === "." || segment === ".." || segment === ".git")
  ) {
    throw new HttpError(422, "path contains a malformed path component", docs);
  }
  if (typeof body.message !== "string")
    throw new HttpError(422, 'Invalid request.\n\n"message" wasn\'t supplied.', docs);
  const branch = typeof body.branch === "string" ? body.branch : context.repo.defaultBranch;
  const expectedSha = typeof body.sha === "string" ? body.sha : undefined;
  return { path, message: body.message, branch, expectedSha };
}

/** Commit a one-path change on the branch head; a concurrent move of the branch is 409. */
async function commitChange(
  context: RouteContext,
  body: Record<string, unknown>,
  change: FileChange,
  docs: string,
  apply: (
    existing: { sha: string; mode: string } | undefined,
    head: string | undefined,
  ) => Promise<{ sha: string | null; mode: string }>,
) {
  const { repo } = context;
  return repo.exclusive(async () => {
    const head = await repo.branchHead(change.branch);
    // On an empty repository the first PUT creates the default branch; otherwise the branch must exist.
    if (!head && ((await repo.git.hasCommits()) || change.branch !== repo.defaultBranch))
      throw notFound(docs);
    const baseTree = head ? (await repo.git.readCommit(head)).tree : undefined;
    const found = head ? await repo.git.entryAt(head, change.path) : undefined;
    const existing = found?.type === "blob" ? { sha: found.sha, mode: found.mode } : undefined;
    const next = await apply(existing, head);
    const tree = await buildTree(repo.git, baseTree, [
      { path: change.path, mode: next.mode, type: "blob", sha: next.sha, content: undefined },
    ]);
    const author = signatureInput(body.author, userSignature(context.principal), "author", docs);
    const committer = signatureInput(body.committer, author, "committer", docs);
    const sha = await repo.git.writeCommit({
      tree,
      parents: head ? [head] : [],
      author,
      committer,
      message: change.message,
    });
    if (!(await repo.git.updateRef(`refs/heads/${change.branch}`, sha, head ?? ZERO_SHA))) {
      const actual = await repo.branchHead(change.branch);
      throw new HttpError(409, `is at ${actual} but expected ${head ?? ZERO_SHA}`, docs);
    }
    repo.pushedAt = new Date();
    return { commit: await repo.git.readCommit(sha), existing };
  });
}

export const contentWriteRoutes: Route[] = [
  {
    method: "PUT",
    pattern: /^\/contents\/(.+)$/,
    docs: DOCS.put,
    write: true,
    async handle(context) {
      const body = await readJsonBody(context.request, DOCS.put);
      const change = await parseChange(context, body, DOCS.put);
      if (typeof body.content !== "string" || !/^[A-Za-z0-9+/=\s]*$/.test(body.content)) {
        throw new HttpError(
          422,
          'Invalid request.\n\n"content" wasn\'t supplied or is not Base64.',
          DOCS.put,
        );
      }
      const bytes = Buffer.from(body.content, "base64");
      let blob = "";
      const { commit, existing } = await commitChange(context, body, change, DOCS.put, async (current) => {
        if (current && change.expectedSha === undefined)
          throw new HttpError(422, 'Invalid request.\n\n"sha" wasn\'t supplied.', DOCS.put);
        if (current && change.expectedSha !== current.sha)
          throw new HttpError(409, `${change.path} does not match ${change.expectedSha}`, DOCS.put);
        blob = await context.repo.git.writeBlob(bytes);
        return { sha: blob, mode: current?.mode ?? "100644" };
      });
      const entry = {
        mode: "100644",
        type: "blob" as const,
        sha: blob,
        size: bytes.byteLength,
        path: change.path,
      };
      context.json(existing ? 200 : 201, {
        content: contentItem(context.urls, change.branch, change.path, entry, "file"),
        commit: gitCommit(context.urls, commit),
      });
    },
  },
  {
    method: "DELETE",
    pattern: /^\/contents\/(.+)$/,
    docs: DOCS.delete,
    write: true,
    async handle(context) {
      const body = await readJsonBody(context.request, DOCS.delete);
      const change = await parseChange(context, body, DOCS.delete);
      if (change.expectedSha === undefined)
        throw new HttpError(422, 'Invalid request.\n\n"sha" wasn\'t supplied.', DOCS.delete);
      const { commit } = await commitChange(context, body, change, DOCS.delete, async (current) => {
        if (!current) throw notFound(DOCS.delete);
        if (change.expectedSha !== current.sha)
          throw new HttpError(409, `${change.path} does not match ${change.expectedSha}`, DOCS.delete);
        return { sha: null, mode: current.mode };
      });
      context.json(200, { content: null, commit: gitCommit(context.urls, commit) });
    },
  },
];
