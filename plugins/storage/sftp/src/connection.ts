/**
 * One SSH connection (with its SFTP channel), opened through ProxyJump hops when configured, with
 * host keys checked against known_hosts and connection failures mapped to typed errors.
 * ssh2 is loaded on first use, so importing the plugin costs nothing until a host is contacted.
 */
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { debugLog, errors, type FerryError, idleTimeoutMs, watchIdle, wording } from "@ferry/plugin-kit";
import type {
  AgentAuthMethod,
  Client,
  ClientChannel,
  ConnectConfig,
  PublicKeyAuthMethod,
  SFTPWrapper,
} from "ssh2";
import { algorithmsFor, hostPattern, knownKeys, type Verdict, verifyHostKey } from "./known-hosts.ts";
import { DEFAULTS, type SftpOptions } from "./options.ts";
import { holdSessionKeysAsObjects } from "./session-keys.ts";
import { SftpCalls } from "./sftp-ops.ts";
import {
  describeTarget,
  type KeySource,
  keySources,
  parseJump,
  resolveTarget,
  type Target,
} from "./target.ts";

/** `NODE_DEBUG=ferry:sftp` names the algorithms each connection negotiated. */
const debug = debugLog("ferry:sftp");

type Ssh2 = typeof import("ssh2");
let ssh2: Promise<Ssh2> | undefined;

/** The ssh2 module, imported once on first use. */
export function loadSsh2(): Promise<Ssh2> {
  ssh2 ??= import("ssh2").then((module) => ((module as { default?: Ssh2 }).default ?? module) as Ssh2);
  return ssh2;
}

/** A live SSH connection. `sftp` is open on pooled connections, absent on ProxyJump hops. */
export class Connection {
  readonly client: Client;
  readonly target: Target;
  readonly sftp: SFTPWrapper | undefined;
  readonly #hops: Connection[];
  /** Set when the transport closed or failed; a dead connection is never handed out again. */
  dead = false;
  /** Operations (and open read streams) currently using this connection. */
  busy = 0;
  /** Set when the idle timeout ended this connection: what its failed requests report. */
  stall: FerryError | undefined;

  constructor(client: Client, target: Target, sftp: SFTPWrapper | undefined, hops: Connection[]) {
    this.client = client;
    this.target = target;
    this.sftp = sftp;
    this.#hops = hops;
    const die = () => {
      this.dead = true;
    };
    client.on("close", die);
    client.on("error", die);
    client.on("end", die);
    sftp?.on("close", die);
    sftp?.on("error", die);
  }

  get label(): string {
    return describeTarget(this.target);
  }

