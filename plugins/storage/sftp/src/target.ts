/**
 * Where and as whom to connect: a location's host (possibly a ~/.ssh/config alias) merged with the
 * plugin options and ssh config, and the authentication methods to try, in order.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir, userInfo } from "node:os";
import { join } from "node:path";
import { errors, findSshHost, sshConfigPath } from "@ferry/core";
import type { HostKeyCheck } from "./known-hosts.ts";
import type { SftpOptions } from "./options.ts";

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
}

export function expandHome(path: string): string {
  return path === "~" || path.startsWith("~/") ? join(homedir(), path.slice(1)) : path;
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
  const alias = findSshHost(input.host, options.sshConfigPath ?? sshConfigPath());
  const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);
  const knownHostsFromConfig = first(alias?.raw.UserKnownHostsFile)?.split(/\s+/)[0];
  const port = input.port ?? alias?.port ?? options.port ?? 22;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw errors.invalidInput(`invalid SSH port ${port} for ${input.host}`, { system: "sftp" });
  }
  const target: Target = {
    name: input.host,
    host: alias?.hostName ?? input.host,
    port,
    username: input.user ?? alias?.user ?? options.username ?? process.env.USER ?? userInfo().username,
    identityFiles: (alias?.identityFiles ?? []).map(expandHome),
    knownHosts: expandHome(options.knownHosts ?? knownHostsFromConfig ?? "~/.ssh/known_hosts"),
    hostKeyCheck:
      options.hostKeyCheck ?? policyFromConfig(first(alias?.raw.StrictHostKeyChecking)) ?? "strict",
  };
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
  const explicitOnly = options.privateKey !== undefined || options.privateKeyPath !== undefined;
  const files = [...target.identityFiles, ...(explicitOnly ? [] : defaults)];
  for (const path of [...new Set(files)]) {
    if (!existsSync(path)) continue;
    sources.push(withPassphrase({ label: path, key: readFileSync(path), explicit: false }));
  }
  return sources;
}

export function agentSocket(options: SftpOptions): string | undefined {
  if (options.agent === false) return undefined;
  const socket = options.agent ?? process.env.SSH_AUTH_SOCK;
  return socket ? socket : undefined;
}
