import { createStorage, parseLocation } from "@ferry/core";
import { type GcsOptions, gcs } from "@ferry/storage-gcs";
import { startFaultProxy, startGcsServer } from "@ferry/test-harness";
import { describeStalls, keysUnder, MARKER, MiB } from "./stall-scenarios.ts";

/** The payload (3 MiB) goes up in one request by default, and as a resumable upload in 1 MiB chunks here. */
const UPLOADS: [string, GcsOptions][] = [
  ["single-request uploads", {}],
  ["resumable uploads", { resumableThreshold: 0, chunkSize: MiB }],
];

for (const [uploads, extra] of UPLOADS) {
  describeStalls(`gcs (the harness's JSON API server), ${uploads}`, async () => {
    const server = await startGcsServer();
    const bucket = server.createBucket();
    const proxy = await startFaultProxy({ port: server.port });
    return {
      proxy,
      async storage(timeout) {
        const plugin = gcs({ apiEndpoint: proxy.endpoint, projectId: server.projectId, timeout, ...extra });
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
