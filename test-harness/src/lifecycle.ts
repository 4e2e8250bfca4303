/**
 * Lifecycle for real backends on 127.0.0.1: a free port, a readiness probe, a child process whose
 * output is kept (and printed when a test fails), and teardown that leaves no process behind.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { rm } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

export const HOST = "127.0.0.1";

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, HOST);
  await once(server, "listening");
  const address = server.address();
  server.close();
  await once(server, "close");
  if (address === null || typeof address === "string") throw new Error("could not get a free port");
  return address.port;
}

/** Resolves once something accepts TCP connections on host:port. */
export async function waitForPort(
  port: number,
  options: { host?: string; timeoutMs?: number; what?: string } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: options.host ?? HOST, port });
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(
        `${options.what ?? "backend"} did not listen on ${options.host ?? HOST}:${port} in time`,
      );
    await sleep(50);
  }
}

/** Polls `probe` until it returns true (or throws after the timeout). */
export async function waitUntil(
  probe: () => Promise<boolean>,
  options: { timeoutMs?: number; what?: string } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let lastError: unknown;
  for (;;) {
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${options.what ?? "backend"} was not ready in time${lastError ? `: ${String(lastError)}` : ""}`,
      );
    }
    await sleep(50);
  }
}

/** A short random name for buckets, containers and roots: `ferry-test-<12 hex>`. */
export function uniqueName(prefix = "ferry-test"): string {
  return `${prefix}-${randomBytes(6).toString("hex")}`;
}

/** A running backend. `stop()` is idempotent. */
export interface Backend {
  readonly name: string;
  /** Last lines of the backend's own output, for failure reports. */
  logs(): string;
  stop(): Promise<void>;
}

export interface ChildBackend extends Backend {
  readonly process: ChildProcess;
}

/** Keeps the last `limit` characters of a stream of text. */
export class LogTail {
  #text = "";
  readonly #limit: number;
  constructor(limit = 64 * 1024) {
    this.#limit = limit;
  }
  push(chunk: Buffer | string): void {
    this.#text += chunk.toString();
    if (this.#text.length > this.#limit) this.#text = this.#text.slice(-this.#limit);
  }
  toString(): string {
    return this.#text;
  }
}

/** Spawn a backend process (in its own process group, so teardown kills its children too). */
export function spawnBackend(
  name: string,
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): ChildBackend {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const tail = new LogTail();
  child.stdout?.on("data", (chunk) => tail.push(chunk));
  child.stderr?.on("data", (chunk) => tail.push(chunk));
  child.on("error", (error) => tail.push(`\n[spawn error] ${error.message}\n`));
  let stopped: Promise<void> | undefined;
  const backend: ChildBackend = {
    name,
    process: child,
    logs: () => tail.toString(),
    stop() {
      stopped ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, "exit");
        try {
          process.kill(-child.pid!, "SIGTERM");
        } catch {
          child.kill("SIGTERM");
        }
        const timer = setTimeout(() => {
          try {
            process.kill(-child.pid!, "SIGKILL");
          } catch {
            child.kill("SIGKILL");
          }
        }, 3000);
        await exited;
        clearTimeout(timer);
      })();
      return stopped;
    },
  };
  live.add(backend);
  child.once("exit", () => live.delete(backend));
  return backend;
}

const live = new Set<Backend>();

/** An idempotent `stop()` for a backend that keeps its data in a temporary directory: the process, then the directory. */
export function stopAndRemove(child: Backend, directory: string): () => Promise<void> {
  let stopped: Promise<void> | undefined;
  return () => {
    stopped ??= (async () => {
      await child.stop();
      await rm(directory, { recursive: true, force: true });
    })();
    return stopped;
  };
}

/** Stop every backend this process started (registered automatically; also call from afterAll). */
export async function stopAll(): Promise<void> {
  await Promise.allSettled([...live].map((backend) => backend.stop()));
  live.clear();
}

export function track(backend: Backend): Backend {
  live.add(backend);
  return backend;
}

/** Print a backend's logs when the current test failed: call as `afterEach(ctx => printLogsOnFailure(ctx, backend))`. */
export function printLogsOnFailure(
  context: { task: { result?: { state?: string } } },
  ...backends: Backend[]
): void {
  if (context.task.result?.state !== "fail") return;
  for (const backend of backends) {
    process.stderr.write(
      `\n----- ${backend.name} logs (last lines) -----\n${backend.logs().slice(-8000)}\n-----\n`,
    );
  }
}

process.once("exit", () => {
  for (const backend of live) {
    const child = (backend as Partial<ChildBackend>).process;
    if (child?.pid && child.exitCode === null) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
});
