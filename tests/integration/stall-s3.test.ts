import { createStorage, parseLocation } from "@ferry/core";
import { s3 } from "@ferry/storage-s3";
import { startFaultProxy, startS3rver } from "@ferry/test-harness";
import { describeStalls, keysUnder, MARKER, MiB } from "./stall-scenarios.ts";

describeStalls("s3 (s3rver)", async () => {
  const server = await startS3rver();
  const bucket = await server.createBucket();
  const proxy = await startFaultProxy({ port: Number(new URL(server.endpoint).port) });
  return {
    proxy,
    // Multipart (two parts of 5 MiB and 1 MiB): s3rver writes a single PutObject's body in place, so a
    // stalled one leaves a short object there, which S3 itself never keeps (a declared emulator gap).
    size: 6 * MiB,
    async storage(timeout) {
      const plugin = s3({
        endpoint: proxy.endpoint,
        region: server.region,
        credentials: { ...server.credentials },
        capabilities: { conditionalWrite: false },
        partSize: 5 * MiB,
        timeout,
      });
      return createStorage(await plugin.create(parseLocation(`s3://${bucket}`)));
    },
    trigger: () => ({ marker: MARKER }),
    leftovers: keysUnder,
    async stop() {
      await proxy.stop();
      await server.stop();
    },
  };
});
