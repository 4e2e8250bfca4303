/**
 * What lands is what was sent, through a proxy that corrupts or cuts the traffic: the md5Hash of the
 * object resource an upload returns is checked, resumable uploads are validated (CRC32C) by the
 * client, and downloads against the object's hashes.
 */
import { describeTransferFaults, FAULT_PART } from "@ferry/conformance";
import { type FaultProxy, type GcsBackend, startFaultProxy, startGcsServer } from "@ferry/test-harness";
import { afterAll, afterEach, beforeAll } from "vitest";
import { bucketStorage } from "../fixture.ts";

let server: GcsBackend;
let proxy: FaultProxy;
beforeAll(async () => {
  server = await startGcsServer();
  proxy = await startFaultProxy({ port: Number(new URL(server.endpoint).port) });
});
afterAll(async () => {
  await proxy?.stop();
  await server?.stop();
});
afterEach(() => proxy.clear());

describeTransferFaults("gcs (harness server)", () => ({
  proxy,
  async fresh() {
    const bucket = server.createBucket();
    const options = { chunkSize: FAULT_PART, resumableThreshold: 8 * 1024 };
    return {
      storage: await bucketStorage(server, { ...options, apiEndpoint: proxy.endpoint }, bucket),
      direct: await bucketStorage(server, options, bucket),
    };
  },
  // The object resource's md5Hash, base64.
  statedMd5: (hex) => Buffer.from(hex, "hex").toString("base64"),
  resumes: true,
}));
