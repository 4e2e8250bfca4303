/**
 * The github URL grammar: `github://owner/repo@ref/path` (no `@ref`: the default branch),
 * `https://github.com/owner/repo[/tree|blob/ref/path]`, and `{ system: "github", path:
 * "owner/repo/path", ref }`.
 */

import {
  type GenericLocation,
  type Location,
  type LocationGrammar,
  normalizeKey,
  redactSecrets,
  refuse,
} from "@ferry/plugin-kit";

const NAME = /^[A-Za-z0-9_.-]+$/;

function githubLocation(
  owner: string,
  repo: string,
  ref: string | undefined,
  path: string,
  input: string,
): Location {
  if (!NAME.test(owner) || !NAME.test(repo))
    refuse(`invalid GitHub owner or repository name in ${input}`, input);
  const key = normalizeKey(path, { allowRoot: true, system: "github" });
  const root = `${owner}/${repo}${ref ? `@${ref}` : ""}`;
  const location: Location = {
    system: "github",
    root,
    path: key,
    url: `github://${owner}/${repo}${ref ? `@${encodeURIComponent(ref)}` : ""}/${key}`,
    owner,
    repo,
  };
  if (ref) location.ref = ref;
  return location;
}

/** `https://github.com/owner/repo[/tree|blob/ref/path]` (the path arrives percent-decoded). */
function fromWebUrl(rest: string, input: string): Location {
  const [owner, repo, kind, ref, ...path] = rest.split("/").filter(Boolean);
  if (!owner || !repo) refuse(`GitHub URL needs an owner and a repository: ${input}`, input);
  if (kind !== undefined && kind !== "tree" && kind !== "blob") {
    refuse(`GitHub URL must be https://github.com/owner/repo[/tree|blob/ref/path]: ${input}`, input);
  }
  if (kind !== undefined && !ref) refuse(`GitHub URL has /${kind}/ but no ref: ${input}`, input);
  return githubLocation(owner, repo.replace(/\.git$/, ""), ref, path.join("/"), input);
}

/** `owner/repo@ref/path` as written after `github://`. */
function fromGithubUrl(text: string, input: string): Location {
  const parts = text.split("/");
  const owner = parts[0];
  let repo = parts[1];
  if (!owner || !repo)
    refuse(`GitHub URL needs an owner and a repository (github://owner/repo@ref/path): ${input}`, input);
  if (owner.includes(":")) refuse(`credentials are never taken from a URL: ${redactSecrets(input)}`, input);
  let ref: string | undefined;
  const at = repo.indexOf("@");
  if (at !== -1) {
    ref = decodeURIComponent(repo.slice(at + 1));
    repo = repo.slice(0, at);
    if (!ref) refuse(`empty ref after "@" in ${input}`, input);
  }
  return githubLocation(owner, repo, ref, parts.slice(2).join("/"), input);
}

export function parseGithubLocation(generic: GenericLocation): Location {
  switch (generic.form) {
    case "https":
      return fromWebUrl(generic.rest, generic.input);
    case "object": {
      const [owner, repo, ...rest] = generic.rest.replace(/^\/+/, "").split("/");
      const ref = generic.fields.ref;
      const at = typeof ref === "string" ? `@${encodeURIComponent(ref)}` : "";
      return fromGithubUrl(`${owner ?? ""}/${repo ?? ""}${at}/${rest.join("/")}`, generic.input);
    }
    default:
      return fromGithubUrl(`${generic.authority}/${generic.rest}`, generic.input);
  }
}

/** The github plugin's `location` hook (rclone has no backend for it). */
export function githubGrammar(): LocationGrammar {
  return { parse: parseGithubLocation, rootNoun: "repository" };
}
