/**
 * The idle timeout every plugin puts on its connections: when no byte passes in either direction for
 * the timeout while an operation is using a connection, the connection is destroyed and the operation
 * fails with a Transient error naming the host ("no data from 127.0.0.1:9000 for 60 s"), which the
 * transfer engine retries. Without it a connection that stops passing data without a reset (a dead
 * NAT entry, a hung server) holds a transfer forever.
 *
 * Only silence counts, not slowness: a transfer that moves one byte a second is never cut, nor is a
 * connection resting in a pool between operations. Where a server may think for long before it
 * answers (S3's CompleteMultipartUpload of a large object), the server sends bytes meanwhile (S3
 * sends spaces), so the connection is not idle.
 *
 * The timeout comes from, in order: the plugin's `timeout` option, `setIdleTimeout()` (what the
 * CLI's `--timeout` sets), the `FERRY_TIMEOUT` environment variable, then 60 s. 0 turns it off.
 */
import type { Socket } from "node:net";
import type { Readable } from "node:stream";
import { errors, type FerryError } from "./errors.ts";

export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

/** A duration as options take it: milliseconds as a number, or text such as "30s", "2m", "500ms", "1h" (plain digits are seconds). */
export type Duration = number | string;

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Milliseconds from a duration. `name` is how the caller knows the setting (`--timeout`,
 * `s3({ timeout })`), for the error.
 */
