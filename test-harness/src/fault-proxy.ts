/**
 * A TCP proxy on 127.0.0.1 that sits between a client and a real backend (s3rver, azurite, the GCS
 * server, sshd) and injects the faults a network does: a byte flipped in either direction, a
 * connection dropped (reset) or truncated (closed cleanly) partway, or a stall where data simply
 * stops flowing while the connection stays open.
 *
 * A fault fires where a `marker` first passes through (a byte string the test puts into the data it
 * sends or stores, so the fault lands inside a body, not in HTTP headers) or after a byte count of
 * one direction of a connection (for encrypted protocols such as SSH, where no marker is visible).
 * Each fault fires `times` times (once by default) across all connections, so a retry gets through.
 *
 * `throttle(bytesPerSecond)` slows every connection down without ever stopping it (for tests that a
 * slow but moving transfer is not mistaken for a stalled one).
 */
import { once } from "node:events";
import { createServer, type Server, Socket } from "node:net";
import { HOST } from "./lifecycle.ts";

/** client → server ("upstream": request bodies, uploads) or server → client ("downstream"). */
export type FaultDirection = "upstream" | "downstream";

export type FaultKind =
  /** XOR one byte with `mask` and pass everything on. */
  | "flip"
  /** Pass the bytes before the trigger, then reset both sides. */
  | "drop"
  /** Pass the bytes before the trigger, then close both sides cleanly (a short body). */
  | "truncate"
  /** Pass the bytes before the trigger, then pass nothing more either way; the sockets stay open. */
  | "stall";

export interface Fault {
  kind: FaultKind;
  direction: FaultDirection;
  /** Fire where this byte string first appears (the first byte of it is the trigger point)... */
  marker?: Uint8Array | string;
  /** ...or after this many bytes of one connection in `direction`. */
  afterBytes?: number;
  /**
   * With `marker`: fire this many bytes after the marker's first byte. Default 0. Bytes are passed on
   * as they arrive, so when a marker is split across two reads its first bytes are already gone: the
   * fault then fires on the first byte still to come. An offset of at least the marker's length always
   * lands exactly.
   */
  offset?: number;
  /** For "flip": the XOR mask. Default 0x01. */
  mask?: number;
  /** How many times the fault fires in all (across connections). Default 1; `Infinity` for always. */
  times?: number;
}

export interface FaultProxy {
  readonly host: string;
  readonly port: number;
  /** `http://127.0.0.1:<port>`, for HTTP backends. */
  readonly endpoint: string;
  /** Arms a fault; returns a handle that counts how often it fired. */
  inject(fault: Fault): { readonly fired: number };
  /**
   * Passes at most this many bytes per second in each direction of each connection, a chunk at a time
   * (chunks are at most 64 KiB, so the data never stops for long); undefined lifts the limit.
   */
  throttle(bytesPerSecond: number | undefined): void;
  /** Disarms every fault, lifts the throttle and ends every stall (stalled sockets are reset). */
  clear(): void;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Bytes passed on in each direction so far. */
  readonly bytes: { readonly upstream: number; readonly downstream: number };
  stop(): Promise<void>;
}

interface ArmedFault {
  fault: Fault;
  marker: Buffer | undefined;
  left: number;
  fired: number;
}

/** Where a fault fires in one direction of one connection: the absolute byte index. */
interface Pending {
  armed: ArmedFault;
  at: number;
}