  #calls: SftpCalls | undefined;
  /** Promise-returning SFTP requests on this connection's channel. */
  get calls(): SftpCalls {
    if (!this.sftp)
      throw errors.unexpected(`no SFTP channel on the connection to ${this.label}`, { system: "sftp" });
    this.#calls ??= new SftpCalls(
      this.sftp,
      this.label,
      () => this.coalesceWrites(),
      () => this.stall,
    );
    return this.#calls;
  }

  #coalescing = false;

  /**
   * Hold back what is written to the transport until the current turn of the event loop ends, then
   * send it with one system call. ssh2 writes every packet in several pieces (length, payload,
   * tag), and with TCP_NODELAY each piece would otherwise leave as its own segment: requests issued
   * together (a file's writes and close, the uploads of several files) go out together instead.
   */
  coalesceWrites(): void {
    const socket = this.#socket;
    if (this.#coalescing || !socket?.cork || !socket.uncork) return;
    this.#coalescing = true;
    socket.cork();
    setImmediate(() => {
      this.#coalescing = false;
      socket.uncork?.();
    });
  }

  /** SFTP extensions the server advertised (`posix-rename@openssh.com`, `hardlink@openssh.com`, `copy-data`, ...). */
  hasExtension(name: string): boolean {
    const extensions = (this.sftp as unknown as { _extensions?: Record<string, string> } | undefined)
      ?._extensions;
    return extensions?.[name] !== undefined;
  }

  /** The transport under the SSH session: a TCP socket, or a forwarded channel behind a ProxyJump hop. */
  get #socket(): Partial<Socket> | undefined {
    return (this.client as unknown as { _sock?: Partial<Socket> })._sock;
  }

  /**
   * End this connection when, while it is busy, no byte passes for the timeout. ssh2 has no
   * per-request timeout, so the bytes of the TCP connection under it are watched (the first hop's,
   * behind a ProxyJump). Idle time in the pool does not count.
   */
  watchIdle(timeoutMs: () => number): void {
    const socket = [this, ...this.#hops]
      .map((connection) => connection.#socket)
      .find((candidate) => typeof candidate?.bytesRead === "number") as Socket | undefined;
    if (!socket) return;
    watchIdle(socket, {
      host: `${socket.remoteAddress ?? this.target.host}:${socket.remotePort ?? this.target.port}`,
      timeoutMs,
      busy: () => this.busy > 0,
      system: "sftp",
      // OpenSSH's ServerAliveInterval: sshd answers a keepalive request even while a command runs
      // silently for minutes (md5sum of a large file, a copy on the host), so only a dead link is cut.
      probe: () => (this.client as unknown as { _protocol?: { ping?: () => void } })._protocol?.ping?.(),
      onStall: (error) => {
        debug("%s: no data for %d ms while in use; ending the connection", this.label, timeoutMs());
        this.stall = error;
        this.dead = true;
        socket.destroy();
        this.client.destroy();
      },
    });
  }

  /** The transport is gone (a 'close' may not have been emitted yet). */
  get gone(): boolean {
    return this.dead || this.#socket?.destroyed === true;
  }

  /** Bytes this connection's socket has received and sent (0 over a ProxyJump channel). */
  get bytes(): { read: number; written: number } {
    const socket = this.#socket;
    return { read: socket?.bytesRead ?? 0, written: socket?.bytesWritten ?? 0 };
  }

  /** Let Node exit while this connection is idle; hold it open while in use (hops included). */
  setActive(active: boolean): void {
    const socket = this.#socket;
    if (active) socket?.ref?.();
    else socket?.unref?.();
    for (const hop of this.#hops) hop.setActive(active);
  }

  async end(): Promise<void> {
    this.dead = true;
    // An idle (unref'd) socket would let Node exit before the goodbye is exchanged.
    this.setActive(true);
    if (this.#socket?.destroyed !== true) {
      await new Promise<void>((resolve) => {
        this.client.once("close", () => resolve());
        this.client.end();
        // A peer that never answers the disconnect must not hold close() forever.
        setTimeout(() => {
          this.client.destroy();
          resolve();
        }, 2000).unref();
      });
    }
    for (const hop of [...this.#hops].reverse()) await hop.end();
  }
}

function connectError(
  error: Error & { level?: string; code?: string },
  target: Target,
  context: { hostKey?: Verdict; tried: string[] },
): FerryError {
  const where = `${target.host}:${target.port}`;
  const ctx = { system: "sftp", path: `sftp://${describeTarget(target)}`, cause: error };
  if (context.hostKey && !context.hostKey.ok) return errors.permissionDenied(context.hostKey.message, ctx);
  if (error.level === "client-authentication") {
    const tried = context.tried.length > 0 ? context.tried.join(", ") : "nothing (no key, no agent)";
    return errors.permissionDenied(
      `authentication failed for ${target.username}@${target.host} (port ${target.port}); tried ${tried}`,
      ctx,
    );
  }
  switch (error.code) {
    case "ENOTFOUND":
      return errors.notFound(
        `unknown host ${target.host}: the name does not resolve (connecting to ${where})`,
        ctx,
      );
    case "EAI_AGAIN":
      return errors.transient(
        `cannot resolve ${target.host} right now (DNS is not answering), connecting to ${where}`,
        ctx,
      );
    case "ECONNREFUSED":
      return errors.transient(`connection refused by ${where}: is sshd running and listening there?`, ctx);
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "ETIMEDOUT":
    case "ECONNRESET":
    case "EPIPE":
      return errors.transient(`cannot reach ${where} (${error.code})`, ctx);
  }
  if (error.level === "client-timeout") {
    return errors.transient(`SSH handshake with ${where} timed out`, ctx);
  }
  return errors.transient(`SSH connection to ${describeTarget(target)} failed: ${error.message}`, ctx);
}

type ParsedKey = Exclude<ReturnType<Ssh2["utils"]["parseKey"]>, Error>;

/** Parse a key source; an unusable explicit key is InvalidInput, an unusable discovered one a note in `tried`. */
async function parseSource(source: KeySource, tried: string[]): Promise<ParsedKey | undefined> {
  const { utils } = await loadSsh2();
  const parsed = utils.parseKey(source.key, source.passphrase);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key instanceof Error || key === undefined) {
    const reason = key instanceof Error ? key.message : "no key found";
    if (source.explicit) {
      const hint = /passphrase|decrypt/i.test(reason)
        ? wording({
            library: " (pass `passphrase` for an encrypted key)",
            cli: " (an encrypted key: add it to ssh-agent with ssh-add)",
          })
        : "";
      throw errors.invalidInput(`cannot use the private key from ${source.label}: ${reason}${hint}`, {
        system: "sftp",
      });
    }
    tried.push(`${source.label} (unusable: ${reason})`);
    return undefined;
  }
  return key as ParsedKey;
}

/** Check the explicitly given key (and its passphrase) before any connection is reused or opened. */
export async function checkExplicitKey(target: Target, options: SftpOptions): Promise<void> {
  for (const source of keySources(target, options).filter((item) => item.explicit))
    await parseSource(source, []);
}

async function authMethods(
  target: Target,
  options: SftpOptions,
  tried: string[],
): Promise<Array<PublicKeyAuthMethod | AgentAuthMethod>> {
  const methods: Array<PublicKeyAuthMethod | AgentAuthMethod> = [];
  const username = target.username;
  const agent = target.agent;
  const sources = keySources(target, options);
  const addKey = async (source: KeySource) => {
    const key = await parseSource(source, tried);
    if (!key) return;
    tried.push(`key ${source.label}`);
    methods.push({ type: "publickey", username, key });
  };
  for (const source of sources.filter((item) => item.explicit)) await addKey(source);
  if (agent) {
    tried.push(`ssh-agent (${agent})`);
    methods.push({ type: "agent", username, agent });
  }
  for (const source of sources.filter((item) => !item.explicit)) await addKey(source);
  return methods;
}

/**
 * Open a connection to `target` (over `sock` when given). With `withSftp`, the SFTP subsystem is
 * started too. Failures are typed: PermissionDenied (auth, host key), NotFound (unknown host name),
 * Transient (refused, unreachable, dropped).
 */
export async function connect(target: Target, options: SftpOptions, withSftp: boolean): Promise<Connection> {
  const hops: Connection[] = [];
  try {
    let sock: Duplex | undefined;
    if (target.proxyJump) {
      const specs = target.proxyJump.split(",");
      let previous: Connection | undefined;
      for (const [index, spec] of specs.entries()) {
        const hop = resolveTarget(parseJump(spec), options);
        // A hop is reached through the previous one; its own ProxyJump is ignored (OpenSSH uses the list).
        delete hop.proxyJump;
        const hopSock: Duplex | undefined = previous ? await forward(previous, hop) : undefined;
        previous = await open(hop, options, false, hopSock);
        hops.push(previous);
        if (index === specs.length - 1) sock = await forward(previous, target);
      }
    }
    return await open(target, options, withSftp, sock, hops);
  } catch (error) {
    for (const hop of hops.reverse()) await hop.end();
    throw error;
  }
}

function forward(via: Connection, to: Target): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    via.client.forwardOut("127.0.0.1", 0, to.host, to.port, (error, channel) => {
      if (error) {
        reject(
          errors.transient(`jump host ${via.label} could not reach ${to.host}:${to.port}: ${error.message}`, {
            system: "sftp",
            cause: error,
          }),
        );
      } else resolve(channel);
    });
  });
}

