/**
 * Locations: a URL or a `{ system, path }` pair, parsed into one shape before any plugin is loaded.
 * Keys are taken literally (no percent-decoding), as aws-cli and rclone do, so `s3://b/a%20b` names
 * the key `a%20b`. Credentials are never accepted in a URL, and never echoed back in an error.
 */
import { homedir } from "node:os";
import { isAbsolute, resolve as resolvePath } from "node:path";
import { errors, hasUrlCredentials, normalizeKey, redactSecrets as redact, wording } from "@ferry/plugin-kit";
import { findSshHost } from "./ssh-config.ts";

/** Canonical system names. `ssh` is an alias of `sftp`. */
export type SystemName = "file" | "s3" | "gs" | "az" | "sftp" | "github" | (string & {});

export interface Location {
  system: SystemName;
  /**
   * Identity of the storage instance this location lives in: "/" for the local file system,
   * the bucket or container name, `user@host:port` (+ `/~` for home-relative paths), `owner/repo@ref`.
   * Storages are created and cached per (system, root).
   */
  root: string;
  /** Key within that root: no leading slash; "" is the root itself. */
  path: string;
  /** The canonical URL, without credentials. */
  url: string;
  bucket?: string;
  container?: string;
  account?: string;
  host?: string;
  port?: number;
  user?: string;
  /** The ~/.ssh/config Host alias this location was written with. */
  alias?: string;
  /** SFTP: path is relative to the login's home directory. */
  homeRelative?: boolean;
  owner?: string;
  repo?: string;
  /** Git ref (branch, tag or sha); undefined means the repository's default branch. */
  ref?: string;
}

/** A location object as users write it: `{ system: "s3", path: "bucket/prefix" }`. */
export interface LocationSpec {
  system: string;
  path?: string;
  /** Extra fields for systems that need them (account for az, host/user/port for sftp, ref for github). */
  [key: string]: unknown;
}

export type LocationLike = string | Location | LocationSpec;

const SCHEME_ALIASES: Record<string, SystemName> = {
  file: "file",
  local: "file",
  s3: "s3",
  gs: "gs",
  gcs: "gs",
  az: "az",
  azure: "az",
  sftp: "sftp",
  ssh: "sftp",
  github: "github",
};

/** Schemes ferry knows the first-party plugin for. Third-party schemes parse generically. */
export function canonicalSystem(name: string): SystemName {
  return SCHEME_ALIASES[name.toLowerCase()] ?? name.toLowerCase();
}

function bad(message: string, input: string): never {
  throw errors.invalidInput(message, { path: redact(input) });
}

const BUCKET = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;
const CONTAINER = /^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/;

function isLocation(value: unknown): value is Location {
  return (
    typeof value === "object" && value !== null && "root" in value && "url" in value && "system" in value
  );
}

export interface ParseOptions {
  /** Base for relative local paths (default: process.cwd()). */
  cwd?: string;
}

/** Parse a URL, a path or a `{ system, path }` pair. Malformed input raises InvalidInput naming the problem. */
export function parseLocation(input: LocationLike, options: ParseOptions = {}): Location {
  if (isLocation(input)) return input;
  if (typeof input === "object" && input !== null) return fromSpec(input, options);
  if (typeof input !== "string") {
    throw errors.invalidInput(`a location must be a URL string or { system, path }, got ${typeof input}`);
  }
  if (input.trim() === "") throw errors.invalidInput("location is empty");
  const schemeMatch = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(input);
  if (schemeMatch) {
    const scheme = schemeMatch[1]!.toLowerCase();
    const rest = input.slice(schemeMatch[0].length);
    if (hasUrlCredentials(input)) {
      const remedy =
        canonicalSystem(scheme) === "sftp"
          ? "passwords are never taken from a URL; use a key or ssh-agent"
          : "credentials are never taken from a URL; configure them in the environment or the plugin's options";
      bad(`${remedy}: ${redact(input)}`, input);
    }
    if (scheme === "https" || scheme === "http") return parseHttps(input);
    const system = canonicalSystem(scheme);
    switch (system) {
      case "file":
        return parseFile(
          rest.startsWith("/")
            ? decodeURIComponent(rest)
            : bad(`file URLs must be absolute (file:///path): ${input}`, input),
          options,
        );
      case "s3":
      case "gs":
        return parseBucket(system as "s3" | "gs", rest, input);
      case "az":
        return parseAzure(rest, input);
      case "sftp":
        return parseSftp(rest, input);
      case "github":
        return parseGithub(rest, input);
      default:
        return parseGeneric(system, rest, input);
    }
  }
  // scp-like `host:path` / `user@host:path` — only for ssh config aliases or an explicit user@.
  const scp = /^(?:([^@/:\s]+)@)?([^@/:\s]+):(.*)$/.exec(input);
  if (scp && !/^[a-zA-Z]:[\\/]/.test(input)) {
    const [, user, host, path] = scp;
    if (user !== undefined || findSshHost(host!) !== undefined) {
      return sftpLocation({ user, host: host!, path: path!, input });
    }
  }
  return parseFile(input, options);
}

