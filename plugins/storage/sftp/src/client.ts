/**
 * Connections per host, shared by every storage on that host with the same identity: at most
 * `maxSessionsPerHost` SSH connections; operations beyond that are multiplexed onto the least busy
 * one (SFTP pipelines requests). A dropped connection is discarded and the operation retried once
 * on a fresh one when it is safe to repeat. The last storage to close ends the connections; idle
 * connections never keep Node alive.
 */
import { createHash } from "node:crypto";
import { debugLog, errors, FerryError, findStall } from "@ferry/plugin-kit";
import { isLostConnection } from "./errors.ts";
import { DEFAULTS, type SftpOptions } from "./options.ts";
import { connect } from "./ssh/connect.ts";
import type { Connection } from "./ssh/connection.ts";
import { describeTarget, type Target } from "./ssh/target.ts";

/** `NODE_DEBUG=ferry:sftp` traces connections; never keys, passphrases or file contents. */
const debug = debugLog("ferry:sftp");

const pools = new Map<string, HostPool>();

/**
 * Facts about hosts (their features, the login's home directory) outlive the pool that learned
 * them for a while, so that a program opening storages on one host again and again (one copy after
 * another) asks once: the feature probe runs a command through the login shell, whose start-up
 * files can take far longer than the rest of opening a storage.
 */
const FACT_LIFETIME_MS = 10 * 60_000;
const knownFacts = new Map<string, { value: Promise<unknown>; until: number }>();

function identity(target: Target, options: SftpOptions): string {
  const key =
    options.privateKey === undefined ? "" : createHash("sha256").update(options.privateKey).digest("hex");
  return JSON.stringify([
    target.username,
    target.host,
    target.port,
    target.proxyJump ?? "",
    target.knownHosts,
    target.hostKeyCheck,
    options.privateKeyPath ?? "",
    key,
    target.agent ?? "",
  ]);
}

/** The shared pool for this host and identity; call `release()` once per `acquirePool()`. */
export function acquirePool(target: Target, options: SftpOptions): HostPool {
  const key = identity(target, options);
  let pool = pools.get(key);
  if (!pool) {
    pool = new HostPool(target, options, () => pools.delete(key), key);
    pools.set(key, pool);
  }
  pool.retain();
  return pool;
}

/** An error that means the transport went away, not that the operation itself failed. */
function isConnectionLoss(error: unknown, connection: Connection): boolean {
  if (connection.gone) return true;
  return !FerryError.isInstance(error) && isLostConnection(error);
}

export class HostPool {
  readonly target: Target;
  readonly #options: SftpOptions;
  readonly #max: number;
  readonly #onEmpty: () => void;
  #connections: Connection[] = [];
  #opening: Promise<Connection>[] = [];
  #refs = 0;
  /** Who connects where, as whom: the key of the facts learned through this pool. */
  readonly #identity: string;

  constructor(target: Target, options: SftpOptions, onEmpty: () => void, identity: string) {
    this.target = target;
    this.#options = options;
    this.#max = Math.max(1, options.maxSessionsPerHost ?? DEFAULTS.maxSessionsPerHost);
    this.#onEmpty = onEmpty;
    this.#identity = identity;
  }

  get label(): string {
    return describeTarget(this.target);
  }

  /**
   * Live connections, and the bytes the host's connections have received and sent so far (the
   * encrypted stream, so it shows whether data passed through this process at all).
   */
  stats(): { connections: number; bytesRead: number; bytesWritten: number } {
    const live = this.#connections.filter((connection) => !connection.gone);
    let { read: bytesRead, written: bytesWritten } = this.#retiredBytes;
    for (const connection of this.#connections) {
      bytesRead += connection.bytes.read;
      bytesWritten += connection.bytes.written;
    }
    return { connections: live.length, bytesRead, bytesWritten };
  }

  #retiredBytes = { read: 0, written: 0 };

