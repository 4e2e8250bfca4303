/**
 * Locations, as plugins see them: the shape every location has once its system's grammar has read
 * it (`Location`), what core's generic parse hands a grammar (`GenericLocation`), the grammar a
 * storage plugin implements (`LocationGrammar`, its `location` hook), and the helpers grammars share.
 * Core reads only the generic shape (`scheme://authority/rest`, a `{ system, path }` object,
 * `name:path`, an https URL whose host a plugin serves); the plugin turns that into the full location
 * once, on its way to the driver.
 */
import { errors } from "./errors.ts";
import { normalizeKey } from "./paths.ts";
import { redactSecrets } from "./redact.ts";

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
  /**
   * Present while only core's generic parse has read this location (`parseLocation` of anything but
   * a local path): root, path and url are then a first reading, and the system's plugin finishes
   * it (`registry.locate()`, or the plugin's `create()`). Absent once its grammar has read it.
   */
  generic?: GenericLocation;
}

/** A location object as users write it: `{ system: "s3", path: "bucket/prefix" }`. */
export interface LocationSpec {
  system: string;
  path?: string;
  /** Extra fields for systems that need them (account for az, host/user/port for sftp, ref for github). */
  [key: string]: unknown;
}

export type LocationLike = string | Location | LocationSpec;

/** What core's generic parse read from a location, for the system's grammar to finish. */
export interface GenericLocation {
  /** Canonical system name (aliases resolved: `gcs` → `gs`). For `name:path` and `{ system: name }`, the name as written. */
  system: string;
  /**
   * How it was written: `url` (`scheme://authority/rest`), `https` (an https URL whose host the
   * system serves), `scp` (`user@host:path` or `name:path`), `object` (`{ system, path, ...fields }`).
   */
  form: "url" | "https" | "scp" | "object";
  /** `url`: the text between `://` and the next `/`; `https`: the host name; `scp`: `user@host` or `name`; `object`: "". */
  authority: string;
  /** `url` and `https`: what follows the authority's `/`, as written (https: percent-decoded); `scp`: the path after `:`; `object`: `path`. */
  rest: string;
  /** The other keys of a location object (`host`, `user`, `port`, `account`, `ref`). */
  fields: Readonly<Record<string, unknown>>;
  /** The input as written, for error messages (redact before showing). */
  input: string;
  /** A key below the location, added with `childLocation` before the grammar read it. */
  below?: string | undefined;
}

/** A system's URL grammar: the `location` hook of a storage plugin. */
export interface LocationGrammar {
  /**
   * The full location: `root` (the storage instance, e.g. the bucket), `path` (the key, via
   * `normalizeKey`), the canonical `url`, and the system's own fields (bucket, container, account,
   * host, port, user, owner, repo, ref, ...). Malformed input raises InvalidInput naming the problem.
   */
  parse(generic: GenericLocation): Location;
  /**
   * For the system core's scheme table names for `name:path` strings (sftp): whether `name` is one
   * of its own (an ssh config Host alias), so `name:path` and `{ system: name }` are its locations.
   */
  claims?(name: string): boolean;
  /** What `claims` looks at, for a message naming every place a system name was looked for. */
  claimsWhat?(): string;
  /** What a root is called ("bucket", "container", "host", "repository"), for messages. Default "bucket". */
  readonly rootNoun?: string;
  /** What removing a whole root takes, for the refusal (sftp: "the home directory on that host"). Default "a whole <rootNoun>". */
  describeRoot?(location: Location): string;
  /** Where the plugin reads a default root from, named in the message when a system alone has none. */
  readonly defaultRootSetting?: { option: string; env: string } | undefined;
  /** The key, below the root, a named resource goes to when only the system is given (sftp: `.cache/ferry/<name>`). */
  namedKey?(kind: string, name: string): string;
  /** A location at `key` on this system as another machine must name it (an ssh alias becomes its HostName). */
  remoteUrl?(location: Location, key: string): string;
  /** rclone's on-the-fly remote for `key` (`:s3,env_auth=true:bucket/key`); absent: rclone cannot reach this system. */
  rcloneRemote?(location: Location, key: string): string;
}

/** InvalidInput with `message`, the input redacted in the error's path. */
export function refuse(message: string, input: string): never {
  throw errors.invalidInput(message, { path: redactSecrets(input) });
}