function parseFile(input: string, options: ParseOptions): Location {
  let path = input;
  if (path === "~" || path.startsWith("~/")) path = homedir() + path.slice(1);
  const absolute = isAbsolute(path) ? path : resolvePath(options.cwd ?? process.cwd(), path);
  const normalized = resolvePath(absolute);
  const key = normalized.split("/").filter(Boolean).join("/");
  return { system: "file", root: "/", path: key, url: `file:///${key}` };
}

function splitFirst(rest: string): [string, string] {
  const index = rest.indexOf("/");
  return index === -1 ? [rest, ""] : [rest.slice(0, index), rest.slice(index + 1)];
}

function parseBucket(system: "s3" | "gs", rest: string, input: string): Location {
  const [bucket, key] = splitFirst(rest);
  if (bucket.includes("@"))
    bad(`credentials are never taken from a URL; configure them in the environment: ${redact(input)}`, input);
  if (!bucket) bad(`${system}:// URL has no bucket: ${input}`, input);
  if (!BUCKET.test(bucket)) {
    bad(
      `invalid bucket name "${bucket}": 3-63 characters, lower-case letters, digits, dots and hyphens`,
      input,
    );
  }
  const path = normalizeKey(key, { allowRoot: true, system });
  return { system, root: bucket, bucket, path, url: `${system}://${bucket}/${path}` };
}

function parseAzure(rest: string, input: string): Location {
  const [head, key] = splitFirst(rest);
  // az://container/path, or az://account@container/path would look like credentials: use options/env for the account.
  if (head.includes("@") || head.includes(":")) {
    bad(
      `az:// URLs name a container (az://container/path); the account comes from ${wording({ library: "options or the environment", cli: "the environment" })}: ${redact(input)}`,
      input,
    );
  }
  if (!CONTAINER.test(head)) {
    bad(
      `invalid container name "${head}": 3-63 characters, lower-case letters, digits and single hyphens`,
      input,
    );
  }
  const path = normalizeKey(key, { allowRoot: true, system: "az" });
  return { system: "az", root: head, container: head, path, url: `az://${head}/${path}` };
}

function parseHttps(input: string): Location {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    bad(`not a valid URL: ${input}`, input);
  }
  if (url.username || url.password) bad(`credentials are never taken from a URL: ${redact(input)}`, input);
  if (url.hostname === "github.com" || url.hostname === "www.github.com") {
    const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    const [owner, repo, kind, ref, ...path] = parts;
    if (!owner || !repo) bad(`GitHub URL needs an owner and a repository: ${input}`, input);
    if (kind !== undefined && kind !== "tree" && kind !== "blob") {
      bad(`GitHub URL must be https://github.com/owner/repo[/tree|blob/ref/path]: ${input}`, input);
    }
    if (kind !== undefined && !ref) bad(`GitHub URL has /${kind}/ but no ref: ${input}`, input);
    return githubLocation(owner, repo.replace(/\.git$/, ""), ref, path.join("/"), input);
  }
  const blob = /^([a-z0-9]{3,24})\.blob\.core\.windows\.net$/.exec(url.hostname);
  if (blob) {
    const [container, key] = splitFirst(decodeURIComponent(url.pathname.slice(1)));
    const location = parseAzure(`${container}/${key}`, input);
    return { ...location, account: blob[1]! };
  }
  bad(
    `no storage system is known for ${url.protocol}//${url.host}: use s3://, gs://, az://, sftp:// or github:// URLs`,
    input,
  );
}

function parseSftp(rest: string, input: string): Location {
  const [authority, path] = splitFirst(rest);
  const match = /^(?:([^@:]+)(:[^@]*)?@)?(\[[^\]]+\]|[^:@]+)(?::(\d+))?$/.exec(authority);
  if (!match) bad(`malformed SSH URL (expected sftp://user@host:port/path): ${redact(input)}`, input);
  const [, user, password, host, port] = match;
  if (password !== undefined) {
    bad(`passwords are never taken from a URL; use a key or ssh-agent: ${redact(input)}`, input);
  }
  return sftpLocation({
    user,
    host: host!,
    port: port === undefined ? undefined : Number(port),
    path: `/${path}`,
    input,
  });
}

function sftpLocation(args: {
  user: string | undefined;
  host: string;
  port?: number | undefined;
  path: string;
  input: string;
}): Location {
  const { host, input } = args;
  if (!/^[A-Za-z0-9._\-[\]:]+$/.test(host)) bad(`invalid host name "${host}"`, input);
  if (args.port !== undefined && (!Number.isInteger(args.port) || args.port < 1 || args.port > 65535)) {
    bad(`invalid port ${args.port} in ${redact(input)}`, input);
  }
  const alias = findSshHost(host);
  const user = args.user ?? alias?.user;
  const port = args.port ?? alias?.port ?? 22;
  let path = args.path;
  // `/~/x` (URL form) and `~/x` or a bare relative path (scp form) are relative to the login's home.
  let homeRelative = false;
  if (path === "/~" || path.startsWith("/~/")) {
    homeRelative = true;
    path = path.slice(2);
  } else if (path === "~" || path.startsWith("~/")) {
    homeRelative = true;
    path = path.slice(1);
  } else if (!path.startsWith("/")) {
    homeRelative = true;
  }
  const key = normalizeKey(path, { allowRoot: true, system: "sftp" });
  const authority = `${user ? `${user}@` : ""}${host}${port === 22 ? "" : `:${port}`}`;
  const root = `${authority}${homeRelative ? "/~" : "/"}`;
  const location: Location = {
    system: "sftp",
    root,
    path: key,
    url: `sftp://${authority}/${homeRelative ? "~/" : ""}${key}`,
    host,
    port,
  };
  if (user !== undefined) location.user = user;
  if (alias) location.alias = host;
  if (homeRelative) location.homeRelative = true;
  return location;
}

