/**
 * ~/.ssh/config, read with `ssh-config` (the parser OpenSSH users' tools share). A name counts as an
 * alias only when a non-wildcard `Host` pattern matches it, so "data:file.txt" stays a local path
 * unless the user really has a host called "data"; but once a host is being connected to, every
 * matching block applies (`Host *` too), as OpenSSH does.
 */
import { readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import SSHConfig from "ssh-config";

export interface SshHostConfig {
  /** The alias as written. */
  alias: string;
  hostName: string;
  user?: string;
  port?: number;
  identityFiles: string[];
  proxyJump?: string;
  /** Every computed directive, keys as OpenSSH spells them. */
  raw: Record<string, string | string[]>;
}

/** Where ssh config is read from: FERRY_SSH_CONFIG, else ~/.ssh/config. */
export function sshConfigPath(): string {
  return process.env.FERRY_SSH_CONFIG ?? join(homedir(), ".ssh", "config");
}

let cache: { path: string; mtimeMs: number; config: SSHConfig } | undefined;

function load(path: string): SSHConfig | undefined {
  let mtimeMs: number;
  try {
    mtimeMs = statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
  if (cache && cache.path === path && cache.mtimeMs === mtimeMs) return cache.config;
  const config = SSHConfig.parse(readFileSync(path, "utf8"));
  cache = { path, mtimeMs, config };
  return config;
}

function hasExplicitHost(config: SSHConfig, name: string): boolean {
  for (const line of config) {
    if (line.type !== SSHConfig.DIRECTIVE || line.param.toLowerCase() !== "host") continue;
    const values = Array.isArray(line.value)
      ? line.value.map((v) => (typeof v === "string" ? v : v.val))
      : [line.value];
    for (const pattern of values.flatMap((v) => String(v).split(/\s+/))) {
      if (pattern.startsWith("!") || pattern.includes("*") || pattern.includes("?")) continue;
      if (pattern === name) return true;
    }
  }
  return false;
}

/**
 * The effective settings for `name` when it is an explicit Host alias in the ssh config, else undefined.
 * `configPath` defaults to `sshConfigPath()`.
 */
export function findSshHost(name: string, configPath: string = sshConfigPath()): SshHostConfig | undefined {
  const config = load(configPath);
  if (!config || !hasExplicitHost(config, name)) return undefined;
  return computeSettings(config, name);
}

/**
 * The settings OpenSSH would use to connect to `name` (an alias, a host name or an address): every
 * matching block, `Host *` included. Undefined when there is no ssh config.
 */
export function sshHostSettings(
  name: string,
  configPath: string = sshConfigPath(),
): SshHostConfig | undefined {
  const config = load(configPath);
  return config ? computeSettings(config, name) : undefined;
}

function computeSettings(config: SSHConfig, name: string): SshHostConfig {
  const computed = config.compute(name) as Record<string, string | string[]>;
  const get = (key: string): string | undefined => {
    const value = computed[key];
    return Array.isArray(value) ? value[0] : value;
  };
  const identity = computed.IdentityFile;
  const result: SshHostConfig = {
    alias: name,
    hostName: get("HostName") ?? name,
    identityFiles: identity === undefined ? [] : Array.isArray(identity) ? identity : [identity],
    raw: computed,
  };
  const user = get("User");
  if (user !== undefined) result.user = user;
  const port = get("Port");
  if (port !== undefined) result.port = Number(port);
  const proxyJump = get("ProxyJump");
  if (proxyJump !== undefined) result.proxyJump = proxyJump;
  return result;
}
