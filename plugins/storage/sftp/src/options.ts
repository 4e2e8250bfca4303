import { type Duration, errors, idleTimeoutMs, oneOfOption, positiveIntegerOption } from "@ferry/plugin-kit";
import type { HostKeyCheck } from "./ssh/known-hosts.ts";

/** Options of the `sftp()` plugin factory. Every field is optional: URLs and ~/.ssh/config fill in the rest. */
export interface SftpOptions {
  /** Host to connect to when a location does not name one (a storage made with `sftpStorage`). */
  host?: string;
  /** Default 22, or `Port` from ssh config. */
  port?: number;
  /** Login name. Default: the URL's user, else `User` from ssh config, else $USER. */
  username?: string;
  /** Private key text (OpenSSH or PEM). Tried first. Never logged or put in an error. */
  privateKey?: string | Buffer;
  /** Path of a private key file, tried first (after `privateKey`). `~` is expanded. */
  privateKeyPath?: string;
  /** Passphrase for encrypted keys (explicit key and IdentityFiles). */
  passphrase?: string;
  /** ssh-agent socket. Default `SSH_AUTH_SOCK`; `false` disables the agent. */
  agent?: string | false;
  /**
   * known_hosts file used to check host keys. Default: `UserKnownHostsFile` from ssh config, else
   * ~/.ssh/known_hosts.
   */
  knownHosts?: string;
  /**
   * Host key policy. `"strict"` (default): the host key must already be in known_hosts.
   * `"accept-new"`: an unknown host's key is recorded on first use, a changed key is still refused
   * (OpenSSH's StrictHostKeyChecking=accept-new). `"off"`: no check at all, which lets anyone on the
   * network path impersonate the host; only for throwaway machines. Default follows
   * `StrictHostKeyChecking` in ssh config when set there.
   */
  hostKeyCheck?: HostKeyCheck;
  /** ssh config file for Host aliases. Default: FERRY_SSH_CONFIG, else ~/.ssh/config. */
  sshConfigPath?: string;
  /** Most SSH connections open at once to one host (shared by every storage on it). Default 4. */
  maxSessionsPerHost?: number;
  /** Bytes per write request in flight for uploads. Default 256 KiB. */
  chunkSize?: number;
  /** Chunks in flight per upload (memory: chunkSize × concurrency). Default 8. */
  concurrency?: number;
  /** Milliseconds to wait for the SSH handshake. Default 20000. */
  readyTimeout?: number;
  /**
   * Idle timeout: a connection in use that passes no byte either way for this long (a stalled
   * network) is ended, taken out of the pool, and the operation fails as Transient ("no data from
   * HOST for 60 s while reading sftp://...") after the plugin's own one resume on a fresh connection;
   * transfers retry it. A connection resting in the pool is never timed out. Milliseconds, or a
   * duration such as "30s" or "2m"; 0 turns it off. Default: `setIdleTimeout()` / the CLI's
   * `--timeout`, else `FERRY_TIMEOUT`, else 60 s. Connections to one host are shared, so the first
   * storage opened on a host sets it for them.
   */
  timeout?: Duration;
  /**
   * Run commands on the host (`exec`, server-side `cp`, `md5sum`, `rm -rf`). Default true, probed on
   * first connection; false for sftp-only accounts, or to keep ferry from running anything there.
   */
  exec?: boolean;
  /** Commands used on the host, for systems where they live elsewhere (e.g. `{ md5sum: "gmd5sum" }`). */
  execCommands?: { md5sum?: string; cp?: string; rm?: string };
}

export const DEFAULTS = {
  maxSessionsPerHost: 4,
  chunkSize: 256 * 1024,
  concurrency: 8,
  readyTimeout: 20_000,
} as const;

export type HostTools = Required<NonNullable<SftpOptions["execCommands"]>>;

/** The commands ferry runs on the host (inserted as given, so a prefix like `busybox md5sum` works). */
export function hostTools(options: SftpOptions): HostTools {
  return {
    md5sum: options.execCommands?.md5sum ?? "md5sum",
    cp: options.execCommands?.cp ?? "cp",
    rm: options.execCommands?.rm ?? "rm",
  };
}

/** A positive whole number, else undefined (for the default to apply). */
export function positive(value: number | undefined): number | undefined {
  return value !== undefined && Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

/**
 * Refuse malformed options before anything connects: InvalidInput naming the option (`sftp():
 * concurrency must be a positive integer, got 0`), instead of a default used in silence.
 */
export function checkOptions(options: SftpOptions): void {
  for (const name of ["maxSessionsPerHost", "chunkSize", "concurrency", "readyTimeout"] as const)
    positiveIntegerOption(`sftp(): ${name}`, options[name], "sftp");
  const port = options.port;
  if (port !== undefined && !(Number.isInteger(port) && port >= 1 && port <= 65535)) {
    throw errors.invalidInput(
      `sftp(): port must be an integer from 1 to 65535, got ${JSON.stringify(port)}`,
      {
        system: "sftp",
      },
    );
  }
  oneOfOption("sftp(): hostKeyCheck", options.hostKeyCheck, ["strict", "accept-new", "off"], "sftp");
  idleTimeoutMs(options.timeout, "sftp(): timeout");
}
