/** Which branch a storage's writes go to, found through the git refs API. */
import { errors } from "@ferry/plugin-kit";
import type { Octokit } from "@octokit/rest";
import { isCommitSha } from "../capabilities.ts";
import { httpStatus } from "../errors.ts";
import type { RepoRef, TreeReader } from "./trees.ts";

export interface WritableBranch {
  branch: string;
  /** The repository has no commit yet (its first commit can only start the default branch). */
  empty: boolean;
}

/**
 * The branch writes go to: the ref when it is a branch, else the default branch; tags and shas are
 * read-only. `describe` names the storage (`owner/repo@ref`) in messages.
 */
export async function writableBranch(
  api: Octokit,
  where: RepoRef & { describe: string },
  trees: TreeReader,
): Promise<WritableBranch> {
  const { owner, repo, ref } = where;
  const readOnly = (kind: string) =>
    errors.unsupported(
      `${where.describe} is a ${kind}; only branches are writable (use github://${owner}/${repo}@<branch>)`,
      { system: "github" },
    );
  if (ref === undefined) {
    const branch = await trees.defaultBranch();
    return { branch, empty: (await probeBranch(api, where, branch)) === "empty" };
  }
  if (isCommitSha(ref)) throw readOnly("commit");
  const state = await probeBranch(api, where, ref);
  if (state === "exists") return { branch: ref, empty: false };
  if (state === "empty") {
    const defaultBranch = await trees.defaultBranch();
    if (ref === defaultBranch) return { branch: ref, empty: true };
    throw errors.notFound(
      `ref "${ref}" was not found in ${owner}/${repo}: the repository is empty, and its first commit can only start the default branch "${defaultBranch}"`,
      { system: "github" },
    );
  }
  try {
    await api.git.getRef({ owner, repo, ref: `tags/${ref}` });
  } catch (error) {
    if (httpStatus(error) !== 404) throw error;
    await trees.head();
    throw readOnly("commit");
  }
  throw readOnly("tag");
}

/** Whether `branch` exists, is missing, or the repository is empty (no branch at all yet). */
async function probeBranch(
  api: Octokit,
  where: { owner: string; repo: string },
  branch: string,
): Promise<"exists" | "missing" | "empty"> {
  try {
    await api.git.getRef({ owner: where.owner, repo: where.repo, ref: `heads/${branch}` });
    return "exists";
  } catch (error) {
    if (httpStatus(error) === 404) return "missing";
    if (httpStatus(error) === 409) return "empty";
    throw error;
  }
}
