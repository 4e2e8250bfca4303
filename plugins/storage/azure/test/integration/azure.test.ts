/** Configuration, reads, listings, copies, deletes, markers and presigned URLs against azurite. */
import { randomBytes } from "node:crypto";
import { expectFerryError, listEntries, md5Hex } from "@ferry/conformance";
import { createStorage, PluginRegistry, parseLocation } from "@ferry/core";
import type { Storage } from "@ferry/plugin-kit";
import { type AzuriteBackend, printLogsOnFailure } from "@ferry/test-harness";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { azure } from "../../src/index.ts";
import { canPresign, planAuth } from "../../src/options.ts";
import { containerStorage, startAzurite } from "../fixture.ts";
import { comp, recordingService } from "../traffic.ts";

let server: AzuriteBackend;
beforeAll(async () => {
  server = await startAzurite();
});
afterAll(() => server?.stop());
afterEach((context) => printLogsOnFailure(context, server));

describe("configuration", () => {
  it("takes the connection string, account + key, account + SAS, or a token credential from the environment", () => {
    expect(planAuth({}, { AZURE_STORAGE_CONNECTION_STRING: "AccountName=a;AccountKey=k==" })).toMatchObject({
      kind: "connectionString",
      hasKey: true,
    });
    expect(planAuth({}, { AZURE_STORAGE_ACCOUNT: "acct", AZURE_STORAGE_KEY: "k==" })).toMatchObject({
      kind: "key",
      endpoint: "https://acct.blob.core.windows.net",
    });
    expect(
      planAuth({}, { AZURE_STORAGE_ACCOUNT: "acct", AZURE_STORAGE_SAS_TOKEN: "?sv=1&sig=x" }),
    ).toMatchObject({ kind: "sas", sasToken: "sv=1&sig=x" });
    expect(planAuth({}, { AZURE_STORAGE_ACCOUNT: "acct" })).toMatchObject({
      kind: "token",
      credential: undefined,
    });
    expect(canPresign(planAuth({}, { AZURE_STORAGE_ACCOUNT: "acct", AZURE_STORAGE_SAS_TOKEN: "sv=1" }))).toBe(
      false,
    );
    expect(canPresign(planAuth({ connectionString: "AccountName=a;SharedAccessSignature=sv=1" }))).toBe(
      false,
    );
  });

  it("loads with no configuration, and says what to set when used", async () => {
    const saved = { ...process.env };
    for (const key of Object.keys(process.env)) if (key.startsWith("AZURE_STORAGE_")) delete process.env[key];
    try {
      const plugin = azure();
      expect(plugin.schemes).toEqual(["az"]);
      await expectFerryError(
        Promise.resolve().then(() => plugin.create(parseLocation("az://some-container"))),
        "InvalidInput",
      ).then((error) => expect(error.message).toMatch(/AZURE_STORAGE_CONNECTION_STRING/));
    } finally {
      Object.assign(process.env, saved);
    }
  });

  it("works with no options, configured by AZURE_STORAGE_CONNECTION_STRING", async () => {
    const container = await server.createContainer();
    const saved = process.env.AZURE_STORAGE_CONNECTION_STRING;
    process.env.AZURE_STORAGE_CONNECTION_STRING = server.connectionString;
    try {
      const storage = createStorage(await azure().create(parseLocation(`az://${container}`)));
      await storage.write("env.txt", "from the environment");
      expect(new TextDecoder().decode(await storage.readBytes("env.txt"))).toBe("from the environment");
      expect(storage.capabilities.presign).toBe(true);
    } finally {
      if (saved === undefined) delete process.env.AZURE_STORAGE_CONNECTION_STRING;
      else process.env.AZURE_STORAGE_CONNECTION_STRING = saved;
    }
  });
});

describe("lazy loading by scheme", () => {
  it("a registry with nothing registered loads this package for az:// and configures it from the environment", async () => {
    const container = await server.createContainer();
    const saved = process.env.AZURE_STORAGE_CONNECTION_STRING;
    process.env.AZURE_STORAGE_CONNECTION_STRING = server.connectionString;
    const registry = new PluginRegistry();
    try {
      const { storage, path } = await registry.resolve(`az://${container}/lazy/loaded.txt`);
      await storage.write(path, "found by scheme");
      expect(new TextDecoder().decode(await storage.readBytes(path))).toBe("found by scheme");
    } finally {
      await registry.close();
      if (saved === undefined) delete process.env.AZURE_STORAGE_CONNECTION_STRING;
      else process.env.AZURE_STORAGE_CONNECTION_STRING = saved;
    }
  });
});

