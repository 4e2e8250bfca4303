/**
 * A real OpenSSH sshd (Debian's openssh-server) on 127.0.0.1: generated host and user keys, key-only
 * auth, internal-sftp, everything in a temp dir that `stop()` removes. The "cluster" ferry's SFTP
 * plugin is tested against.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type Backend, freePort, HOST, spawnBackend, track, uniqueName, waitUntil } from "./lifecycle.ts";

const run = promisify(execFile);

export const SSHD_BINARY = "/usr/sbin/sshd";
/** Debian packages the sshd backend needs: the server, and ssh-keygen/ssh-agent from the client. */
export const SSHD_PACKAGES = "openssh-server openssh-client";
/** The ssh config Host alias written into `sshConfigPath`. */
export const SSHD_ALIAS = "ferry-cluster";

export interface SshKey {
  privateKeyPath: string;
  /** PEM/OpenSSH text of the private key. */
  privateKey: string;
  /** `ssh-ed25519 AAAA... comment` */
  publicKey: string;
  passphrase?: string;
}

export interface SshdBackend extends Backend {
  readonly host: string;
  readonly port: number;
  /** The login: the user running the tests. */
  readonly user: string;
  readonly privateKeyPath: string;
  readonly privateKey: string;
  /** A second authorised key, protected by `passphrase`. */
  readonly passphraseKey: SshKey & { passphrase: string };
  /** `ssh-ed25519 AAAA...` of the server's host key. */
  readonly hostPublicKey: string;
  /** A known_hosts file holding the host key for `[127.0.0.1]:port`. */
  readonly knownHostsPath: string;
  /** An ssh config with `Host ferry-cluster` → HostName, Port, User, IdentityFile, UserKnownHostsFile. */
  readonly sshConfigPath: string;
  readonly alias: string;
  /** Scratch directory for tests (keys, configs) that `stop()` removes. */
  readonly dir: string;
  /** A fresh, empty directory on the host (absolute path), one per test. */
  makeRoot(): string;
  /** A new ed25519 key pair that is not authorised on the server. */
  makeKey(options?: { passphrase?: string }): Promise<SshKey>;
  /** Kill every live connection (the server keeps listening): what a dropped network looks like to a client. */
  dropConnections(): Promise<void>;
  /** Connections open right now (sshd's per-connection processes). */
  openConnections(): number;
}

/** Why sshd cannot run here, or undefined when it can. */
export function sshdUnavailable(): string | undefined {
  if (!existsSync(SSHD_BINARY) || !existsSync("/usr/bin/ssh-keygen")) {
    return `OpenSSH is not installed: apt-get install -y ${SSHD_PACKAGES}`;
  }
  return undefined;
}

/**
 * For test files: undefined when sshd can run; otherwise the reason, to pass to `describe.skipIf`.
 * Under CI a missing sshd is a failure (thrown), never a silent skip.
 */
export function sshdSkipReason(): string | undefined {
  const reason = sshdUnavailable();
  if (reason && process.env.CI) throw new Error(`${reason} (CI must install it)`);
  return reason;
}

async function generateKey(dir: string, name: string, passphrase = ""): Promise<SshKey> {
  const privateKeyPath = join(dir, name);
  await run("ssh-keygen", [
    "-q",
    "-t",
    "ed25519",
    "-N",
    passphrase,
    "-C",
    `ferry-test-${name}`,
    "-f",
    privateKeyPath,
  ]);
  const key: SshKey = {
    privateKeyPath,
    privateKey: readFileSync(privateKeyPath, "utf8"),
    publicKey: readFileSync(`${privateKeyPath}.pub`, "utf8").trim(),
  };
  if (passphrase) key.passphrase = passphrase;
  return key;
}

/** Pids of the descendants of `pid` (Linux /proc); `depth` 1 = direct children only. */
function descendants(pid: number, depth = Infinity): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue;
    }
    // Fields after the parenthesised command name: state, ppid, ...
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(name));
    children.set(ppid, list);
  }
  const found: number[] = [];
  let level = [pid];
  for (let current = 0; current < depth && level.length > 0; current++) {
    level = level.flatMap((parent) => children.get(parent) ?? []);
    found.push(...level);
  }
  return found;
}

/** Running (not exited, not a zombie waiting to be reaped). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

export interface SshdOptions {
  /** Only SFTP: every exec request runs internal-sftp instead (ForceCommand), as on sftp-only accounts. */
  sftpOnly?: boolean;
  /** The SFTP server refuses every change with "permission denied" (internal-sftp -R). */
  readOnly?: boolean;
  /**
   * The directory SFTP sessions start in (internal-sftp -d): the login's home as SFTP clients see it
   * (realpath of "."), so a test can stand a scratch directory in for the home.
   */
  startDirectory?: string;
}

