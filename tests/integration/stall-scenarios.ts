/**
 * What every storage plugin must do when its connection stops passing data without a reset: end the
 * connection after its idle timeout, fail the operation as Transient naming the host, and let the
 * transfer engine's retry get through — and never cut a transfer that is slow but moving. Each
 * backend's test file runs these scenarios against its real server behind the fault proxy.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { copy, type TransferSummary } from "@ferry/core";
import type { Storage } from "@ferry/plugin-kit";
import type { Fault, FaultDirection, FaultProxy } from "@ferry/test-harness";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

/** A timeout short enough for tests, long enough that a loaded 2-core machine never trips it by accident. */
export const TEST_IDLE_MS = 1000;
export const MiB = 1024 * 1024;
/** Each scenario's limit: far above what a working idle timeout needs, far below a hang. */
const SCENARIO_MS = 30_000;

/** The marker in the middle of the file, where HTTP faults fire (SSH traffic is encrypted: byte counts there). */
export const MARKER = "FERRY-STALL-MARKER";

/** Bytes from a fixed seed with MARKER in the middle: the fault lands inside the body, mid-transfer. */
export function payload(size = 3 * MiB): Buffer {
  const bytes = Buffer.alloc(size);
  let state = 0x2545f491;
  for (let i = 0; i < size; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  bytes.write(MARKER, Math.floor(size / 2), "latin1");
  return bytes;
}

export interface StallBackend {
  proxy: FaultProxy;
  /** Bytes of the file copied. Default 3 MiB. */
  size?: number;
  /** A storage that talks to the backend through `proxy`, with the given idle timeout (ms). */
  storage(timeoutMs: number): Promise<Storage>;
  /** Where a fault fires mid-body in `direction`: the marker for HTTP, a byte count for SSH. */
  trigger(direction: "upstream" | "downstream"): Pick<Fault, "marker" | "afterBytes">;
  /** Files the destination has under `prefix` (recursive), to prove nothing was left behind. */
  leftovers(storage: Storage, prefix: string): Promise<string[]>;
  stop(): Promise<void>;
}

export async function keysUnder(storage: Storage, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const entry of storage.list(prefix, { recursive: true }))
    if (entry.kind === "file") keys.push(entry.path);
  return keys;
}

/** Files (temp files included) anywhere below a local directory. */
async function localFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => !entry.isDirectory()).map((entry) => entry.name);
}

const RETRY = { retries: 2, retryDelayMs: 20 };