async function open(
  target: Target,
  options: SftpOptions,
  withSftp: boolean,
  sock: Duplex | undefined,
  hops: Connection[] = [],
): Promise<Connection> {
  const { Client } = await loadSsh2();
  const tried: string[] = [];
  const methods = await authMethods(target, options, tried);
  const context: { hostKey?: Verdict; tried: string[] } = { tried };
  const client = new Client();
  const recordedTypes =
    target.hostKeyCheck === "off"
      ? []
      : knownKeys(target.knownHosts, hostPattern(target.host, target.port)).map((entry) => entry.type);
  const config: ConnectConfig = {
    host: target.host,
    port: target.port,
    username: target.username,
    readyTimeout: options.readyTimeout ?? DEFAULTS.readyTimeout,
    // No keepalive: its timer would keep Node alive. A connection that died while idle is found
    // on next use and replaced (the pool retries once).
    authHandler: methods,
    hostVerifier: (key: Buffer) => {
      context.hostKey = verifyHostKey({
        file: target.knownHosts,
        host: target.host,
        port: target.port,
        presented: key,
        policy: target.hostKeyCheck,
      });
      return context.hostKey.ok;
    },
  };
  if (recordedTypes.length > 0) config.algorithms = { serverHostKey: algorithmsFor(recordedTypes) as never };
  if (sock) config.sock = sock;
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => {
      client.removeListener("ready", onReady);
      client.end();
      reject(connectError(error, target, context));
    };
    const onReady = () => {
      client.removeListener("error", onError);
      resolve();
    };
    client.once("ready", onReady);
    client.once("error", onError);
    client.once("handshake", (negotiated) =>
      debug("%s: cipher %s, key exchange %s", describeTarget(target), negotiated.cs.cipher, negotiated.kex),
    );
    client.on("handshake", () => holdSessionKeysAsObjects(client));
    // Requests are small and answered one by one: without TCP_NODELAY each waits out a delayed ACK.
    client.once("connect", () => client.setNoDelay(true));
    client.connect(config);
  });
  // Errors after the handshake surface through the operation that sees them; keep one listener so
  // an 'error' event never becomes an uncaught exception.
  client.on("error", () => {});
  if (!withSftp) return new Connection(client, target, undefined, hops);
  const sftp = await new Promise<SFTPWrapper>((resolve, reject) => {
    client.sftp((error, channel) => {
      if (error) {
        client.end();
        reject(
          errors.unsupported(
            `${describeTarget(target)} does not offer the SFTP subsystem: ${error.message}`,
            { system: "sftp", cause: error },
          ),
        );
      } else resolve(channel);
    });
  });
  sftp.on("error", () => {});
  const connection = new Connection(client, target, sftp, hops);
  connection.watchIdle(() => idleTimeoutMs(options.timeout));
  return connection;
}
