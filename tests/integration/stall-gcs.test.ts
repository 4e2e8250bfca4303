import { createStorage, parseLocation } from "@ferry/core";
import { gcs } from "@ferry/storage-gcs";
import { startFaultProxy, startGcsServer } from "@ferry/test-harness";
import { describeStalls, keysUnder, MARKER, MiB } from "./stall-scenarios.ts";

// The 3 MiB payload goes in one request by default; with a lower threshold it is a resumable
// upload of 1 MiB chunks, and the marker (in the middle) stalls the second chunk.
for (const [name, uploads] of [
  ["single-request uploads", {}],
  ["resumable uploads", { resumableThreshold: MiB, chunkSize: MiB }],
] as const) {
  describeStalls(`gcs (the harness's JSON API server), ${name}`, async () => {
    const server = await startGcsServer();
    const bucket = server.createBucket();
    const proxy = await startFaultProxy({ port: server.port });
    return {
      proxy,
      async storage(timeout) {
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
  });
}
