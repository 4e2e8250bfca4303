/**
 * What lands is what was sent, through a proxy that corrupts or cuts the traffic: Put Blob and
 * Put Block answers are checked (their Content-MD5), downloads against the blob's Content-MD5.
 */
import { describeTransferFaults, expectFerryError, FAULT_PART, markedBytes } from "@ferry/conformance";
import {
  type AzuriteBackend,
  type FaultProxy,
  printLogsOnFailure,
  startFaultProxy,
} from "@ferry/test-harness";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { containerStorage, startAzurite } from "../fixture.ts";
import { comp, recordingService } from "../traffic.ts";

let server: AzuriteBackend;
let proxy: FaultProxy;
beforeAll(async () => {
  server = await startAzurite();
  proxy = await startFaultProxy({ port: Number(new URL(server.blobEndpoint).port) });
});
afterAll(async () => {
  await proxy?.stop();
  await server?.stop();
});
afterEach((context) => {
  proxy.clear();
  printLogsOnFailure(context, server);
});

describeTransferFaults("azure (azurite)", () => ({
  proxy,
  async fresh() {
    const container = await server.createContainer();
    // One try per request: the transfer's own retries are under test, and the SDK's would take
    // tens of seconds of backoff for a connection cut on every attempt.
    const { service } = recordingService(server, {
      endpoint: `${proxy.endpoint}/${server.accountName}`,
      maxTries: 1,
    });
    return {
      storage: await containerStorage(server, { serviceClient: service, blockSize: FAULT_PART }, container),
      direct: await containerStorage(server, { blockSize: FAULT_PART }, container),
    };
  },
  // Put Blob answers with the Content-MD5 of the body it received, base64.
  statedMd5: (hex) => Buffer.from(hex, "hex").toString("base64"),
}));

describe("azure: a block upload the service got wrong", () => {
  it("never commits its block list", async () => {
    const container = await server.createContainer();
    const { service, traffic } = recordingService(server, {
      endpoint: `${proxy.endpoint}/${server.accountName}`,
      maxTries: 1,
    });
    const storage = await containerStorage(
      server,
      { serviceClient: service, blockSize: FAULT_PART },
      container,
    );
    proxy.inject({ kind: "flip", direction: "upstream", marker: "FERRY-FAULT-MARKER", offset: 23 });
    await expectFerryError(storage.write("blocks.bin", markedBytes(600 * 1024, 24, 300 * 1024)), "Integrity");
    expect(traffic.filter((exchange) => comp(exchange) === "block").length).toBeGreaterThan(0);
    expect(traffic.some((exchange) => comp(exchange) === "blocklist")).toBe(false);
    expect(await storage.exists("blocks.bin")).toBe(false);
  });
});
