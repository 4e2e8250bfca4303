import { createStorage, parseLocation } from "@ferry/core";
import { gcs } from "@ferry/storage-gcs";
import { startFaultProxy, startGcsServer } from "@ferry/test-harness";
import { describeStalls, keysUnder, MARKER } from "./stall-scenarios.ts";

describeStalls(
  "gcs (the harness's JSON API server)",
  async () => {
    const server = await startGcsServer();
    const bucket = server.createBucket();
    const proxy = await startFaultProxy({ port: server.port });
    return {
      proxy,
      async storage(timeout) {
        const plugin = gcs({ apiEndpoint: proxy.endpoint, projectId: server.projectId, timeout });
        return createStorage(await plugin.create(parseLocation(`gs://${bucket}`)));
      },
      trigger: () => ({ marker: MARKER }),
      leftovers: keysUnder,
      async stop() {
        await proxy.stop();
        await server.stop();
      },
    };
  },
  {
    uploadStalls:
      "resumable uploads go through gaxios, which takes no idle timeout; an agent given through the client's interceptors made them hang",
  },
);
