/**
 * The sftp URL grammar: `sftp://user@host:port/path` (also `ssh://`), `/~/path` for the login's
 * home; the scp-like `user@host:path`, and `alias:path` or `{ system: "alias", path }` for a Host
 * alias in the ssh config (which fills in user and port); `{ system: "sftp", host, user, port, path }`.
 * A relative path (scp and object forms) is relative to the login's home. Passwords are never taken.
 */

import {
  type GenericLocation,
  type Location,
  type LocationGrammar,
  normalizeKey,
  redactSecrets,
  refuse,
} from "@ferry/plugin-kit";
import { findSshHost, sshConfigPath } from "./ssh/ssh-config.ts";

interface Written {
  user: string | undefined;
  host: string;
  port?: number | undefined;
  /** `/abs`, `~/rel` or `rel` (home-relative). */
  path: string;
  input: string;
}

function fromUrl(generic: GenericLocation): Written {
  const { authority, rest, input } = generic;
  const match = /^(?:([^@:]+)(:[^@]*)?@)?(\[[^\]]+\]|[^:@]+)(?::(\d+))?$/.exec(authority);
  if (!match)
    refuse(`malformed SSH URL (expected sftp://user@host:port/path): ${redactSecrets(input)}`, input);
  const [, user, password, host, port] = match;
  if (password !== undefined) {
    refuse(`passwords are never taken from a URL; use a key or ssh-agent: ${redactSecrets(input)}`, input);
  }
  return { user, host: host!, port: port === undefined ? undefined : Number(port), path: `/${rest}`, input };
}

function fromObject(generic: GenericLocation): Written {
  const { fields, rest: path } = generic;
  const host = generic.system === "sftp" ? fields.host : generic.system;
  if (typeof host !== "string") refuse("an sftp location object needs a `host`", generic.input);
  const relative = path.startsWith("/") || path.startsWith("~") ? path : `~/${path}`;
  const input = generic.system === "sftp" ? `sftp://${host}/${path}` : `${host}:${path}`;
  return {
    user: typeof fields.user === "string" ? fields.user : undefined,
    host,
    port: typeof fields.port === "number" ? fields.port : undefined,
    path: relative,
    input,
  };
}

function fromScp(generic: GenericLocation): Written {
  const at = generic.authority.indexOf("@");
  const user = at === -1 ? undefined : generic.authority.slice(0, at);
  return { user, host: generic.authority.slice(at + 1), path: generic.rest, input: generic.input };
}

function sftpLocation(written: Written, configPath: string): Location {
  const { host, input } = written;
  if (!/^[A-Za-z0-9._\-[\]:]+$/.test(host)) refuse(`invalid host name "${host}"`, input);
  if (
    written.port !== undefined &&
    (!Number.isInteger(written.port) || written.port < 1 || written.port > 65535)
  ) {
    refuse(`invalid port ${written.port} in ${redactSecrets(input)}`, input);
  }
  const alias = findSshHost(host, configPath);
  const user = written.user ?? alias?.user;
  const port = written.port ?? alias?.port ?? 22;
  let path = written.path;
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
  const location: Location = {
    system: "sftp",
    root: `${authority}${homeRelative ? "/~" : "/"}`,
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

/**
 * The host an SSH location names, as another machine must dial it: an alias from this machine's
 * ssh config means nothing on the host running a command, so it becomes the HostName it stands
 * for (the port and user were resolved from the alias already).
 */
function dialledHost(location: Location, configPath: string): string {
  const host = location.host ?? "";
  return location.alias ? (findSshHost(location.alias, configPath)?.hostName ?? host) : host;
}

/** The sftp plugin's `location` hook; aliases are read from `configPath` (default FERRY_SSH_CONFIG, else ~/.ssh/config). */
export function sftpGrammar(configPath?: string): LocationGrammar {
  const config = () => configPath ?? sshConfigPath();
  return {
    parse(generic) {
      const written =
        generic.form === "object"
          ? fromObject(generic)
          : generic.form === "scp"
            ? fromScp(generic)
            : fromUrl(generic);
      return sftpLocation(written, config());
    },
    claims: (name) => findSshHost(name, config()) !== undefined,
    claimsWhat: () => `a Host in the ssh config (${config()})`,
    rootNoun: "host",
    describeRoot: (location) =>
      location.homeRelative ? "the home directory on that host" : "the root of that host",
    namedKey: (_kind, name) => `.cache/ferry/${name}`,
    remoteUrl(location, key) {
      if (!location.alias)
        return `${location.url.slice(0, location.url.length - location.path.length)}${key}`;
      const port = location.port && location.port !== 22 ? `:${location.port}` : "";
      const authority = `${location.user ? `${location.user}@` : ""}${dialledHost(location, config())}${port}`;
      return `sftp://${authority}/${location.homeRelative ? "~/" : ""}${key}`;
    },
    rcloneRemote(location, key) {
      const settings = [
        `host=${dialledHost(location, config())}`,
        ...(location.user ? [`user=${location.user}`] : []),
        ...(location.port ? [`port=${location.port}`] : []),
      ];
      return `:sftp,${settings.join(",")}:${location.homeRelative ? key : `/${key}`}`;
    },
  };
}