/** `a/b/c` → `["a", "b/c"]`; no slash → `[text, ""]`. */
export function splitFirst(text: string): [string, string] {
  const index = text.indexOf("/");
  return index === -1 ? [text, ""] : [text.slice(0, index), text.slice(index + 1)];
}

/**
 * The authority and rest of a `url` location; for an `object` one, the first segment of its path
 * and the remainder (how `{ system: "s3", path: "bucket/key" }` names a bucket), with the input
 * spelled as the URL it stands for.
 */
export function rootAndRest(generic: GenericLocation): { authority: string; rest: string; input: string } {
  if (generic.form !== "object") return generic;
  const [authority, rest] = splitFirst(generic.rest.replace(/^\/+/, ""));
  return { authority, rest, input: `${generic.system}://${generic.rest}` };
}

/** How a plugin names its roots: what one is called, and the rule a name must follow (as a pattern and in words). */
export interface RootNaming {
  noun: string;
  pattern: RegExp;
  rule: string;
}

/**
 * Root and key of `scheme://root/key` (or `{ system, path: "root/key" }`) for a system whose root is
 * a name with a rule (a bucket): InvalidInput when the root is missing, carries `@`, or breaks the rule.
 */
export function namedRoot(generic: GenericLocation, naming: RootNaming): { root: string; path: string } {
  const { system } = generic;
  const { authority: root, rest, input } = rootAndRest(generic);
  if (root.includes("@")) {
    const shown = redactSecrets(input);
    refuse(`credentials are never taken from a URL; configure them in the environment: ${shown}`, input);
  }
  if (root === "") refuse(`${system}:// URL has no ${naming.noun}: ${input}`, input);
  if (!naming.pattern.test(root)) refuse(`invalid ${naming.noun} name "${root}": ${naming.rule}`, input);
  return { root, path: normalizeKey(rest, { allowRoot: true, system }) };
}

/** The grammar of a system whose plugin declares none: `scheme://root/key` (`{ system, path: "root/key" }`). */
export function parseRootAndKey(generic: GenericLocation): Location {
  const { system } = generic;
  // Credentials were refused by core's parse (user:password@ in any URL).
  const { authority, rest } = rootAndRest(generic);
  const path = normalizeKey(rest, { allowRoot: true, system });
  return { system, root: authority, path, url: `${system}://${authority}/${path}` };
}

/**
 * The full location: `location` itself when a grammar has read it already, else what `grammar`
 * (or, when the plugin declares none, `scheme://root/key`) reads from its generic parse. Plugins call
 * it in `create()`, so `plugin.create(parseLocation(url))` works; the registry calls it once before.
 */
export function completeLocation(location: Location, grammar: LocationGrammar | undefined): Location {
  const generic = location.generic;
  if (generic === undefined) return location;
  const full = grammar ? grammar.parse(generic) : parseRootAndKey(generic);
  return generic.below ? childLocation(full, generic.below) : full;
}

/** The location `path` below `base` (same system and root). */
export function childLocation(base: Location, path: string): Location {
  const key = normalizeKey([base.path, path].filter(Boolean).join("/"), {
    allowRoot: true,
    system: base.system,
  });
  const generic = base.generic;
  if (generic === undefined || base.system === "file") return withPath(base, key);
  // Not read by its grammar yet: the key below is kept for after (see completeLocation).
  const below = normalizeKey([generic.below, path].filter(Boolean).join("/"), { allowRoot: true });
  return {
    ...base,
    path: key,
    url: `${base.url.replace(/\/+$/, "")}/${path}`,
    generic: { ...generic, below },
  };
}

/** The same system and root, another key. */
export function withPath(base: Location, key: string): Location {
  if (base.generic !== undefined && base.system !== "file") {
    throw errors.invalidInput(
      `${redactSecrets(base.url)} has not been read by its plugin yet: resolve it with registry.locate() first`,
    );
  }
  // A local path another key away is no longer the `name:path` an ssh alias could claim.
  const { generic: _local, ...located } = base;
  const prefix = base.url.slice(0, base.url.length - base.path.length);
  return { ...located, path: key, url: `${prefix}${key}` };
}

/** A display string: the URL for remote systems, the absolute path for local ones. */
export function formatLocation(location: Location): string {
  return location.system === "file" ? `/${location.path}` : location.url;
}