export function parseDuration(value: Duration, name = "timeout"): number {
  if (typeof value === "number") {
    if (Number.isFinite(value) && value >= 0) return Math.round(value);
    throw errors.invalidInput(`${name} must be a duration of 0 or more milliseconds, got ${value}`);
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(value);
  if (!match)
    throw errors.invalidInput(`${name} must be a duration such as 30s, 2m or 90 (seconds), got "${value}"`);
  return Math.round(Number(match[1]) * (UNITS[(match[2] ?? "s").toLowerCase()] as number));
}

/** Shared by every copy of @ferry/core in the process, so plugins built against another copy see it too. */
const SETTING = Symbol.for("ferry.idleTimeoutMs");
type Global = { [SETTING]?: number | undefined };

/** Sets the idle timeout of every plugin that has no `timeout` option of its own; `undefined` goes back to FERRY_TIMEOUT or 60 s. */
export function setIdleTimeout(value: Duration | undefined): void {
  (globalThis as Global)[SETTING] = value === undefined ? undefined : parseDuration(value, "timeout");
}

/** The idle timeout in ms for a plugin whose own `timeout` option is `option` (0: no timeout). */
export function idleTimeoutMs(option?: Duration, name = "timeout"): number {
  if (option !== undefined) return parseDuration(option, name);
  const set = (globalThis as Global)[SETTING];
  if (set !== undefined) return set;
  const env = process.env.FERRY_TIMEOUT;
  if (env !== undefined && env.trim() !== "") return parseDuration(env, "FERRY_TIMEOUT");
  return DEFAULT_IDLE_TIMEOUT_MS;
}

const STALL = Symbol.for("ferry.stall");
const STALL_MESSAGE = /^no data from (\S+) for (\d+(?:\.\d+)?) s\b/;

/** Whole seconds where that is exact, else one decimal (tests use timeouts below a second). */
function seconds(ms: number): string {
  return ms % 1000 === 0 ? String(ms / 1000) : (ms / 1000).toFixed(1);
}

/** The error of a stalled connection to `host` (`host:port`). */
export function stallError(
  host: string,
  timeoutMs: number,
  ctx: { system?: string; cause?: unknown } = {},
): FerryError {
  const error = errors.transient(`no data from ${host} for ${seconds(timeoutMs)} s`, ctx);
  Object.defineProperty(error, STALL, { value: { host, timeoutMs } });
  return error;
}

/**
 * The stall behind `error`, when a connection's idle timeout caused it: looked for along the cause
 * chain, and by message where an SDK re-wrapped the error in its own type.
 */
export function findStall(error: unknown): { host: string; timeoutMs: number } | undefined {
  for (let current = error, depth = 0; current && depth < 8; depth++) {
    if (typeof current !== "object") break;
    const marked = (current as Record<symbol, unknown>)[STALL];
    if (marked) return marked as { host: string; timeoutMs: number };
    const match = STALL_MESSAGE.exec(String((current as { message?: unknown }).message ?? ""));
    if (match) return { host: match[1] as string, timeoutMs: Number(match[2]) * 1000 };
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

const GERUNDS: Record<string, string> = {
  stat: "checking",
  mkdir: "creating the folder",
  deleteDirectory: "deleting the folder",
  checksum: "hashing",
  upload: "uploading",
  download: "downloading",
};

/** "read" → "reading", "write" → "writing", "copy" → "copying". */
function gerund(operation: string): string {
  const known = GERUNDS[operation];
  if (known) return known;
  if (/[^e]e$/.test(operation)) return `${operation.slice(0, -1)}ing`;
  return `${operation}ing`;
}

/**
 * `error` said from the operation's side when a stall caused it: "no data from HOST for N s while
 * reading s3://bucket/key" (`operation` is the plugin's name for it, `where` the URL). Otherwise
 * undefined.
 */
export function describeStall(
  error: unknown,
  operation: string,
  where: string,
  ctx: { system?: string | undefined; path?: string | undefined } = {},
): FerryError | undefined {
  const stall = findStall(error);
  if (!stall) return undefined;
  const described = errors.transient(
    `no data from ${stall.host} for ${seconds(stall.timeoutMs)} s while ${gerund(operation)} ${where}`,
    { ...ctx, cause: error },
  );
  Object.defineProperty(described, STALL, { value: stall });
  return described;
}

export interface IdleWatchOptions {
  /** `host:port`, for the error. */
  host: string;
  /** The timeout in ms, asked on every check (0: not watching). */
  timeoutMs: () => number;
  /** Whether an operation is using the connection now; time resting in a pool between operations is not idle time. */
  busy: () => boolean;
  /** What to do on a stall. */
  onStall: (error: FerryError) => void;
  /**
   * For protocols that can ask the peer whether it is alive (SSH's keepalive request): called once
   * the connection has been silent for half the timeout. A peer that answers is busy, not gone (a
   * command still running, a disk slow to answer), and the silence starts over; what the probe itself
   * sends does not count.
   */
  probe?: () => void;
  system?: string;
}

/**
 * Bytes handed to the kernel. A write queued in Node or libuv counts only as the kernel takes it — a
 * large write (a 5 MiB part) is queued whole at once, so `bytesWritten` alone would stand still while
 * it drains, or not move when the peer stops reading.
 */
function sent(socket: Partial<Socket>): number {
  const queued =
    (socket.writableLength ?? 0) +
    ((socket as { _handle?: { writeQueueSize?: number } | null })._handle?.writeQueueSize ?? 0);
  return (socket.bytesWritten ?? 0) - queued;
}

/**
 * Watches a socket's byte counters while `busy()` says an operation uses it, and calls `onStall` once
 * when they stand still for the timeout. Checks a few times per timeout (at most once a second), so
 * a stall is noticed within 1¼ timeouts. The timer never keeps Node alive and ends with the socket.
 * Returns a function that stops watching.
 */
export function watchIdle(socket: Socket, options: IdleWatchOptions): () => void {
  return watchCounters(
    { read: () => socket.bytesRead, sent: () => sent(socket), gone: () => socket.destroyed },
    socket,
    options,
  );
}

/**
 * `watchIdle` for a download stream whose connection is out of reach (an SDK's own pool): silence
 * counts only while the stream flows (not while the reader holds it back), and a stall destroys it.
 */
export function watchReadable(
  stream: Readable,
  options: Omit<IdleWatchOptions, "onStall" | "probe">,
): () => void {
  let received = 0;
  stream.on("data", (chunk: { length: number }) => {
    received += chunk.length;
  });
  return watchCounters({ read: () => received, sent: () => 0, gone: () => stream.destroyed }, stream, {
    ...options,
    busy: () => options.busy() && !stream.isPaused(),
    onStall: (error) => stream.destroy(error),
  });
}

interface Counters {
  read(): number;
  sent(): number;
  gone(): boolean;
}

function watchCounters(
  counters: Counters,
  closing: { once(event: "close", listener: () => void): unknown },
  options: IdleWatchOptions,
): () => void {
  let lastRead = counters.read();
  let lastSent = counters.sent();
  let since = performance.now();
  /** A probe is out: only an answer (bytes read) ends the silence, not the probe's own bytes. */
  let probing = false;
  let timer: NodeJS.Timeout | undefined;
  const stop = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
  const check = () => {
    timer = undefined;
    if (counters.gone()) return;
    const timeout = options.timeoutMs();
    const now = performance.now();
    const read = counters.read();
    const wrote = counters.sent();
    const moved = read !== lastRead || (!probing && wrote !== lastSent);
    lastRead = read;
    lastSent = wrote;
    if (timeout <= 0 || !options.busy() || moved) {
      since = now;
      probing = false;
    } else if (now - since >= timeout) {
      options.onStall(stallError(options.host, timeout, options.system ? { system: options.system } : {}));
      return;
    } else if (options.probe && !probing && now - since >= timeout / 2) {
      probing = true;
      options.probe();
    }
    schedule(timeout);
  };
  const schedule = (timeout: number) => {
    timer = setTimeout(check, timeout > 0 ? Math.min(1000, Math.max(25, timeout / 4)) : 1000);
    timer.unref();
  };
  schedule(options.timeoutMs());
  closing.once("close", stop);
  return stop;
}

/** undici's own idle timers (`headersTimeout`, `bodyTimeout`): a stall, said as one. */
const UNDICI_TIMEOUTS = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);

/** The stall error for `error` when it is one of undici's idle timeouts on a connection to `host`; else undefined. */
export function undiciStall(
  error: unknown,
  host: string,
  timeoutMs: number,
  ctx: { system?: string } = {},
): FerryError | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== "string" || !UNDICI_TIMEOUTS.has(code)) return undefined;
  return stallError(host, timeoutMs, { ...ctx, cause: error });
}