  /** Forget dead connections, keeping their byte counts. */
  #prune(): void {
    for (const connection of this.#connections) {
      if (!connection.gone) continue;
      this.#retiredBytes.read += connection.bytes.read;
      this.#retiredBytes.written += connection.bytes.written;
    }
    this.#connections = this.#connections.filter((connection) => !connection.gone);
  }

  /**
   * A fact about the host (its features, the login's home directory), computed once and remembered
   * for FACT_LIFETIME_MS by every pool with this identity. A failure is not remembered.
   */
  fact<T>(name: string, compute: () => Promise<T>): Promise<T> {
    const key = JSON.stringify([this.#identity, name]);
    const known = knownFacts.get(key);
    if (known && known.until > Date.now()) return known.value as Promise<T>;
    const pending = compute();
    pending.catch(() => {
      if (knownFacts.get(key)?.value === pending) knownFacts.delete(key);
    });
    knownFacts.set(key, { value: pending, until: Date.now() + FACT_LIFETIME_MS });
    return pending;
  }

  retain(): void {
    this.#refs += 1;
  }

  /** Drop one reference; the last one ends every connection. */
  async release(): Promise<void> {
    this.#refs -= 1;
    if (this.#refs > 0) return;
    this.#onEmpty();
    debug("%s: last storage closed, ending %d connection(s)", this.label, this.#connections.length);
    const opening = await Promise.allSettled(this.#opening);
    const all = [
      ...this.#connections,
      ...opening.flatMap((result) => (result.status === "fulfilled" ? [result.value] : [])),
    ];
    this.#connections = [];
    await Promise.all(all.map((connection) => connection.end()));
  }

  /** A connection marked busy; give it back with `giveBack`. */
  async take(): Promise<Connection> {
    if (this.#refs <= 0)
      throw errors.invalidInput(`the storage for ${this.label} is closed`, { system: "sftp" });
    for (;;) {
      this.#prune();
      const idle = this.#connections.find((connection) => connection.busy === 0);
      let chosen = idle;
      if (!chosen && this.#connections.length + this.#opening.length < this.#max) chosen = await this.#open();
      if (!chosen && this.#connections.length > 0) {
        chosen = this.#connections.reduce((best, connection) =>
          connection.busy < best.busy ? connection : best,
        );
      }
      if (!chosen) {
        // Every slot is still connecting: wait for one, then look again.
        await Promise.race(this.#opening).catch(() => undefined);
        continue;
      }
      if (chosen.gone) continue;
      chosen.busy += 1;
      if (chosen.busy === 1) chosen.setActive(true);
      return chosen;
    }
  }

  /** Keep `connection` busy beyond the operation that took it (a stream still reading); pair with `giveBack`. */
  hold(connection: Connection): void {
    connection.busy += 1;
  }

  /** `hold`, returning the matching release (safe to call more than once). */
  keep(connection: Connection): () => void {
    this.hold(connection);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.giveBack(connection);
    };
  }

  giveBack(connection: Connection): void {
    connection.busy -= 1;
    if (connection.busy === 0 && !connection.dead) connection.setActive(false);
  }

  async #open(): Promise<Connection> {
    const pending = connect(this.target, this.#options, true);
    this.#opening.push(pending);
    try {
      const connection = await pending;
      if (this.#refs <= 0) {
        await connection.end();
        throw errors.invalidInput(`the storage for ${this.label} was closed while connecting`, {
          system: "sftp",
        });
      }
      this.#connections.push(connection);
      debug("%s: connection %d of at most %d open", this.label, this.#connections.length, this.#max);
      return connection;
    } finally {
      this.#opening = this.#opening.filter((item) => item !== pending);
    }
  }

  /**
   * Run `operation` on a pooled connection. When the connection drops under it, the operation is
   * retried once on a fresh connection if `retry` says it is safe to repeat (a function is asked at
   * that moment, e.g. "has the source been read yet?"); otherwise, or when the retry also loses its
   * connection, it fails with Transient.
   */
  async run<T>(
    operation: (connection: Connection) => Promise<T>,
    options: { retry?: boolean | (() => boolean) } = {},
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const connection = await this.take();
      try {
        return await operation(connection);
      } catch (error) {
        if (!isConnectionLoss(error, connection)) throw error;
        connection.dead = true;
        void connection.end();
        const repeatable = typeof options.retry === "function" ? options.retry() : options.retry !== false;
        debug(
          "%s: connection lost (%s); %s",
          this.label,
          (error as Error)?.message,
          repeatable && attempt === 0 ? "retrying" : "giving up",
        );
        if (repeatable && attempt === 0) continue;
        if (findStall(error)) throw error; // it already says what stalled
        throw errors.transient(`the SSH connection to ${this.label} dropped during the operation`, {
          system: "sftp",
          cause: error,
        });
      } finally {
        this.giveBack(connection);
      }
    }
  }
}