export function describeStalls(name: string, start: () => Promise<StallBackend>): void {
  describe(`${name}: idle timeout`, () => {
    let backend: StallBackend;
    let storage: Storage;
    let local: string;
    let run = 0;
    let data: Buffer;

    beforeAll(async () => {
      backend = await start();
      data = payload(backend.size);
      storage = await backend.storage(TEST_IDLE_MS);
    });
    afterAll(async () => {
      await storage?.close();
      await backend?.stop();
    });
    afterEach(async () => {
      backend.proxy.clear();
      if (local) await rm(local, { recursive: true, force: true });
    });

    /** A fresh prefix at the backend and a fresh local directory with the payload in `from/`. */
    async function fresh(): Promise<{ prefix: string; from: string; to: string }> {
      run += 1;
      local = await mkdtemp(join(tmpdir(), "ferry-stall-"));
      const from = join(local, "from");
      const to = join(local, "to");
      await mkdir(from);
      await writeFile(join(from, "data.bin"), data);
      return { prefix: `stall-${run}`, from, to };
    }

    async function upload(prefix: string, from: string): Promise<TransferSummary> {
      return copy(from, { storage, path: prefix }, RETRY);
    }

    const DOWNLOAD = "downstream";

    /**
     * Copies the payload down from the backend (`downstream`) or up to it (`upstream`), with `kind`
     * armed `times` times mid-body in that direction; `copied()` reads back what arrived.
     */
    async function copyThrough(direction: FaultDirection, kind: Fault["kind"], times: number) {
      const { prefix, from, to } = await fresh();
      if (direction === DOWNLOAD) expect((await upload(prefix, from)).copied).toBe(1);
      const fault = backend.proxy.inject({ kind, direction, ...backend.trigger(direction), times });
      const started = performance.now();
      const summary = await (direction === DOWNLOAD
        ? copy({ storage, path: prefix }, to, RETRY)
        : upload(prefix, from));
      const seconds = (performance.now() - started) / 1000;
      backend.proxy.clear();
      const copied = async () =>
        direction === DOWNLOAD
          ? readFile(join(to, "data.bin"))
          : Buffer.from(await storage.readBytes(`${prefix}/data.bin`));
      const leftovers = async () =>
        direction === DOWNLOAD
          ? await localFiles(to).catch(() => [])
          : await backend.leftovers(storage, prefix);
      return { summary, fired: fault.fired, seconds, copied, leftovers };
    }

    const ONCE: [Fault["kind"], FaultDirection, string][] = [
      ["stall", "downstream", "a stall mid-download"],
      ["stall", "upstream", "a stall mid-upload"],
      ["drop", "downstream", "a connection dropped mid-download"],
    ];
    for (const [kind, direction, what] of ONCE) {
      it(
        `${what} that happens once is retried and the copy is exact`,
        async () => {
          const { summary, fired, copied } = await copyThrough(direction, kind, 1);
          expect(summary.errors).toEqual([]);
          expect(fired).toBe(1);
          expect((await copied()).equals(data)).toBe(true);
        },
        SCENARIO_MS,
      );
    }

    for (const [direction, what] of [
      ["downstream", "a download"],
      ["upstream", "an upload"],
    ] as const) {
      it(
        `${what} that stalls every time fails as Transient naming the host, in bounded time, leaving nothing`,
        async () => {
          const { summary, seconds, leftovers } = await copyThrough(
            direction,
            "stall",
            Number.POSITIVE_INFINITY,
          );
          expect(summary.failed).toBe(1);
          const error = summary.errors[0]?.error;
          expect(error?.code).toBe("Transient");
          expect(error?.message).toMatch(
            new RegExp(`^no data from 127\\.0\\.0\\.1:${backend.proxy.port} for 1 s while \\w+ \\S+`),
          );
          // Names what stalled (the file, or the lookup before it where a reused connection stalled first).
          // 3 attempts, each cut after 1-1.25 s (twice where the plugin retries a lost connection itself).
          expect(seconds).toBeLessThan(20);
          expect(await leftovers()).toEqual([]);
        },
        SCENARIO_MS,
      );
    }

    it(
      "a download slower than the idle timeout but never silent that long is not cut",
      async () => {
        const { prefix, from, to } = await fresh();
        expect((await upload(prefix, from)).copied).toBe(1);
        // The copy takes three idle timeouts, and bytes never stop for a quarter of one.
        backend.proxy.throttle(data.length / 3);
        const started = performance.now();
        const summary = await copy({ storage, path: prefix }, to, { ...RETRY, retries: 0 });
        const seconds = (performance.now() - started) / 1000;
        expect(summary.errors).toEqual([]);
        // A lower bound the throttle guarantees: the copy did outlast the idle timeout.
        expect(seconds).toBeGreaterThan((2 * TEST_IDLE_MS) / 1000);
        expect((await readFile(join(to, "data.bin"))).equals(data)).toBe(true);
      },
      SCENARIO_MS,
    );

    it(
      "an upload from a source slower than the idle timeout, but never silent that long, is not cut",
      async () => {
        const { prefix } = await fresh();
        // 32 pieces, one every 100 ms: three idle timeouts in all.
        const piece = Math.ceil(data.length / 32);
        async function* slowly() {
          for (let offset = 0; offset < data.length; offset += piece) {
            await sleep(100);
            yield data.subarray(offset, offset + piece);
          }
        }
        const entry = await storage.write(`${prefix}/slow.bin`, slowly(), { size: data.length });
        expect(entry.size).toBe(data.length);
        expect(Buffer.from(await storage.readBytes(`${prefix}/slow.bin`)).equals(data)).toBe(true);
      },
      SCENARIO_MS,
    );
  });
}
