import { createHash, randomBytes } from "node:crypto";
import { inspect } from "node:util";
import { createStorage, FerryError, parseLocation, type Storage } from "@ferry/core";
import { type AzuriteBackend, printLogsOnFailure } from "@ferry/test-harness";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { mapAzureError } from "../src/errors.ts";
import { azure } from "../src/index.ts";
import { canPresign, planAuth } from "../src/options.ts";
import { containerStorage, startAzurite } from "./fixture.ts";
import { comp, recordingService } from "./traffic.ts";

const md5 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("hex");

async function* chunks(bytes: Uint8Array, size: number, failAfter?: number): AsyncIterable<Uint8Array> {
  for (let offset = 0; offset < bytes.byteLength; offset += size) {
    if (failAfter !== undefined && offset >= failAfter) throw new Error("source broke mid-stream");
    yield bytes.subarray(offset, offset + size);
  }
}

async function all<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

async function expectCode(promise: Promise<unknown>, code: FerryError["code"]): Promise<FerryError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(FerryError.isInstance(error), `expected a FerryError, got ${inspect(error)}`).toBe(true);
  expect((error as FerryError).code, (error as Error).message).toBe(code);
  return error as FerryError;
}

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
      await expectCode(
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

describe("uploads", () => {
  it("stores a small body in one Put Blob with Content-MD5 and a content type from the name", async () => {
    const { service, traffic } = recordingService(server);
    const storage = await containerStorage(server, { serviceClient: service });
    const entry = await storage.write("docs/readme.md", "# hello");
    expect(entry.md5).toBe(md5(Buffer.from("# hello")));
    expect(await storage.stat("docs/readme.md")).toMatchObject({
      size: 7,
      md5: entry.md5,
      contentType: "text/markdown",
    });
    expect(await storage.checksum("docs/readme.md", "md5")).toBe(entry.md5);
    const put = traffic.find((exchange) => exchange.method === "PUT" && comp(exchange) === "");
    expect(put?.headers["content-md5"]).toBe(createHash("md5").update("# hello").digest("base64"));
  });

  it("stages blocks of the given size, each with Content-MD5, and commits the whole MD5", async () => {
    const { service, traffic } = recordingService(server);
    const storage = await containerStorage(server, {
      serviceClient: service,
      blockSize: 8 * 1024,
      concurrency: 3,
    });
    const body = randomBytes(50 * 1024 + 5);
    const entry = await storage.write("big/blocks.bin", chunks(body, 3000));
    expect(entry).toMatchObject({ size: body.byteLength, md5: md5(body) });
    const blocks = traffic.filter((exchange) => comp(exchange) === "block");
    expect(blocks).toHaveLength(7);
    expect(
      blocks.every(
        (block) => block.bodyBytes <= 8 * 1024 && typeof block.headers["content-md5"] === "string",
      ),
    ).toBe(true);
    expect(traffic.filter((exchange) => comp(exchange) === "blocklist")).toHaveLength(1);
    expect((await storage.stat("big/blocks.bin")).md5).toBe(md5(body));
    expect(Buffer.from(await storage.readBytes("big/blocks.bin"))).toEqual(body);
  });

  it("holds at most (concurrency + 1) blocks of the source in memory", async () => {
    const { service, traffic } = recordingService(server);
    const blockSize = 4096;
    const concurrency = 2;
    const storage = await containerStorage(server, { serviceClient: service, blockSize, concurrency });
    let pulled = 0;
    let peakAhead = 0;
    const staged = () =>
      traffic.filter((exchange) => comp(exchange) === "block" && exchange.status === 201).length * blockSize;
    const source = (async function* () {
      for (let index = 0; index < 64; index++) {
        peakAhead = Math.max(peakAhead, pulled - staged());
        pulled += 1024;
        yield randomBytes(1024);
      }
    })();
    await storage.write("bounded.bin", source);
    expect(traffic.filter((exchange) => comp(exchange) === "block")).toHaveLength(16);
    expect(peakAhead).toBeLessThanOrEqual((concurrency + 1) * blockSize);
    expect(peakAhead).toBeGreaterThanOrEqual(concurrency * blockSize - 1024);
  });

  it("streams a body of unknown size: one Put Blob when it fits, blocks when it does not", async () => {
    const { service, traffic } = recordingService(server);
    const storage = await containerStorage(server, { serviceClient: service, blockSize: 4096 });
    await storage.write("stream/small.bin", chunks(randomBytes(4000), 1000));
    expect(traffic.filter((exchange) => exchange.method === "PUT").map(comp)).toEqual([""]);
    const large = randomBytes(4096 * 3 + 1);
    await storage.write("stream/large.bin", chunks(large, 1000));
    expect(traffic.filter((exchange) => comp(exchange) === "block")).toHaveLength(4);
    expect(Buffer.from(await storage.readBytes("stream/large.bin"))).toEqual(large);
  });

  it("the service rejects a body corrupted after its MD5 was computed, and nothing is stored", async () => {
    const flip = (request: {
      method: string;
      body?: unknown;
      headers: { get(name: string): string | undefined };
    }) => {
      if (
        request.method === "PUT" &&
        request.headers.get("content-md5") &&
        request.body instanceof Uint8Array &&
        request.body.byteLength > 0
      ) {
        const corrupted = Uint8Array.from(request.body);
        corrupted[0] = (corrupted[0]! + 1) % 256;
        request.body = corrupted;
      }
    };
    const { service } = recordingService(server, { tamper: flip, maxTries: 1 });
    const storage = await containerStorage(server, { serviceClient: service, blockSize: 4096 });
    await expectCode(storage.write("corrupt/single.bin", randomBytes(1000)), "Integrity");
    await expectCode(storage.write("corrupt/blocks.bin", chunks(randomBytes(10_000), 1000)), "Integrity");
    const clean = await containerStorage(server, {}, storage.root.slice(5));
    expect(await all(clean.list("corrupt", { recursive: true }))).toEqual([]);
  });

  it("a failed upload commits nothing (its staged blocks wait for the service to discard them)", async () => {
    const { service, traffic } = recordingService(server);
    const storage = await containerStorage(server, {
      serviceClient: service,
      blockSize: 4096,
      concurrency: 2,
    });
    await expect(storage.write("broken.bin", chunks(randomBytes(40_000), 1000, 20_000))).rejects.toThrow(
      /source broke/,
    );
    expect(await storage.exists("broken.bin")).toBe(false);
    expect(traffic.some((exchange) => comp(exchange) === "blocklist")).toBe(false);
    expect(traffic.filter((exchange) => comp(exchange) === "block").length).toBeGreaterThan(0);
    const controller = new AbortController();
    const source = (async function* () {
      yield* chunks(randomBytes(10_000), 1000);
      controller.abort();
      yield* chunks(randomBytes(10_000), 1000);
    })();
    await expectCode(storage.write("aborted.bin", source, { signal: controller.signal }), "Aborted");
    expect(await storage.exists("aborted.bin")).toBe(false);
  });

  it("concurrent writes to one name: each succeeds or fails as Transient, and one whole version remains", async () => {
    const storage = await containerStorage(server, { blockSize: 4096 });
    for (let round = 0; round < 3; round++) {
      const versions = Array.from({ length: 4 }, (_, index) =>
        new Uint8Array(4096 * (index + 1) + 7).fill(0x41 + index),
      );
      const outcomes = await Promise.allSettled(
        versions.map((data) => storage.write("contested.bin", chunks(data, 1000))),
      );
      for (const outcome of outcomes) {
        if (outcome.status === "rejected") {
          expect(FerryError.isInstance(outcome.reason, "Transient"), String(outcome.reason)).toBe(true);
          expect((outcome.reason as FerryError).message).toMatch(/committed first/);
        }
      }
      const final = await storage.readBytes("contested.bin");
      const winner = versions.findIndex((data) => data[0] === final[0]);
      expect(outcomes[winner]?.status).toBe("fulfilled");
      expect(md5(final)).toBe(md5(versions[winner]!));
    }
  });

  it("creates only when nothing exists with ifNoneMatch, for single and block uploads", async () => {
    const storage = await containerStorage(server, { blockSize: 4096 });
    await storage.write("once.txt", "first", { ifNoneMatch: "*" });
    await expectCode(storage.write("once.txt", "second", { ifNoneMatch: "*" }), "ConditionNotMet");
    await expectCode(
      storage.write("once.txt", chunks(randomBytes(10_000), 1000), { ifNoneMatch: "*" }),
      "ConditionNotMet",
    );
    expect(new TextDecoder().decode(await storage.readBytes("once.txt"))).toBe("first");
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
    await expectCode(storage.readBytes("missing.bin"), "NotFound");
  });

  it("pages through a hierarchy with a small page size, directories merged in name order", async () => {
    for (const key of ["d.txt", "d/x.txt", "e/f/g.txt", "a.txt", "b.txt", "c.txt"])
      await storage.write(`tree/${key}`, key);
    const entries = await all(storage.list("tree", { pageSize: 2 }));
    expect(entries.map((entry) => (entry.kind === "directory" ? `${entry.path}/` : entry.path))).toEqual([
      "tree/a.txt",
      "tree/b.txt",
      "tree/c.txt",
      "tree/d.txt",
      "tree/d/",
      "tree/e/",
    ]);
    expect(
      (await all(storage.list("tree", { recursive: true, pageSize: 2 }))).map((entry) => entry.path),
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
    expect(copied).toMatchObject({ size: body.byteLength, md5: md5(body) });
    expect(traffic.reduce((sum, exchange) => sum + exchange.bodyBytes, 0)).toBe(0);
    expect(traffic.some((exchange) => exchange.method === "GET")).toBe(false);
    expect(traffic.find((exchange) => exchange.method === "PUT")?.headers["x-ms-copy-source"]).toContain(
      "copy/source.bin",
    );
    expect(Buffer.from(await storage.readBytes("copy/target.bin"))).toEqual(body);
    await storage.write("copy/taken.bin", "taken");
    await expectCode(
      storage.copy("copy/source.bin", "copy/taken.bin", { ifNoneMatch: "*" }),
      "ConditionNotMet",
    );
    await expectCode(storage.copy("copy/none.bin", "copy/x.bin"), "NotFound");
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
    expect(await all(storage.list("batch"))).toEqual([]);
    expect(traffic.filter((exchange) => comp(exchange) === "batch")).toHaveLength(3);
  });

  it("writes directory markers with hdi_isfolder only when asked", async () => {
    const storage = await containerStorage(server, { directoryMarkers: true });
    await storage.mkdir("empty/inner");
    expect(await storage.stat("empty/inner")).toMatchObject({ kind: "directory" });
    expect((await all(storage.list("empty"))).map((entry) => entry.path)).toEqual(["empty/inner"]);
    const { BlobServiceClient } = await import("@azure/storage-blob");
    const marker = BlobServiceClient.fromConnectionString(server.connectionString)
      .getContainerClient(storage.root.slice(5))
      .getBlobClient("empty/inner/");
    expect((await marker.getProperties()).metadata).toMatchObject({ hdi_isfolder: "true" });
    await storage.deleteDirectory("empty");
    await expectCode(storage.stat("empty"), "NotFound");
    const plain = await containerStorage(server);
    await expectCode(plain.mkdir("x"), "Unsupported");
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

describe("errors", () => {
  it("names a missing container", async () => {
    const storage = await containerStorage(server, {}, "ferry-no-such-container");
    const error = await expectCode(all(storage.list("")), "NotFound");
    expect(error.message).toContain('container "ferry-no-such-container" does not exist');
    await expectCode(storage.stat(""), "NotFound");
    await expectCode(storage.write("x.txt", "x"), "NotFound");
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
    const denied = await expectCode(storage.write("x.txt", "x"), "PermissionDenied");
    const sas = "sv=2020-02-10&ss=b&srt=sco&sp=r&se=2020-01-01T00:00:00Z&sig=ferrySecretSignature0123456789";
    const sasStorage = createStorage(
      await azure({ account: server.accountName, sasToken: sas, blobEndpoint: server.blobEndpoint }).create(
        parseLocation(`az://${container}`),
      ),
    );
    const expired = await expectCode(sasStorage.readBytes("x.txt"), "PermissionDenied");
    for (const error of [denied, expired]) {
      const everything = `${error.message}\n${inspect(error, { depth: 10 })}\n${JSON.stringify(error)}`;
      expect(everything).not.toContain(wrongKey);
      expect(everything).not.toContain("ferrySecretSignature0123456789");
    }
  });

  it("reports an unreachable endpoint as Transient", async () => {
    const { service } = recordingService(server, {
      endpoint: "http://127.0.0.1:1/devstoreaccount1",
      maxTries: 1,
    });
    const storage = await containerStorage(server, { serviceClient: service }, "unreachable");
    const error = await expectCode(storage.stat("x"), "Transient");
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
