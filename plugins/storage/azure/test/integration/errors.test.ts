/** Errors: typed codes, named containers, and no keys or signatures in any message. */
import { inspect } from "node:util";
import { expectFerryError, listEntries } from "@ferry/conformance";
import { createStorage, parseLocation } from "@ferry/core";
import type { FerryError } from "@ferry/plugin-kit";
import { type AzuriteBackend, printLogsOnFailure } from "@ferry/test-harness";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { mapAzureError } from "../../src/errors.ts";
import { azure } from "../../src/index.ts";
import { containerStorage, startAzurite } from "../fixture.ts";
import { recordingService } from "../traffic.ts";

let server: AzuriteBackend;
beforeAll(async () => {
  server = await startAzurite();
});
afterAll(() => server?.stop());
afterEach((context) => printLogsOnFailure(context, server));

describe("errors", () => {
  it("names a missing container", async () => {
    const storage = await containerStorage(server, {}, "ferry-no-such-container");
    const error = await expectFerryError(listEntries(storage, ""), "NotFound");
    expect(error.message).toContain('container "ferry-no-such-container" does not exist');
    await expectFerryError(storage.stat(""), "NotFound");
    await expectFerryError(storage.write("x.txt", "x"), "NotFound");
  });

  it("never puts the account key or a SAS signature in messages or causes", async () => {
    const container = await server.createContainer();
    const wrongKey = Buffer.from("ferry-wrong-key-0123456789abcdef").toString("base64");
    const storage = createStorage(
      await azure({
        account: server.accountName,
        accountKey: wrongKey,
        blobEndpoint: server.blobEndpoint,
      }).create(parseLocation(`az://${container}`)),
    );
    const denied = await expectFerryError(storage.write("x.txt", "x"), "PermissionDenied");
    const sas = "sv=2020-02-10&ss=b&srt=sco&sp=r&se=2020-01-01T00:00:00Z&sig=ferrySecretSignature0123456789";
    const sasStorage = createStorage(
      await azure({ account: server.accountName, sasToken: sas, blobEndpoint: server.blobEndpoint }).create(
        parseLocation(`az://${container}`),
      ),
    );
    const expired = await expectFerryError(sasStorage.readBytes("x.txt"), "PermissionDenied");
    for (const error of [denied, expired]) {
      const everything = `${error.message}\n${inspect(error, { depth: 10 })}\n${JSON.stringify(error)}`;
      expect(everything).not.toContain(wrongKey);
      expect(everything).not.toContain("ferrySecretSignature0123456789");
    }
  });

  it("reports a connection dropped mid-body as Transient", async () => {
    // A server of its own, killed while a large blob streams: the socket really goes away.
    const doomed = await startAzurite();
    try {
      // One try per request: the SDK's download stream re-requests after a drop, and that must fail fast here.
      const { service } = recordingService(doomed, { maxTries: 1 });
      const storage = await containerStorage(doomed, { serviceClient: service });
      await storage.write("large.bin", new Uint8Array(8 * 1024 * 1024));
      const stream = await storage.read("large.bin");
      let killed = false;
      const reading = (async () => {
        for await (const _chunk of stream) {
          if (!killed) process.kill(doomed.pid, "SIGKILL");
          killed = true;
        }
      })();
      const error = await expectFerryError(reading, "Transient");
      expect(error.retryable).toBe(true);
    } finally {
      await doomed.stop();
    }
  });

  it("reports an unreachable endpoint as Transient", async () => {
    const { service } = recordingService(server, {
      endpoint: "http://127.0.0.1:1/devstoreaccount1",
      maxTries: 1,
    });
    const storage = await containerStorage(server, { serviceClient: service }, "unreachable");
    const error = await expectFerryError(storage.stat("x"), "Transient");
    expect(error.retryable).toBe(true);
  });
});

describe("error mapping", () => {
  const context = { operation: "write", path: "k", container: "c", secrets: ["account-key-value"] };
  const restError = (errorCode: string, statusCode: number, message = `${errorCode} happened`) =>
    Object.assign(new Error(message), { name: "RestError", statusCode, details: { errorCode } });

  it("maps the Blob service error codes to ferry codes", () => {
    const cases: Array<[unknown, FerryError["code"]]> = [
      [restError("BlobNotFound", 404), "NotFound"],
      [restError("ContainerNotFound", 404), "NotFound"],
      [restError("AuthorizationFailure", 403), "PermissionDenied"],
      [restError("ConditionNotMet", 412), "ConditionNotMet"],
      [restError("BlobAlreadyExists", 409), "ConditionNotMet"],
      [restError("Md5Mismatch", 400), "Integrity"],
      [restError("ServerBusy", 503), "Transient"],
      [restError("InvalidBlockList", 400), "Transient"],
      [Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }), "Transient"],
    ];
    for (const [error, code] of cases) expect(mapAzureError(error, context).code, String(error)).toBe(code);
    expect(mapAzureError(restError("ContainerNotFound", 404), context).message).toContain(
      'container "c" does not exist',
    );
  });

  it("reads a bare HTTP status as every storage plugin does: 408 and 5xx are worth another try", () => {
    // A proxy in front of the service answers with a status and no Blob service error code.
    expect(mapAzureError(restError("Unknown", 408), context).code).toBe("Transient");
    expect(mapAzureError(restError("Unknown", 502), context).code).toBe("Transient");
    expect(mapAzureError(restError("Unknown", 408), context).message).toBe(
      "write az://c/k: Unknown (HTTP 408): Unknown happened",
    );
  });

  it("redacts keys, SAS signatures and SharedKey headers that reach a message", () => {
    const leaky = restError(
      "Weird",
      400,
      "url https://a.blob/c/k?sv=1&sig=SECRETSIG123 auth SharedKey acct:SIGNATURE== key account-key-value",
    );
    const mapped = mapAzureError(leaky, context);
    expect(`${mapped.message} ${inspect(mapped, { depth: 5 })}`).not.toMatch(
      /SECRETSIG123|SIGNATURE==|account-key-value/,
    );
  });
});