/** Start sshd on 127.0.0.1 at a free port. Throws (naming the package) when OpenSSH is not installed. */
export async function startSshd(options: SshdOptions = {}): Promise<SshdBackend> {
  const unavailable = sshdUnavailable();
  if (unavailable) throw new Error(unavailable);
  const dir = await mkdtemp(join(tmpdir(), "ferry-sshd-"));
  const rootsDir = join(dir, "roots");
  mkdirSync(rootsDir);
  // sshd refuses to start without its privilege-separation directory.
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });

  const [hostKey, userKey, passphraseKey] = await Promise.all([
    generateKey(dir, "host_ed25519"),
    generateKey(dir, "user_ed25519"),
    generateKey(dir, "user_passphrase_ed25519", "correct horse battery staple"),
  ]);
  const authorizedKeys = join(dir, "authorized_keys");
  writeFileSync(authorizedKeys, `${userKey.publicKey}\n${passphraseKey.publicKey}\n`, { mode: 0o600 });

  const port = await freePort();
  const user = userInfo().username;
  const configPath = writeServerConfig(dir, port, { hostKey, authorizedKeys }, options);
  const client = writeClientFiles(dir, { port, user, hostKey, userKey });
  const child = await spawnSshd(dir, port, configPath);
  const pid = child.process.pid!;
  const watchdog = startWatchdog(pid, dir);
  /** Kill every per-connection process and wait until they are gone. */
  const killConnections = async () => {
    const victims = descendants(pid);
    for (const victim of victims) signal(victim, "SIGKILL");
    await waitUntil(async () => !victims.some(alive), { what: "sshd connections to end", timeoutMs: 5000 });
  };
  let stopped: Promise<void> | undefined;
  const backend: SshdBackend = {
    name: "sshd",
    host: HOST,
    port,
    user,
    alias: SSHD_ALIAS,
    dir,
    privateKeyPath: userKey.privateKeyPath,
    privateKey: userKey.privateKey,
    passphraseKey: passphraseKey as SshKey & { passphrase: string },
    ...client,
    logs: () => child.logs(),
    makeRoot() {
      const root = join(rootsDir, uniqueName("root"));
      mkdirSync(root);
      return root;
    },
    makeKey: (options = {}) => generateKey(dir, uniqueName("key"), options.passphrase),
    dropConnections: killConnections,
    openConnections: () => descendants(pid, 1).filter(alive).length,
    stop() {
      stopped ??= (async () => {
        // Per-connection children run in their own sessions and outlive the listener, so stop the
        // listener first (no new forks), kill its children, then let it handle SIGTERM.
        if (watchdog.pid) signal(watchdog.pid, "SIGKILL");
        signal(pid, "SIGSTOP");
        try {
          await killConnections();
        } finally {
          const done = child.stop();
          signal(pid, "SIGCONT");
          await done;
        }
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
  track(backend);
  return backend;
}

/** sshd_config: the generated host key, key-only logins, SFTP (read-only or forced when asked). */
function writeServerConfig(
  dir: string,
  port: number,
  keys: { hostKey: SshKey; authorizedKeys: string },
  options: SshdOptions,
): string {
  const configPath = join(dir, "sshd_config");
  const sftpServer = [
    "internal-sftp",
    ...(options.readOnly ? ["-R"] : []),
    ...(options.startDirectory ? ["-d", options.startDirectory] : []),
  ].join(" ");
  writeFileSync(
    configPath,
    [
      `Port ${port}`,
      `ListenAddress ${HOST}`,
      `HostKey ${keys.hostKey.privateKeyPath}`,
      `AuthorizedKeysFile ${keys.authorizedKeys}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PubkeyAuthentication yes",
      "PermitRootLogin prohibit-password",
      "StrictModes no",
      "UsePAM no",
      "LogLevel VERBOSE",
      `Subsystem sftp ${sftpServer}`,
      ...(options.sftpOnly ? [`ForceCommand ${sftpServer}`] : []),
      // Tests open many connections in quick succession; the default 10:30:100 drops some.
      "MaxStartups 100",
      "",
    ].join("\n"),
  );
  return configPath;
}

/** What a client needs: known_hosts with the host key, and an ssh config alias for the server. */
function writeClientFiles(
  dir: string,
  server: { port: number; user: string; hostKey: SshKey; userKey: SshKey },
): { hostPublicKey: string; knownHostsPath: string; sshConfigPath: string } {
  const { port, user } = server;
  const hostPublicKey = server.hostKey.publicKey.split(" ").slice(0, 2).join(" ");
  const knownHostsPath = join(dir, "known_hosts");
  writeFileSync(knownHostsPath, `[${HOST}]:${port} ${hostPublicKey}\n`);
  const sshConfigPath = join(dir, "ssh_config");
  writeFileSync(
    sshConfigPath,
    [
      `Host ${SSHD_ALIAS}`,
      `  HostName ${HOST}`,
      `  Port ${port}`,
      `  User ${user}`,
      `  IdentityFile ${server.userKey.privateKeyPath}`,
      `  UserKnownHostsFile ${knownHostsPath}`,
      "",
    ].join("\n"),
  );
  return { hostPublicKey, knownHostsPath, sshConfigPath };
}

/** Run sshd in the foreground and wait until it listens; on failure nothing is left behind. */
async function spawnSshd(dir: string, port: number, configPath: string) {
  const child = spawnBackend("sshd", SSHD_BINARY, ["-D", "-e", "-f", configPath]);
  try {
    // Ready when sshd logs that it listens (a TCP probe would count as a failed login in its log).
    await waitUntil(
      async () => {
        if (child.process.exitCode !== null)
          throw new Error(`sshd exited (${child.process.exitCode}): ${child.logs()}`);
        return child.logs().includes(`Server listening on ${HOST} port ${port}`);
      },
      { what: "sshd", timeoutMs: 15_000 },
    );
  } catch (error) {
    await child.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return child;
}

/**
 * If this process dies without stopping the server (killed, crashed), a watchdog stops it, so no
 * sshd outlives the tests that started it.
 */
function startWatchdog(pid: number, dir: string) {
  const watchdog = spawn(
    "sh",
    [
      "-c",
      `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -TERM ${pid} 2>/dev/null; rm -rf '${dir}'`,
    ],
    { detached: true, stdio: "ignore" },
  );
  watchdog.unref();
  return watchdog;
}
