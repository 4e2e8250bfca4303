/**
 * Opening one SSH connection (with its SFTP channel), through ProxyJump hops when configured, with
 * the keys to offer, host keys checked against known_hosts and connection failures typed (errors.ts).
 * ssh2 is loaded on first use, so importing the plugin costs nothing until a host is contacted.
 */
import type { Duplex } from "node:stream";
import { debugLog, errors, idleTimeoutMs, wording } from "@ferry/plugin-kit";
import type {
  AgentAuthMethod,
  Client,
  ClientChannel,
  ConnectConfig,
  PublicKeyAuthMethod,
  SFTPWrapper,
} from "ssh2";
import { connectError } from "../errors.ts";
import { DEFAULTS, type SftpOptions } from "../options.ts";
import { Connection } from "./connection.ts";
import { algorithmsFor, hostPattern, knownKeys, type Verdict, verifyHostKey } from "./known-hosts.ts";
import { holdSessionKeysAsObjects } from "./session-keys.ts";
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
  const context: { hostKey?: Verdict; tried: string[] } = { tried };
  const config = connectConfig(target, options, await authMethods(target, options, tried), context);
  if (sock) config.sock = sock;
  const client = new Client();
  await handshake(client, config, target, context);
  // Errors after the handshake surface through the operation that sees them; keep one listener so
  // an 'error' event never becomes an uncaught exception.
  client.on("error", () => {});
  if (!withSftp) return new Connection(client, target, undefined, hops);
  const sftp = await openSftp(client, target);
  sftp.on("error", () => {});
  const connection = new Connection(client, target, sftp, hops);
  connection.watchIdle(() => idleTimeoutMs(options.timeout));
  return connection;
}

/** ssh2's settings for `target`: who logs in how, and the host key check (its verdict lands in `context`). */
function connectConfig(
  target: Target,
  options: SftpOptions,
  methods: Array<PublicKeyAuthMethod | AgentAuthMethod>,
  context: { hostKey?: Verdict },
): ConnectConfig {
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
  return config;
}

/** Connect and authenticate; a failure is typed (errors.ts) with what was tried and the host key verdict. */
function handshake(
  client: Client,
  config: ConnectConfig,
  target: Target,
  context: { hostKey?: Verdict; tried: string[] },
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
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
}

function openSftp(client: Client, target: Target): Promise<SFTPWrapper> {
  return new Promise<SFTPWrapper>((resolve, reject) => {
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
}
