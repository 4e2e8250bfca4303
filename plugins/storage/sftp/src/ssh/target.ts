/**
 * Where and as whom to connect: a location's host (possibly a ~/.ssh/config alias) merged with the
 * plugin options and ssh config, and the authentication methods to try, in order.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir, userInfo } from "node:os";
import { join } from "node:path";
import { errors } from "@ferry/plugin-kit";
import type { SftpOptions } from "../options.ts";
import type { HostKeyCheck } from "./known-hosts.ts";
import { sshConfigPath, sshHostSettings } from "./ssh-config.ts";

export interface Target {
  /** What the user wrote (alias or host name), for messages. */
  name: string;
  /** Host name or address actually dialled (ssh config HostName). */
  host: string;
  port: number;
  username: string;
  identityFiles: string[];
  /** `[user@]host[:port]` hops, comma-separated as in OpenSSH. */
  proxyJump?: string;
  knownHosts: string;
  hostKeyCheck: HostKeyCheck;
  /** ssh-agent socket to ask, if any. */
  agent?: string;
  /** ssh config `IdentitiesOnly yes`: only the configured keys, no agent, no default key files. */
  identitiesOnly: boolean;
}

export function expandHome(path: string): string {
  return path === "~" || path.startsWith("~/") ? join(homedir(), path.slice(1)) : path;
}

/** `~` and the ssh_config(5) tokens that name paths: %d home, %u local user, %h host, %r remote user, %p port, %n alias. */
function expandPath(path: string, target: Pick<Target, "host" | "port" | "username" | "name">): string {
  const tokens: Record<string, string> = {
    "%": "%",
    d: homedir(),
    u: userInfo().username,
    h: target.host,
    r: target.username,
    p: String(target.port),
    n: target.name,
  };
  return expandHome(path.replace(/%([%duhrpn])/g, (_, token: string) => tokens[token]!));
}

/** The agent socket: the option, else ssh config `IdentityAgent`, else SSH_AUTH_SOCK; `none`/`false` for none. */
function agentFor(
  options: SftpOptions,
  configured: string | undefined,
  target: Parameters<typeof expandPath>[1],
): string | undefined {
  if (options.agent === false) return undefined;
  if (options.agent !== undefined) return options.agent || undefined;
  if (configured !== undefined) {
    if (configured.toLowerCase() === "none") return undefined;
    if (configured === "SSH_AUTH_SOCK") return process.env.SSH_AUTH_SOCK || undefined;
    if (configured.startsWith("$")) return process.env[configured.slice(1)] || undefined;
    return expandPath(configured, target);
  }
  return process.env.SSH_AUTH_SOCK || undefined;
}

/** `user@host:port`, the form every error message names a connection by. */
export function describeTarget(target: Pick<Target, "username" | "host" | "port">): string {
  return `${target.username}@${target.host}:${target.port}`;
}

function policyFromConfig(value: string | undefined): HostKeyCheck | undefined {
  switch (value?.toLowerCase()) {
    case "yes":
    case "ask":
      return "strict";
    case "accept-new":
      return "accept-new";
    case "no":
    case "off":
      return "off";
    default:
      return undefined;
  }
}

/** Resolve a host (or alias) with optional explicit user/port against options and ssh config. */
export function resolveTarget(
  input: { host: string; port?: number | undefined; user?: string | undefined },
  options: SftpOptions,
): Target {
  // Every matching block applies, `Host *` included, whether the host is an alias or an address.
  const alias = sshHostSettings(input.host, options.sshConfigPath ?? sshConfigPath());
  const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);
  const knownHostsFromConfig = first(alias?.raw.UserKnownHostsFile)?.split(/\s+/)[0];
  const port = input.port ?? alias?.port ?? options.port ?? 22;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw errors.invalidInput(`invalid SSH port ${port} for ${input.host}`, { system: "sftp" });
  }
  const where = {
    name: input.host,
    // `[::1]` as written in URLs; the address itself is dialled.
    host: (alias?.hostName ?? input.host).replace(/^\[(.*)\]$/, "$1"),
    port,
    username: input.user ?? alias?.user ?? options.username ?? process.env.USER ?? userInfo().username,
  };
  const target: Target = {
    ...where,
    identityFiles: (alias?.identityFiles ?? []).map((file) => expandPath(file, where)),
    knownHosts: options.knownHosts
      ? expandHome(options.knownHosts)
      : expandPath(knownHostsFromConfig ?? "~/.ssh/known_hosts", where),
    hostKeyCheck:
      options.hostKeyCheck ?? policyFromConfig(first(alias?.raw.StrictHostKeyChecking)) ?? "strict",
    identitiesOnly: first(alias?.raw.IdentitiesOnly)?.toLowerCase() === "yes",
  };
  const agent = agentFor(options, first(alias?.raw.IdentityAgent), where);
  if (agent !== undefined && !target.identitiesOnly) target.agent = agent;
  const jump = alias?.proxyJump;
  if (jump !== undefined && jump.toLowerCase() !== "none") target.proxyJump = jump;
  return target;
}

/** One `[user@]host[:port]` hop of a ProxyJump list (or an alias). */
export function parseJump(spec: string): { host: string; port?: number; user?: string } {
  const match = /^(?:([^@]+)@)?(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(spec.trim());
  if (!match)
    throw errors.invalidInput(`malformed ProxyJump host "${spec}" (expected [user@]host[:port])`, {
      system: "sftp",
    });
  const [, user, host, port] = match;
  const hop: { host: string; port?: number; user?: string } = { host: host!.replace(/^\[|\]$/g, "") };
  if (user !== undefined) hop.user = user;
  if (port !== undefined) hop.port = Number(port);
  return hop;
}

export type KeySource = { label: string; key: Buffer | string; passphrase?: string; explicit: boolean };

/**
 * Authentication order: the explicit key (option), the agent, the ssh config IdentityFiles, then
 * OpenSSH's default key files. Files that do not exist are skipped; keys are read, never logged.
 */
export function keySources(target: Target, options: SftpOptions): KeySource[] {
  const sources: KeySource[] = [];
  const withPassphrase = (source: KeySource): KeySource =>
    options.passphrase === undefined ? source : { ...source, passphrase: options.passphrase };
  if (options.privateKey !== undefined) {
    sources.push(withPassphrase({ label: "the privateKey option", key: options.privateKey, explicit: true }));
  }
  if (options.privateKeyPath !== undefined) {
    const path = expandHome(options.privateKeyPath);
    if (!existsSync(path)) {
      throw errors.invalidInput(`privateKeyPath ${path} does not exist`, { system: "sftp" });
    }
    sources.push(withPassphrase({ label: path, key: readFileSync(path), explicit: true }));
  }
  const defaults = ["id_ed25519", "id_ecdsa", "id_rsa"].map((name) => join(homedir(), ".ssh", name));
  const explicitOnly =
    options.privateKey !== undefined || options.privateKeyPath !== undefined || target.identitiesOnly;
  const files = [...target.identityFiles, ...(explicitOnly ? [] : defaults)];
  for (const path of [...new Set(files)]) {
    if (!existsSync(path)) continue;
    sources.push(withPassphrase({ label: path, key: readFileSync(path), explicit: false }));
  }
  return sources;
}
