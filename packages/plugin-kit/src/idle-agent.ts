/**
 * `node:http` / `node:https` agents whose sockets carry the idle timeout (see idle-timeout.ts), for
 * plugins whose SDK sends requests through `node:http` and accepts an agent (the AWS SDK's handler,
 * Azure's pipeline). A stalled request fails with the stall error itself — before the answer, from
 * the request; during the body, from the response stream — so the plugin can say what stalled.
 */
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { FerryError } from "./errors.ts";
import { watchIdle } from "./idle-timeout.ts";

export interface IdleAgentOptions {
  /** The timeout in ms, asked on every check (0: none). */
  timeoutMs: () => number;
  /** The system, for the error ("s3", "az"). */
  system?: string;
  /** Sockets per origin. Default 50 (the AWS SDK's own default). */
  maxSockets?: number;
  /** Told of each stall (after the request and socket are destroyed with it). */
  onStall?: (error: FerryError) => void;
}

interface InUse {
  /** The request a socket is serving (node:http sets it while the socket is taken from the pool). */
  _httpMessage?: { destroy(error?: Error): void; res?: { destroy(error?: Error): void } | null } | null;
}

type CreateConnection = (options: Record<string, unknown>, callback?: unknown) => Duplex;

function watched(create: CreateConnection, options: IdleAgentOptions): CreateConnection {
  return function (this: unknown, connectOptions, callback) {
    const socket = create.call(this, connectOptions, callback) as Socket & InUse;
    const host = `${String(connectOptions.host ?? connectOptions.hostname ?? "localhost")}:${String(connectOptions.port ?? "")}`;
    watchIdle(socket, {
      host,
      timeoutMs: options.timeoutMs,
      busy: () => socket._httpMessage != null,
      ...(options.system ? { system: options.system } : {}),
      onStall: (error) => {
        const request = socket._httpMessage;
        request?.res?.destroy(error);
        request?.destroy(error);
        socket.destroy(error);
        options.onStall?.(error);
      },
    });
    return socket;
  };
}

/** A keep-alive agent for each protocol, both watching their sockets for stalls. */
export function idleAgents(options: IdleAgentOptions): {
  http: HttpAgent;
  https: HttpsAgent;
  /**
   * The latest stall on these agents' sockets within the last timeout, if any: for SDKs that replace
   * the error of a cut response with their own (Azure's download stream reports an AbortError).
   */
  recentStall(): FerryError | undefined;
} {
  const settings = { keepAlive: true, maxSockets: options.maxSockets ?? 50 };
  const http = new HttpAgent(settings);
  const https = new HttpsAgent(settings);
  let latest: { error: FerryError; at: number } | undefined;
  const recording: IdleAgentOptions = {
    ...options,
    onStall: (error) => {
      latest = { error, at: performance.now() };
    },
  };
  const agents = [http, https] as unknown as Array<{ createConnection: CreateConnection }>;
  for (const agent of agents) agent.createConnection = watched(agent.createConnection, recording);
  return {
    http,
    https,
    recentStall: () =>
      latest && performance.now() - latest.at <= Math.max(1000, options.timeoutMs())
        ? latest.error
        : undefined,
  };
}