describe("reads and listings", () => {
  let storage: Storage;
  beforeAll(async () => {
    storage = await containerStorage(server);
  });

  it("reads ranges, suffixes and past-the-end offsets", async () => {
    const body = randomBytes(1000);
    await storage.write("ranges.bin", body);
    const read = (range: Parameters<Storage["readBytes"]>[1]) => storage.readBytes("ranges.bin", range);
    expect(Buffer.from(await read({ range: { offset: 5, length: 11 } }))).toEqual(body.subarray(5, 16));
    expect(Buffer.from(await read({ range: { suffix: 20 } }))).toEqual(body.subarray(980));
    expect(Buffer.from(await read({ range: { suffix: 5000 } }))).toEqual(body);
    expect((await read({ range: { offset: 1000 } })).byteLength).toBe(0);
    await expectFerryError(storage.readBytes("missing.bin"), "NotFound");
  });

  it("pages through a hierarchy with a small page size, directories merged in name order", async () => {
    for (const key of ["d.txt", "d/x.txt", "e/f/g.txt", "a.txt", "b.txt", "c.txt"])
      await storage.write(`tree/${key}`, key);
    const entries = await listEntries(storage, "tree", { pageSize: 2 });
    expect(entries.map((entry) => (entry.kind === "directory" ? `${entry.path}/` : entry.path))).toEqual([
      "tree/a.txt",
      "tree/b.txt",
      "tree/c.txt",
      "tree/d.txt",
      "tree/d/",
      "tree/e/",
    ]);
    expect(
      (await listEntries(storage, "tree", { recursive: true, pageSize: 2 })).map((entry) => entry.path),
    ).toContain("tree/e/f/g.txt");
  });
});

describe("copy, delete, markers, presign", () => {
  it("copies server-side: no object bytes pass through the client", async () => {
    const { service, traffic } = recordingService(server);
    const storage = await containerStorage(server, { serviceClient: service });
    const body = randomBytes(100 * 1024);
    await storage.write("copy/source.bin", body);
    traffic.length = 0;
    const copied = await storage.copy("copy/source.bin", "copy/target.bin");
    expect(copied).toMatchObject({ size: body.byteLength, md5: md5Hex(body) });
    expect(traffic.reduce((sum, exchange) => sum + exchange.bodyBytes, 0)).toBe(0);
    expect(traffic.some((exchange) => exchange.method === "GET")).toBe(false);
    expect(traffic.find((exchange) => exchange.method === "PUT")?.headers["x-ms-copy-source"]).toContain(
      "copy/source.bin",
    );
    expect(Buffer.from(await storage.readBytes("copy/target.bin"))).toEqual(body);
    await storage.write("copy/taken.bin", "taken");
    await expectFerryError(
      storage.copy("copy/source.bin", "copy/taken.bin", { ifNoneMatch: "*" }),
      "ConditionNotMet",
    );
    await expectFerryError(storage.copy("copy/none.bin", "copy/x.bin"), "NotFound");
  });

  it("deletes in Blob Batch requests of the declared size; missing blobs are fine", async () => {
    const { service, traffic } = recordingService(server);
    const storage = await containerStorage(server, {
      serviceClient: service,
      capabilities: { limits: { deleteBatchMax: 2 } },
    });
    const keys = ["1", "2", "3", "4", "5"].map((name) => `batch/${name}`);
    for (const key of keys) await storage.write(key, key);
    traffic.length = 0;
    await storage.delete([...keys, "batch/never-existed"]);
    expect(await listEntries(storage, "batch")).toEqual([]);
    expect(traffic.filter((exchange) => comp(exchange) === "batch")).toHaveLength(3);
  });

  it("writes directory markers with hdi_isfolder only when asked", async () => {
    const storage = await containerStorage(server, { directoryMarkers: true });
    await storage.mkdir("empty/inner");
    expect(await storage.stat("empty/inner")).toMatchObject({ kind: "directory" });
    expect((await listEntries(storage, "empty")).map((entry) => entry.path)).toEqual(["empty/inner"]);
    const { BlobServiceClient } = await import("@azure/storage-blob");
    const marker = BlobServiceClient.fromConnectionString(server.connectionString)
      .getContainerClient(storage.root.slice(5))
      .getBlobClient("empty/inner/");
    expect((await marker.getProperties()).metadata).toMatchObject({ hdi_isfolder: "true" });
    await storage.deleteDirectory("empty");
    await expectFerryError(storage.stat("empty"), "NotFound");
    const plain = await containerStorage(server);
    await expectFerryError(plain.mkdir("x"), "Unsupported");
  });

  it("presigns GET and PUT with the account key, and declares no presign with only a SAS", async () => {
    const storage = await containerStorage(server);
    await storage.write("signed.txt", "signed content");
    const getUrl = await storage.presign("signed.txt");
    expect(getUrl).toContain("sig=");
    expect(await (await fetch(getUrl)).text()).toBe("signed content");
    const putUrl = await storage.presign("put.txt", { method: "PUT" });
    expect(
      (await fetch(putUrl, { method: "PUT", headers: { "x-ms-blob-type": "BlockBlob" }, body: "via SAS" }))
        .status,
    ).toBe(201);
    expect(new TextDecoder().decode(await storage.readBytes("put.txt"))).toBe("via SAS");
    const sasOnly = azure({
      account: server.accountName,
      blobEndpoint: server.blobEndpoint,
      sasToken: "sv=2020-02-10&sig=abc",
    });
    expect(sasOnly.capabilities.presign).toBe(false);
  });
});
