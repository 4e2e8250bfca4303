import { createStorage, parseLocation } from "@ferry/core";
import { github } from "@ferry/storage-github";
import { startFaultProxy, startGithubServer } from "@ferry/test-harness";
import { describeStalls, keysUnder, MARKER } from "./stall-scenarios.ts";

describeStalls("github (the harness's REST server)", async () => {
  const server = await startGithubServer();
  await server.createRepo("ferry", "stalls");
  const port = Number(new URL(server.baseUrl).port);
  const proxy = await startFaultProxy({ port });
  const baseUrl = server.baseUrl.replace(`:${port}`, `:${proxy.port}`);
  return {
    proxy,
    async storage(timeout) {
      const plugin = github({ baseUrl, token: server.token, timeout });
      return createStorage(await plugin.create(parseLocation("github://ferry/stalls")));
    },
    // Uploads send contents base64-encoded in JSON (the marker sits at a multiple of 3 bytes, so its
    // base64 form appears as is); downloads ask for the raw blob.
    trigger: (direction) => ({
      marker: direction === "upstream" ? Buffer.from(MARKER, "latin1").toString("base64") : MARKER,
    }),
    leftovers: keysUnder,
    async stop() {
      await proxy.stop();
      await server.stop();
    },
  };
});
