import { createHash } from "node:crypto";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import type { ClientRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { copy, createStorage, parseLocation, type Storage } from "@ferry/core";
import { gcs } from "@ferry/storage-gcs";
import { type FaultProxy, startFaultProxy, startGcsServer } from "@ferry/test-harness";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { describeStalls, keysUnder, MARKER, MiB, payload, TEST_IDLE_MS } from "./stall-scenarios.ts";

async function backend(uploads: { resumableThreshold?: number; chunkSize?: number }) {
  const server = await startGcsServer();
  const bucket = server.createBucket();
  const proxy = await startFaultProxy({ port: server.port });
  return {
    proxy,
    async storage(timeout: number) {
      const plugin = gcs({ apiEndpoint: proxy.endpoint, projectId: server.projectId, timeout, ...uploads });
      return createStorage(await plugin.create(parseLocation(`gs://${bucket}`)));
    },
    trigger: () => ({ marker: MARKER }),
    leftovers: keysUnder,
    async stop() {
      await proxy.stop();
      await server.stop();
    },
  };
}

// The 3 MiB payload goes in one request by default; with a lower threshold it is a resumable
// upload of 1 MiB chunks, and the marker (in the middle) stalls the second chunk.
for (const [name, uploads] of [
  ["single-request uploads", {}],
  ["resumable uploads", { resumableThreshold: MiB, chunkSize: MiB }],
] as const) {
  describeStalls(`gcs (the harness's JSON API server), ${name}`, () => backend(uploads));

  // All bytes sent, then the service's answer (the object resource, which states the MD5) stalls.
  describe(`gcs ${name}: a stalled upload`, () => {
    const data = payload();
    const md5 = createHash("md5").update(data).digest("base64");
    let server: Awaited<ReturnType<typeof backend>>;
    let proxy: FaultProxy;
    let storage: Storage;
    let local: string;
    let run = 0;
    beforeAll(async () => {
      server = await backend(uploads);
      proxy = server.proxy;
      storage = await server.storage(TEST_IDLE_MS);
      local = await mkdtemp(join(tmpdir(), "ferry-stall-answer-"));
      await mkdir(join(local, "from"));
      await writeFile(join(local, "from", "data.bin"), data);
    });
    afterEach(() => proxy.clear());
    afterAll(async () => {
      await storage?.close();
      await server?.stop();
      if (local) await rm(local, { recursive: true, force: true });
    });

    async function upload(times: number) {
      run += 1;
      const prefix = `answer-${run}`;
      const fault = proxy.inject({ kind: "stall", direction: "downstream", marker: md5, times });
      const started = performance.now();
      const summary = await copy(
        join(local, "from"),
        { storage, path: prefix },
        { retries: 2, retryDelayMs: 20 },
      );
      const seconds = (performance.now() - started) / 1000;
      proxy.clear();
      return { prefix, summary, seconds, fired: fault.fired };
    }

    it("once: the upload is retried and the object is exact", async () => {
      const { prefix, summary, fired } = await upload(1);
      expect(summary.errors).toEqual([]);
      expect(fired).toBe(1);
      expect(Buffer.from(await storage.readBytes(`${prefix}/data.bin`)).equals(data)).toBe(true);
    }, 30_000);

    it("every time: fails as Transient naming the host and the object, in bounded time", async () => {
      const { summary, seconds } = await upload(Number.POSITIVE_INFINITY);
      expect(summary.failed).toBe(1);
      const error = summary.errors[0]?.error;
      expect(error?.code).toBe("Transient");
      expect(error?.message).toMatch(
        new RegExp(
          `^no data from 127\\.0\\.0\\.1:${proxy.port} for 1 s while writing gs://\\S+/answer-\\d+/data\\.bin`,
        ),
      );
      expect(seconds).toBeLessThan(20);
    }, 30_000);

    for (const [direction, marker, what] of [
      ["upstream", MARKER, "the bytes"],
      ["downstream", md5, "the answer"],
    ] as const) {
      it(`a stall of ${what} ends the upload's request: no connection is left open`, async () => {
        const requests: ClientRequest[] = [];
        const record = (message: unknown) => {
          const { request } = message as { request: ClientRequest };
          if (request.getHeader("host") === `127.0.0.1:${proxy.port}`) requests.push(request);
        };
        subscribe("http.client.request.start", record);
        try {
          run += 1;
          proxy.inject({ kind: "stall", direction, marker, times: Number.POSITIVE_INFINITY });
          async function* source() {
            yield data;
          }
          const error = await storage
            .write(`open-${run}/data.bin`, source(), { size: data.length })
            .catch((e) => e);
          expect(error?.code).toBe("Transient");
          expect(requests.length).toBeGreaterThan(0);
          // Still stalled (the proxy holds the connection open): only ferry can have ended it. A
          // request that completed is destroyed too (and its socket back in the pool).
          expect(requests.filter((request) => !request.destroyed)).toEqual([]);
        } finally {
          unsubscribe("http.client.request.start", record);
        }
      }, 30_000);
    }
  });
}
