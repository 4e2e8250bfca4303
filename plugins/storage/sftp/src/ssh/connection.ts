/**
 * A live SSH connection (with its SFTP channel on pooled connections): whether it is dead or busy,
 * its idle watch, its socket's byte counts, and how it ends.
 */
import type { Socket } from "node:net";
import { debugLog, errors, type FerryError, watchIdle } from "@ferry/plugin-kit";
import type { Client, SFTPWrapper } from "ssh2";
import { SftpCalls } from "./sftp-calls.ts";
import { describeTarget, type Target } from "./target.ts";

/** `NODE_DEBUG=ferry:sftp` says when the idle timeout ends a connection. */
const debug = debugLog("ferry:sftp");

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
