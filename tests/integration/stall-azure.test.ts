import { createStorage, parseLocation } from "@ferry/core";
import { azure } from "@ferry/storage-azure";
import { startAzurite, startFaultProxy } from "@ferry/test-harness";
import { describeStalls, keysUnder, MARKER } from "./stall-scenarios.ts";

describeStalls("azure (azurite)", async () => {
  const server = await startAzurite();
  const container = await server.createContainer();
  const proxy = await startFaultProxy({ port: Number(new URL(server.blobEndpoint).port) });
  const connectionString = server.connectionString.replace(
    server.blobEndpoint,
    server.blobEndpoint.replace(new URL(server.blobEndpoint).host, `127.0.0.1:${proxy.port}`),
  );
  return {
    proxy,
    async storage(timeout) {
      return createStorage(
        await azure({ connectionString, timeout }).create(parseLocation(`az://${container}`)),
      );
    },
    trigger: () => ({ marker: MARKER }),
    leftovers: keysUnder,
    async stop() {
      await proxy.stop();
      await server.stop();
    },
  };
});
