/**
 * Locations: a URL or a `{ system, path }` pair. Core reads only the generic shape —
 * `scheme://authority/rest`, local paths and `file://`, `{ system, path, ... }` objects, and the
 * spellings the scheme table hands to a system (an https host it serves, `name:path`) — and refuses
 * credentials. Each storage plugin reads its own grammar from that (its `location` hook, see
 * @ferry/plugin-kit) once, when the registry resolves the location. Keys are taken literally (no
 * percent-decoding), as aws-cli and rclone do, so `s3://b/a%20b` names the key `a%20b`. Credentials
 * are never accepted in a URL, and never echoed back in an error.
 */
import {
  refuse as bad,
  errors,
  type GenericLocation,
  hasUrlCredentials,
  type Location,
  type LocationLike,
  type LocationSpec,
  normalizeKey,
  redactSecrets as redact,
  type SystemName,
  splitFirst,
} from "@ferry/plugin-kit";
import { fileLocation } from "./local/location.ts";

export {
  childLocation,
  formatLocation,
  type GenericLocation,
  type Location,
  type LocationLike,
  type LocationSpec,
  type SystemName,
  withPath,
} from "@ferry/plugin-kit";

/** Scheme → canonical system name (the aliases users may write). Unknown schemes stand for themselves. */
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

/**
 * Spellings that are not `scheme://` but belong to a system, declared here and read by that
 * system's grammar: https URLs on a host the system serves, and `user@host:path` / `name:path`
 * (scp-like; `name:path` only when the system's grammar `claims` the name, else it is a local path).
 */
export const OTHER_SPELLINGS: {
  readonly https: readonly { readonly host: RegExp; readonly system: SystemName }[];
  readonly scp: SystemName;
} = {
  https: [
    { host: /^(?:www\.)?github\.com$/, system: "github" },
    { host: /^[a-z0-9]{3,24}\.blob\.core\.windows\.net$/, system: "az" },
  ],
  scp: "sftp",
};

/** What to do instead of putting a secret in a URL, where a system says it differently. */
const CREDENTIALS_REMEDY: Readonly<Record<string, string>> = {
  sftp: "passwords are never taken from a URL; use a key or ssh-agent",
};

/** Schemes ferry knows the first-party plugin for. Third-party schemes parse generically. */
export function canonicalSystem(name: string): SystemName {
  return SCHEME_ALIASES[name.toLowerCase()] ?? name.toLowerCase();
}

/** True for a scheme or system name in the table above (`s3`, `gcs`, `ssh`, `file`, ...). */
export function isKnownSystem(name: string): boolean {
  return name.toLowerCase() in SCHEME_ALIASES;
}

function isLocation(value: unknown): value is Location {
  return (
    typeof value === "object" && value !== null && "root" in value && "url" in value && "system" in value
  );
}

export interface ParseOptions {
  /** Base for relative local paths (default: process.cwd()). */
  cwd?: string;
}

/**
 * Parse a URL, a path or a `{ system, path }` pair. Local paths come back complete; anything else
 * comes back as core's generic reading (`generic` set), finished by its plugin's grammar when the
 * registry resolves it (`await registry.locate(input)` gives the finished one). Malformed input
 * raises InvalidInput naming the problem.
 */
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
        CREDENTIALS_REMEDY[canonicalSystem(scheme)] ??
        "credentials are never taken from a URL; configure them in the environment or the plugin's options";
      bad(`${remedy}: ${redact(input)}`, input);
    }
    if (scheme === "https" || scheme === "http") return parseHttps(input);
    const system = canonicalSystem(scheme);
    if (system === "file") {
      return rest.startsWith("/")
        ? fileLocation(decodeURIComponent(rest), options.cwd)
        : bad(`file URLs must be absolute (file:///path): ${input}`, input);
    }
    const [authority, key] = splitFirst(rest);
    return reading({ system, form: "url", authority, rest: key, fields: {}, input });
  }
  // scp-like `host:path` / `user@host:path`: `user@` names a host; a bare name is a host only when
  // the system's grammar claims it (an ssh config alias), which the registry asks; else a local path.
  const scp = /^(?:([^@/:\s]+)@)?([^@/:\s]+):(.*)$/.exec(input);
  if (scp && !/^[a-zA-Z]:[\\/]/.test(input)) {
    const [, user, host, path] = scp;
    const generic: GenericLocation = {
      system: OTHER_SPELLINGS.scp,
      form: "scp",
      authority: user === undefined ? host! : `${user}@${host}`,
      rest: path!,
      fields: {},
      input,
    };
    if (user !== undefined) return reading(generic);
    return { ...fileLocation(input, options.cwd), generic };
  }
  return fileLocation(input, options.cwd);
}

/** Core's first reading of a location its system's grammar has yet to read: `root` is the authority. */
function reading(generic: GenericLocation): Location {
  const { system, authority, rest } = generic;
  const path = normalizeKey(rest, { allowRoot: true, system });
  const url = generic.form === "https" ? generic.input : `${system}://${authority}/${path}`;
  return { system, root: authority, path, url, generic };
}

function parseHttps(input: string): Location {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    bad(`not a valid URL: ${input}`, input);
  }
  if (url.username || url.password) bad(`credentials are never taken from a URL: ${redact(input)}`, input);
  const served = OTHER_SPELLINGS.https.find(({ host }) => host.test(url.hostname));
  if (!served) {
    bad(
      `no storage system is known for ${url.protocol}//${url.host}: use s3://, gs://, az://, sftp:// or github:// URLs`,
      input,
    );
  }
  const rest = url.pathname.split("/").filter(Boolean).map(decodeURIComponent).join("/");
  return reading({ system: served.system, form: "https", authority: url.hostname, rest, fields: {}, input });
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
  const system = isKnownSystem(spec.system) ? canonicalSystem(spec.system) : spec.system;
  if (system === "file") return fileLocation(path === "" ? "." : path, options.cwd);
  const { system: _system, path: _path, ...fields } = spec;
  const host = typeof fields.host === "string" ? fields.host : undefined;
  const [authority, rest] = host === undefined ? splitFirst(path.replace(/^\/+/, "")) : [host, path];
  const generic: GenericLocation = {
    system,
    form: "object",
    authority: "",
    rest: path,
    fields,
    input: `${system}://${path}`,
  };
  const key = normalizeKey(rest, { allowRoot: true, system });
  return { system, root: authority, path: key, url: `${system}://${authority}/${key}`, generic };
}
