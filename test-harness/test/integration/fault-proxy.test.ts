import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type FaultProxy, HOST, startFaultProxy } from "../../src/index.ts";

/** A server that records what each connection sends and answers every chunk with `reply(chunk)`. */
async function recordingServer(reply: (chunk: Buffer) => Buffer | undefined = () => undefined) {
  const received: Buffer[][] = [];
  const server: Server = createServer((socket) => {
    const chunks: Buffer[] = [];
    received.push(chunks);
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      const answer = reply(chunk);
      if (answer) socket.write(answer);
    });
    socket.on("error", () => {});
    socket.on("end", () => socket.end());
  });
  server.listen(0, HOST);
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  return { server, port, received: () => received.map((chunks) => Buffer.concat(chunks)) };
}

/** Sends `data` through the proxy, then reads until the server side ends or `ms` pass. */
async function exchange(proxy: FaultProxy, data: Buffer, ms = 2000) {
  const socket: Socket = connect({ host: proxy.host, port: proxy.port });
  await once(socket, "connect");
  const got: Buffer[] = [];
  let error: Error | undefined;
  socket.on("data", (chunk: Buffer) => got.push(chunk));
  socket.on("error", (e) => {
    error = e;
  });
  socket.end(data);
  const ended = await Promise.race([
    new Promise<boolean>((resolve) => socket.once("close", () => resolve(true))),
    sleep(ms).then(() => false),
  ]);
  socket.destroy();
  return { got: Buffer.concat(got), ended, error };
}

describe("fault proxy", () => {
  let backend: Awaited<ReturnType<typeof recordingServer>>;
  let proxy: FaultProxy;
  beforeEach(async () => {
    backend = await recordingServer((chunk) => Buffer.from(chunk.toString("latin1").toUpperCase(), "latin1"));
    proxy = await startFaultProxy({ port: backend.port });
  });
  afterEach(async () => {
    await proxy.stop();
    backend.server.close();
  });

  const body = Buffer.from(`header\r\n\r\n${"a".repeat(1000)}MARK${"b".repeat(1000)}`, "latin1");

  it("passes bytes through unchanged when no fault is armed", async () => {
    const { got, ended } = await exchange(proxy, body);
    expect(ended).toBe(true);
    expect(backend.received()[0]?.equals(body)).toBe(true);
    expect(got.toString("latin1")).toBe(body.toString("latin1").toUpperCase());
    expect(proxy.bytes.upstream).toBe(body.length);
  });

  it("flips the byte at a marker upstream, once", async () => {
    const fault = proxy.inject({
      kind: "flip",
      direction: "upstream",
      marker: "MARK",
      offset: 2,
      mask: 0x20,
    });
    await exchange(proxy, body);
    await exchange(proxy, body);
    const [first, second] = backend.received();
    expect(first?.toString("latin1")).toContain("MArK");
    expect(first?.length).toBe(body.length);
    expect(second?.equals(body)).toBe(true);
    expect(fault.fired).toBe(1);
  });

  it("flips downstream after a byte count", async () => {
    proxy.inject({ kind: "flip", direction: "downstream", afterBytes: 5, mask: 0xff });
    const { got } = await exchange(proxy, body);
    const expected = Buffer.from(body.toString("latin1").toUpperCase(), "latin1");
    expect(got.length).toBe(expected.length);
    expect(got[5]).toBe((expected[5] as number) ^ 0xff);
    expect(got.subarray(6).equals(expected.subarray(6))).toBe(true);
  });

  it("truncates: the server gets the bytes before the marker, then a clean end", async () => {
    proxy.inject({ kind: "truncate", direction: "upstream", marker: "MARK" });
    await exchange(proxy, body);
    await sleep(50);
    expect(backend.received()[0]?.toString("latin1")).toBe(body.toString("latin1").split("MARK")[0]);
  });

  it("drops: the client sees its connection reset", async () => {
    proxy.inject({ kind: "drop", direction: "downstream", afterBytes: 10 });
    const { got, ended } = await exchange(proxy, body);
    expect(ended).toBe(true);
    expect(got.length).toBeLessThanOrEqual(10);
  });

  it("stalls: nothing more flows and the connection stays open until cleared", async () => {
    proxy.inject({ kind: "stall", direction: "upstream", marker: "MARK" });
    const { ended } = await exchange(proxy, body, 300);
    expect(ended).toBe(false);
    expect(backend.received()[0]?.length ?? 0).toBeLessThan(body.length);
    proxy.clear();
    const again = await exchange(proxy, body);
    expect(again.ended).toBe(true);
  });

  it("fires a fault `times` times across connections", async () => {
    const fault = proxy.inject({ kind: "flip", direction: "upstream", marker: "MARK", times: 2 });
    for (let i = 0; i < 3; i++) await exchange(proxy, body);
    expect(fault.fired).toBe(2);
    const flipped = backend.received().filter((data) => !data.equals(body));
    expect(flipped).toHaveLength(2);
  });

  it("finds a marker split across two writes", async () => {
    proxy.inject({ kind: "flip", direction: "upstream", marker: "SPLITMARK", offset: 9, mask: 0x20 });
    const socket = connect({ host: proxy.host, port: proxy.port });
    await once(socket, "connect");
    socket.write("xxxxSPLI");
    await sleep(50);
    socket.on("data", () => {});
    socket.end("TMARKyyyy");
    await new Promise((resolve) => socket.once("close", resolve));
    await sleep(50);
    expect(backend.received()[0]?.toString("latin1")).toBe("xxxxSPLITMARKYyyy");
  });

  it("throttles: bytes keep flowing, at the rate asked", async () => {
    const big = Buffer.alloc(200 * 1024, 7);
    proxy.throttle(400 * 1024);
    const started = performance.now();
    const { got, ended } = await exchange(proxy, big, 5000);
    const seconds = (performance.now() - started) / 1000;
    expect(ended).toBe(true);
    expect(got.length).toBe(big.length);
    // 200 KiB at 400 KiB/s cannot take less than half a second (a lower bound, never flaky).
    expect(seconds).toBeGreaterThan(0.45);
    expect(backend.received()[0]?.equals(big)).toBe(true);
  });
});