export async function startFaultProxy(target: { host?: string; port: number }): Promise<FaultProxy> {
  const faults: ArmedFault[] = [];
  const sockets = new Set<Socket>();
  const stallEnders = new Set<() => void>();
  let connections = 0;
  let rate: number | undefined;
  const bytes = { upstream: 0, downstream: 0 };

  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    connections += 1;
    const upstream = new Socket({ allowHalfOpen: true });
    sockets.add(client);
    sockets.add(upstream);
    let stalled = false;
    let cut = false;
    const closeBoth = (reset: boolean) => {
      cut = true;
      for (const socket of [client, upstream]) {
        if (reset) socket.resetAndDestroy();
        else socket.end();
      }
    };
    const stall = () => {
      stalled = true;
      client.pause();
      upstream.pause();
      stallEnders.add(() => closeBoth(true));
    };
    const pipe = (from: Socket, to: Socket, direction: FaultDirection) => {
      let seen = 0; // bytes of this direction already examined
      let tail = Buffer.alloc(0); // the end of the previous chunk, for markers split across chunks
      const pending: Pending[] = [];
      from.on("data", (chunk: Buffer) => {
        if (stalled || cut) return;
        const start = seen;
        seen += chunk.length;
        for (const armed of faults) {
          if (armed.left <= 0 || armed.fault.direction !== direction) continue;
          if (pending.some((p) => p.armed === armed)) continue;
          const at = triggerPoint(armed, start, chunk, tail);
          if (at === undefined) continue;
          armed.left -= 1;
          pending.push({ armed, at });
        }
        const keep = Math.max(0, ...faults.map((f) => (f.marker?.length ?? 1) - 1));
        tail =
          chunk.length >= keep
            ? Buffer.from(chunk.subarray(chunk.length - keep))
            : Buffer.from(Buffer.concat([tail, chunk]).subarray(-keep));
        pending.sort((a, b) => a.at - b.at);
        let out = chunk;
        while (pending.length > 0 && (pending[0] as Pending).at < seen) {
          const { armed, at } = pending.shift() as Pending;
          armed.fired += 1;
          const index = Math.max(0, at - start);
          if (armed.fault.kind === "flip") {
            if (out === chunk) out = Buffer.from(chunk);
            out[index] = (out[index] as number) ^ (armed.fault.mask ?? 0x01);
            continue;
          }
          const before = out.subarray(0, index);
          bytes[direction] += before.length;
          if (before.length > 0) to.write(before);
          if (armed.fault.kind === "stall") stall();
          else if (armed.fault.kind === "truncate") closeBoth(false);
          else closeBoth(true);
          return;
        }
        bytes[direction] += out.length;
        // Read on once the chunk is written out and, when throttled, its share of a second has passed.
        let waits = 0;
        const release = () => {
          waits -= 1;
          if (waits === 0 && !stalled && !cut) from.resume();
        };
        if (!to.write(out)) {
          waits += 1;
          to.once("drain", release);
        }
        if (rate !== undefined) {
          waits += 1;
          setTimeout(release, (out.length / rate) * 1000);
        }
        if (waits > 0) from.pause();
      });
      from.on("end", () => {
        if (!stalled) to.end();
      });
      from.on("error", () => to.destroy());
      from.on("close", () => {
        sockets.delete(from);
        if (!stalled) to.destroy();
      });
    };
    client.pause();
    upstream.connect({ host: target.host ?? HOST, port: target.port }, () => {
      pipe(client, upstream, "upstream");
      pipe(upstream, client, "downstream");
      client.resume();
    });
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
  });
  server.listen(0, HOST);
  await once(server, "listening");
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("fault proxy: no port");

  return {
    host: HOST,
    port: address.port,
    endpoint: `http://${HOST}:${address.port}`,
    inject(fault) {
      const armed: ArmedFault = {
        fault,
        marker: fault.marker === undefined ? undefined : Buffer.from(fault.marker),
        left: fault.times ?? 1,
        fired: 0,
      };
      if ((armed.marker === undefined) === (fault.afterBytes === undefined)) {
        throw new Error("fault proxy: a fault needs exactly one of marker or afterBytes");
      }
      faults.push(armed);
      return {
        get fired() {
          return armed.fired;
        },
      };
    },
    throttle(bytesPerSecond) {
      if (bytesPerSecond !== undefined && !(bytesPerSecond > 0))
        throw new Error("fault proxy: throttle takes a positive rate in bytes per second");
      rate = bytesPerSecond;
    },
    clear() {
      faults.length = 0;
      rate = undefined;
      for (const end of stallEnders) end();
      stallEnders.clear();
    },
    get connections() {
      return connections;
    },
    bytes,
    async stop() {
      for (const end of stallEnders) end();
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

/** The absolute byte index where `armed` fires, if its trigger is in `chunk` (which starts at `start`). */
function triggerPoint(armed: ArmedFault, start: number, chunk: Buffer, tail: Buffer): number | undefined {
  const { fault, marker } = armed;
  if (marker === undefined) {
    const after = fault.afterBytes as number;
    return after < start + chunk.length ? Math.max(after, start) : undefined;
  }
  const window = Buffer.concat([tail, chunk]);
  const found = window.indexOf(marker);
  if (found < 0) return undefined;
  return start - tail.length + found + (fault.offset ?? 0);
}
