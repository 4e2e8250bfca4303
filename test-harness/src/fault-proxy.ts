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
  const state: ProxyState = {
    faults: [],
    sockets: new Set(),
    stallEnders: new Set(),
    connections: 0,
    rate: undefined,
    bytes: { upstream: 0, downstream: 0 },
  };
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    new ProxiedConnection(client, target, state);
  });
  server.listen(0, HOST);
  await once(server, "listening");
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("fault proxy: no port");
  return controls(server, address.port, state);
}

/** What every connection through one proxy shares: the armed faults, the rate limit, the counters. */
interface ProxyState {
  faults: ArmedFault[];
  sockets: Set<Socket>;
  stallEnders: Set<() => void>;
  connections: number;
  rate: number | undefined;
  bytes: { upstream: number; downstream: number };
}

/** The FaultProxy a test holds: arms faults and throttles in `state`, stops `server`. */
function controls(server: Server, port: number, state: ProxyState): FaultProxy {
  return {
    host: HOST,
    port,
    endpoint: `http://${HOST}:${port}`,
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
      state.faults.push(armed);
      return {
        get fired() {
          return armed.fired;
        },
      };
    },
    throttle(bytesPerSecond) {
      if (bytesPerSecond !== undefined && !(bytesPerSecond > 0))
        throw new Error("fault proxy: throttle takes a positive rate in bytes per second");
      state.rate = bytesPerSecond;
    },
    clear() {
      state.faults.length = 0;
      state.rate = undefined;
      for (const end of state.stallEnders) end();
      state.stallEnders.clear();
    },
    get connections() {
      return state.connections;
    },
    bytes: state.bytes,
    async stop() {
      for (const end of state.stallEnders) end();
      for (const socket of state.sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

/** One client's connection, joined to its own connection to the target, with faults applied both ways. */
class ProxiedConnection {
  private readonly client: Socket;
  private readonly upstream = new Socket({ allowHalfOpen: true });
  private readonly state: ProxyState;
  private stalled = false;
  private cut = false;

  constructor(client: Socket, target: { host?: string; port: number }, state: ProxyState) {
    this.client = client;
    this.state = state;
    state.connections += 1;
    state.sockets.add(client);
    state.sockets.add(this.upstream);
    client.pause();
    this.upstream.connect({ host: target.host ?? HOST, port: target.port }, () => {
      this.pipe(client, this.upstream, "upstream");
      this.pipe(this.upstream, client, "downstream");
      client.resume();
    });
    this.upstream.on("error", () => client.destroy());
    client.on("error", () => this.upstream.destroy());
  }

  private pipe(from: Socket, to: Socket, direction: FaultDirection): void {
    const faults = new DirectionFaults(this.state.faults, direction);
    from.on("data", (chunk: Buffer) => {
      if (this.stalled || this.cut) return;
      const { out, cutBy } = faults.apply(chunk);
      if (cutBy === undefined) {
        this.forward(from, to, direction, out);
        return;
      }
      this.state.bytes[direction] += out.length;
      if (out.length > 0) to.write(out);
      if (cutBy === "stall") this.stall();
      else this.closeBoth(cutBy === "drop");
    });
    from.on("end", () => {
      if (!this.stalled) to.end();
    });
    from.on("error", () => to.destroy());
    from.on("close", () => {
      this.state.sockets.delete(from);
      if (!this.stalled) to.destroy();
    });
  }

  /** Writes `out` on, reading on once it is written out and, when throttled, its share of a second has passed. */
  private forward(from: Socket, to: Socket, direction: FaultDirection, out: Buffer): void {
    this.state.bytes[direction] += out.length;
    let waits = 0;
    const release = () => {
      waits -= 1;
      if (waits === 0 && !this.stalled && !this.cut) from.resume();
    };
    if (!to.write(out)) {
      waits += 1;
      to.once("drain", release);
    }
    if (this.state.rate !== undefined) {
      waits += 1;
      setTimeout(release, (out.length / this.state.rate) * 1000);
    }
    if (waits > 0) from.pause();
  }

  /** Ends both sides: reset (a dropped connection) or closed cleanly (a truncated one). */
  private closeBoth(reset: boolean): void {
    this.cut = true;
    for (const socket of [this.client, this.upstream]) {
      if (reset) socket.resetAndDestroy();
      else socket.end();
    }
  }

  /** Passes nothing more either way, with both sockets open, until the proxy is cleared or stopped. */
  private stall(): void {
    this.stalled = true;
    this.client.pause();
    this.upstream.pause();
    this.state.stallEnders.add(() => this.closeBoth(true));
  }
}

/** The faults of one direction of one connection: where each fires, and what each chunk becomes. */
class DirectionFaults {
  private readonly faults: ArmedFault[];
  private readonly direction: FaultDirection;
  private seen = 0; // bytes of this direction already examined
  private tail = Buffer.alloc(0); // the end of the previous chunk, for markers split across chunks
  private readonly pending: Pending[] = [];

  constructor(faults: ArmedFault[], direction: FaultDirection) {
    this.faults = faults;
    this.direction = direction;
  }

  /** The bytes of `chunk` to pass on (with any flips) and, when a fault cuts the connection here, its kind. */
  apply(chunk: Buffer): { out: Buffer; cutBy?: Exclude<FaultKind, "flip"> } {
    const start = this.seen;
    this.seen += chunk.length;
    this.arm(start, chunk);
    this.keepTail(chunk);
    return this.fire(start, chunk);
  }

  /** Schedules each armed fault of this direction whose trigger is in `chunk`. */
  private arm(start: number, chunk: Buffer): void {
    for (const armed of this.faults) {
      if (armed.left <= 0 || armed.fault.direction !== this.direction) continue;
      if (this.pending.some((p) => p.armed === armed)) continue;
      const at = triggerPoint(armed, start, chunk, this.tail);
      if (at === undefined) continue;
      armed.left -= 1;
      this.pending.push({ armed, at });
    }
  }

  private keepTail(chunk: Buffer): void {
    const keep = Math.max(0, ...this.faults.map((f) => (f.marker?.length ?? 1) - 1));
    this.tail =
      chunk.length >= keep
        ? Buffer.from(chunk.subarray(chunk.length - keep))
        : Buffer.from(Buffer.concat([this.tail, chunk]).subarray(-keep));
  }

  /** Fires the scheduled faults that fall in `chunk`, in order; a cut ends the chunk where it fires. */
  private fire(start: number, chunk: Buffer): { out: Buffer; cutBy?: Exclude<FaultKind, "flip"> } {
    this.pending.sort((a, b) => a.at - b.at);
    let out = chunk;
    while (this.pending.length > 0 && (this.pending[0] as Pending).at < this.seen) {
      const { armed, at } = this.pending.shift() as Pending;
      armed.fired += 1;
      const index = Math.max(0, at - start);
      const { kind } = armed.fault;
      if (kind !== "flip") return { out: out.subarray(0, index), cutBy: kind };
      if (out === chunk) out = Buffer.from(chunk);
      out[index] = (out[index] as number) ^ (armed.fault.mask ?? 0x01);
    }
    return { out };
  }
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