function parseGithub(rest: string, input: string): Location {
  const parts = rest.split("/");
  const owner = parts[0];
  let repoPart = parts[1];
  if (!owner || !repoPart)
    bad(`GitHub URL needs an owner and a repository (github://owner/repo@ref/path): ${input}`, input);
  if (owner.includes(":")) bad(`credentials are never taken from a URL: ${redact(input)}`, input);
  let ref: string | undefined;
  const at = repoPart.indexOf("@");
  if (at !== -1) {
    ref = decodeURIComponent(repoPart.slice(at + 1));
    repoPart = repoPart.slice(0, at);
    if (!ref) bad(`empty ref after "@" in ${input}`, input);
  }
  return githubLocation(owner, repoPart, ref, parts.slice(2).join("/"), input);
}

function githubLocation(
  owner: string,
  repo: string,
  ref: string | undefined,
  path: string,
  input: string,
): Location {
  const name = /^[A-Za-z0-9_.-]+$/;
  if (!name.test(owner) || !name.test(repo))
    bad(`invalid GitHub owner or repository name in ${input}`, input);
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

function parseGeneric(system: string, rest: string, input: string): Location {
  const [root, key] = splitFirst(rest);
  if (root.includes("@") && root.includes(":"))
    bad(`credentials are never taken from a URL: ${redact(input)}`, input);
  const path = normalizeKey(key, { allowRoot: true, system });
  return { system, root, path, url: `${system}://${root}/${path}` };
}

function fromSpec(spec: LocationSpec, options: ParseOptions): Location {
  if (typeof spec.system !== "string" || spec.system === "") {
    throw errors.invalidInput(
      "a location object needs a `system` (file, s3, gs, az, sftp, github or an ssh host alias)",
    );
  }
  const path = spec.path ?? "";
  if (typeof path !== "string")
    throw errors.invalidInput(`location path must be a string, got ${typeof path}`);
  const system = canonicalSystem(spec.system);
  switch (system) {
    case "file":
      return parseFile(path === "" ? "." : path, options);
    case "s3":
    case "gs":
      return parseBucket(system as "s3" | "gs", path.replace(/^\/+/, ""), `${system}://${path}`);
    case "az": {
      const location = parseAzure(path.replace(/^\/+/, ""), `az://${path}`);
      return typeof spec.account === "string" ? { ...location, account: spec.account } : location;
    }
    case "sftp": {
      if (typeof spec.host !== "string") throw errors.invalidInput("an sftp location object needs a `host`");
      return sftpLocation({
        user: typeof spec.user === "string" ? spec.user : undefined,
        host: spec.host,
        port: typeof spec.port === "number" ? spec.port : undefined,
        path: path.startsWith("/") || path.startsWith("~") ? path : `~/${path}`,
        input: `sftp://${spec.host}/${path}`,
      });
    }
    case "github": {
      const [owner, repo, ...rest] = path.replace(/^\/+/, "").split("/");
      return parseGithub(
        `${owner ?? ""}/${repo ?? ""}${typeof spec.ref === "string" ? `@${encodeURIComponent(spec.ref)}` : ""}/${rest.join("/")}`,
        `github://${path}`,
      );
    }
    default:
      // A cluster named by its ~/.ssh/config alias: { system: "my-cluster", path: "data" }.
      if (findSshHost(spec.system) !== undefined) {
        return sftpLocation({
          user: undefined,
          host: spec.system,
          path: path.startsWith("/") || path.startsWith("~") ? path : `~/${path}`,
          input: `${spec.system}:${path}`,
        });
      }
      return parseGeneric(system, path.replace(/^\/+/, ""), `${system}://${path}`);
  }
}

/** The location `path` below `base` (same system and root). */
export function childLocation(base: Location, path: string): Location {
  const key = normalizeKey([base.path, path].filter(Boolean).join("/"), {
    allowRoot: true,
    system: base.system,
  });
  return withPath(base, key);
}

/** The same system and root, another key. */
export function withPath(base: Location, key: string): Location {
  const prefix = base.url.slice(0, base.url.length - base.path.length);
  return { ...base, path: key, url: `${prefix}${key}` };
}

/** A display string: the URL for remote systems, the absolute path for local ones. */
export function formatLocation(location: Location): string {
  return location.system === "file" ? `/${location.path}` : location.url;
}
