/**
 * Plugin behaviour beyond the shared suite, against the harness GCS server: upload protocols,
 * resume after a dropped connection, server-side copy with rewrite continuation, preconditions,
 * error mapping, endpoint configuration and signed URLs.
 */
import { createHash, createVerify, generateKeyPairSync, randomBytes } from "node:crypto";
import { createStorage, parseLocation } from "@ferry/core";
import { FerryError, type Storage } from "@ferry/plugin-kit";
import { type GcsBackend, printLogsOnFailure, startGcsServer } from "@ferry/test-harness";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import gcsDefault, { gcs } from "../../src/index.ts";
import { bucketStorage, serverOptions } from "../fixture.ts";

let server: GcsBackend;
beforeAll(async () => {
  server = await startGcsServer({ rewriteBytesPerCall: 256 * 1024 });
});
afterAll(() => server?.stop());
afterEach((context) => printLogsOnFailure(context, server));

const KiB = 1024;
const md5Hex = (data: Uint8Array) => createHash("md5").update(data).digest("hex");

/** Requests the server saw while `action` ran. */
async function traffic<T>(action: () => Promise<T>) {
  const before = server.requests().length;
  const result = await action();
  return { result, requests: server.requests().slice(before) };
}

async function* chunks(data: Uint8Array, size: number): AsyncIterable<Uint8Array> {
  for (let offset = 0; offset < data.length; offset += size) yield data.subarray(offset, offset + size);
}

async function expectCode(action: Promise<unknown>, code: string): Promise<FerryError> {
  const error = await action.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(FerryError.isInstance(error), String(error)).toBe(true);
  expect((error as FerryError).code, (error as FerryError).message).toBe(code);
  return error as FerryError;
}

describe("uploads", () => {
  it("sends a small known-size write as one request carrying its MD5", async () => {
    const storage = await bucketStorage(server);
    const data = randomBytes(10 * KiB);
    const { requests } = await traffic(() => storage.write("small.bin", data, { size: data.length }));
    expect(requests.map((r) => `${r.method} ${r.status}`)).toEqual(["POST 200"]);
    expect(requests[0]!.url).toContain("uploadType=multipart");
    expect((await storage.stat("small.bin")).md5).toBe(md5Hex(data));
  });

  it("streams an unknown-size write as a resumable upload in chunks of the part size", async () => {
    const storage = await bucketStorage(server, { resumableThreshold: 0 });
    const data = randomBytes(3 * 256 * KiB + 500);
    const { requests } = await traffic(() =>
      storage.write("chunked.bin", chunks(data, 10_000), { partSize: 256 * KiB }),
    );
    const puts = requests.filter((r) => r.method === "PUT");
    expect(puts.map((p) => p.status)).toEqual([308, 308, 308, 200]);
    expect(puts.map((p) => p.bytesIn)).toEqual([262144, 262144, 262144, 500]);
    expect(Buffer.from(await storage.readBytes("chunked.bin")).equals(data)).toBe(true);
    expect((await storage.stat("chunked.bin")).md5).toBe(md5Hex(data));
  });

  it("completes an empty resumable upload with one empty chunk request", async () => {
    const storage = await bucketStorage(server, { resumableThreshold: 0 });
    const { requests } = await traffic(() => storage.write("empty.bin", chunks(new Uint8Array(), 1)));
    expect(requests.map((r) => `${r.method} ${r.status}`)).toEqual(["POST 200", "PUT 200"]);
    expect(requests[1]!.bytesIn).toBe(0);
    expect(await storage.stat("empty.bin")).toMatchObject({ size: 0, md5: md5Hex(new Uint8Array()) });
  });

  it("resumes after the connection drops mid-chunk, and the object is byte-identical", async () => {
    const storage = await bucketStorage(server, { resumableThreshold: 0, chunkSize: 256 * KiB });
    const data = randomBytes(2 * 256 * KiB + 1234);
    server.injectFault({ method: "PUT", path: /upload_id=/, resetAfterBytes: 100 * KiB });
    const { requests } = await traffic(() => storage.write("resumed.bin", data));
    const puts = requests.filter((r) => r.method === "PUT");
    expect(puts[0]).toMatchObject({ status: 0, bytesIn: 100 * KiB });
    // The status query tells the client what the server kept; it sends only the rest.
    expect(puts[1]).toMatchObject({ status: 308, bytesIn: 0 });
    expect(puts.slice(2).reduce((sum, p) => sum + p.bytesIn, 0)).toBe(data.length - 100 * KiB);
    expect(Buffer.from(await storage.readBytes("resumed.bin")).equals(data)).toBe(true);
  });

  it("leaves no object and cancels the session when the source fails mid-upload", async () => {
    const storage = await bucketStorage(server, { resumableThreshold: 0 });
    async function* failing() {
      yield randomBytes(300 * KiB);
      throw new Error("source broke");
    }
    const { requests } = await traffic(() =>
      storage.write("broken.bin", failing()).catch((error: unknown) => error),
    );
    expect(await storage.exists("broken.bin")).toBe(false);
    expect(
      requests.some((r) => r.method === "DELETE" && r.url.includes("upload_id=") && r.status === 499),
    ).toBe(true);
  });

  it("rejects a create-only write onto an existing object on both upload paths", async () => {
    const storage = await bucketStorage(server, { resumableThreshold: 1000 });
    await storage.write("taken.txt", "first");
    await expectCode(storage.write("taken.txt", "second", { ifNoneMatch: "*", size: 6 }), "ConditionNotMet");
    await expectCode(storage.write("taken.txt", randomBytes(5000), { ifNoneMatch: "*" }), "ConditionNotMet");
    expect(new TextDecoder().decode(await storage.readBytes("taken.txt"))).toBe("first");
  });

  it("records the caller's mtime as rclone and gsutil do", async () => {
    const storage = await bucketStorage(server);
    const mtime = new Date("2020-01-02T03:04:05.678Z");
    await storage.write("dated.txt", "x", { mtime });
    expect((await storage.stat("dated.txt")).mtime?.toISOString()).toBe(mtime.toISOString());
  });
});

describe("integrity", () => {
  it("sends the caller's MD5 so the server itself refuses other bytes, on both upload paths", async () => {
    // Straight to the driver: the managed storage would catch the mismatch first, on the client.
    const storage = await bucketStorage(server, { resumableThreshold: 100 * KiB });
    const wrong = md5Hex(randomBytes(8));
    for (const [name, size] of [
      ["small.bin", 10 * KiB],
      ["large.bin", 300 * KiB],
    ] as const) {
      const data = randomBytes(size);
      await expectCode(storage.driver.write(name, chunks(data, 64 * KiB), { size, md5: wrong }), "Integrity");
      expect(await storage.exists(name)).toBe(false);
    }
  });

  it("fails a download whose bytes do not match the stored CRC32C with Integrity", async () => {
    const storage = await bucketStorage(server);
    await storage.write("checked.bin", randomBytes(50 * KiB));
    server.injectFault({ method: "GET", path: /checked\.bin\?alt=media/, corruptResponse: true });
    await expectCode(storage.readBytes("checked.bin"), "Integrity");
  });
});

describe("server-side copy", () => {
  it("follows the rewrite token and moves no object bytes through the client", async () => {
    const storage = await bucketStorage(server);
    const data = randomBytes(1024 * KiB);
    await storage.write("big.bin", data);
    const { result, requests } = await traffic(() => storage.copy("big.bin", "copy.bin"));
    const rewrites = requests.filter((r) => r.url.includes("/rewriteTo/"));
    expect(rewrites.length).toBe(4);
    expect(rewrites.slice(1).every((r) => r.url.includes("rewriteToken="))).toBe(true);
    const bytesThroughClient = requests.reduce((sum, r) => sum + r.bytesIn + r.bytesOut, 0);
    expect(bytesThroughClient).toBeLessThan(16 * KiB);
    expect(result).toMatchObject({ path: "copy.bin", size: data.length, md5: md5Hex(data) });
    expect(Buffer.from(await storage.readBytes("copy.bin")).equals(data)).toBe(true);
  });

  it("moves as copy + delete and refuses a create-only move onto an existing key", async () => {
    const storage = await bucketStorage(server);
    await storage.write("a.txt", "a");
    await storage.write("b.txt", "b");
    await expectCode(storage.move("a.txt", "b.txt", { ifNoneMatch: "*" }), "ConditionNotMet");
    await storage.move("a.txt", "c.txt");
    expect(await storage.exists("a.txt")).toBe(false);
    expect(new TextDecoder().decode(await storage.readBytes("c.txt"))).toBe("a");
  });

  it("moves with the atomic objects.move when atomicMove is on", async () => {
    const bucket = server.createBucket();
    const storage = await bucketStorage(server, { atomicMove: true }, bucket);
    expect(storage.capabilities.move).toBe("native");
    await storage.write("from.txt", "payload");
    const { requests } = await traffic(() => storage.move("from.txt", "to/dest.txt"));
    const paths = requests.map((r) => `${r.method} ${r.url.split("?")[0]}`);
    expect(paths).toContain(`POST /storage/v1/b/${bucket}/o/from.txt/moveTo/o/to%2Fdest.txt`);
    expect(requests.some((r) => r.url.includes("/rewriteTo/"))).toBe(false);
    expect(await storage.exists("from.txt")).toBe(false);
    expect(new TextDecoder().decode(await storage.readBytes("to/dest.txt"))).toBe("payload");
  });
});

describe("errors", () => {
  it("maps 403, 429 and 503 to PermissionDenied and Transient, without leaking a session URI", async () => {
    const storage = await bucketStorage(server);
    await storage.write("x.txt", "x");
    server.injectFault({ method: "GET", path: /\/o\/x\.txt/, status: 403 });
    await expectCode(storage.stat("x.txt"), "PermissionDenied");
    // The client retries 429/503 itself; a fault on every attempt surfaces as Transient.
    const retryless = await bucketStorage(server, { resumableThreshold: 0 });
    server.injectFault({ method: "PUT", path: /upload_id=/, status: 503, times: 100 });
    const error = await expectCode(retryless.write("y.bin", chunks(randomBytes(1000), 100)), "Transient");
    server.clearFaults();
    expect(error.message).not.toMatch(/upload_id=[0-9a-f]/);
    expect(JSON.stringify(error)).not.toMatch(/upload_id=[0-9a-f]/);
  }, 60_000);

  it("a 503 on a download rejects read() with Transient, with the plugin's client and a caller's own", async () => {
    const { Storage: Client } = await import("@google-cloud/storage");
    const bucket = server.createBucket();
    const own = new Client({ apiEndpoint: server.endpoint, projectId: server.projectId });
    const stores = [
      await bucketStorage(server, {}, bucket),
      createStorage(await gcs({ storage: own }).create(parseLocation(`gs://${bucket}`))),
    ];
    await stores[0]!.write("busy.bin", randomBytes(100 * KiB));
    for (const storage of stores) {
      // The client would retry this itself and crash the process doing it (ERR_STREAM_UNABLE_TO_PIPE).
      server.injectFault({ method: "GET", path: /busy\.bin\?alt=media/, status: 503 });
      const before = server.requests().length;
      const error = await expectCode(storage.readBytes("busy.bin"), "Transient");
      expect(error.message).toMatch(/^read gs:\/\/.*busy\.bin: .*\(HTTP 503\)$/);
      expect(
        server
          .requests()
          .slice(before)
          .filter((r) => r.url.includes("alt=media")),
      ).toHaveLength(1);
      expect((await storage.readBytes("busy.bin")).length).toBe(100 * KiB);
    }
  });

  it("tells a missing bucket from a missing object", async () => {
    const missingBucket = await bucketStorage(server, {}, "ferry-no-such-bucket");
    expect((await expectCode(missingBucket.stat(""), "NotFound")).message).toContain(
      'bucket "ferry-no-such-bucket" does not exist',
    );
    expect((await expectCode(missingBucket.read("x.txt"), "NotFound")).message).toContain("does not exist");
    // Object errors name the bucket too; a bucket called "…bucket…" must not read as a missing bucket.
    const storage = await bucketStorage(server, {}, server.createBucket(`ferry-bucket-${Date.now()}`));
    const error = await expectCode(storage.read("missing.txt"), "NotFound");
    expect(error.message).toMatch(/missing\.txt: no such object$/);
  });

  it("refuses names GCS cannot store before sending anything", async () => {
    const storage = await bucketStorage(server);
    const { requests } = await traffic(() => expectCode(storage.write("a\nb", "x"), "InvalidInput"));
    expect(requests).toEqual([]);
  });
});

describe("configuration", () => {
  it("honours STORAGE_EMULATOR_HOST, including a bare host:port, with no options", async () => {
    const previous = process.env.STORAGE_EMULATOR_HOST;
    process.env.STORAGE_EMULATOR_HOST = server.endpoint.replace(/^http:\/\//, "");
    try {
      const bucket = server.createBucket();
      const plugin = gcsDefault();
      const storage = createStorage(await plugin.create(parseLocation(`gs://${bucket}/`)));
      await storage.write("env.txt", "via the environment");
      expect(new TextDecoder().decode(await storage.readBytes("env.txt"))).toBe("via the environment");
      expect(server.requests().some((r) => r.url.startsWith(`/storage/v1/b/${bucket}/o/env.txt`))).toBe(true);
    } finally {
      if (previous === undefined) delete process.env.STORAGE_EMULATOR_HOST;
      else process.env.STORAGE_EMULATOR_HOST = previous;
    }
  });

  it("uses the caller's own Storage client", async () => {
    const { Storage: Client } = await import("@google-cloud/storage");
    const client = new Client({ apiEndpoint: server.endpoint, projectId: server.projectId });
    const bucket = server.createBucket();
    const storage = createStorage(await gcs({ storage: client }).create(parseLocation(`gs://${bucket}`)));
    await storage.write("own.txt", "mine");
    expect((await client.bucket(bucket).file("own.txt").download())[0].toString()).toBe("mine");
  });

  it("sends uploads with the client's credentials, on both upload paths, to a server that requires them", async () => {
    const credential = "ferry-test-api-key";
    const locked = await startGcsServer({ credential });
    try {
      const { Storage: Client } = await import("@google-cloud/storage");
      const bucket = locked.createBucket();
      // An API key through the client's own auth class (google-auth-library's GoogleAuth, which is
      // not a dependency of this package): the one credential it sends without asking a token
      // server. The project is given, so it does not go looking for one on a metadata server.
      type Auth = InstanceType<typeof Client>["authClient"];
      const GoogleAuth = new Client().authClient.constructor as new (options: {
        apiKey: string;
        projectId: string;
      }) => Auth;
      const own = new Client({
        apiEndpoint: locked.endpoint,
        projectId: locked.projectId,
        authClient: new GoogleAuth({ apiKey: credential, projectId: locked.projectId }),
        useAuthWithCustomEndpoint: true,
      });
      const storage = createStorage(
        await gcs({ storage: own, resumableThreshold: 100 * KiB }).create(parseLocation(`gs://${bucket}`)),
      );
      for (const size of [10 * KiB, 300 * KiB]) {
        const data = randomBytes(size);
        await storage.write(`signed-${size}.bin`, data, { size });
        expect(Buffer.from(await storage.readBytes(`signed-${size}.bin`)).equals(data)).toBe(true);
      }
      await storage.close();
      // Without it, the server's 401 is PermissionDenied, as for the client's own calls.
      const anonymous = await bucketStorage(locked, {}, bucket);
      await expectCode(anonymous.write("anonymous.txt", "x"), "PermissionDenied");
      await anonymous.close();
    } finally {
      await locked.stop();
    }
  });

  it("declares presign only with a signing key", () => {
    expect(gcs(serverOptions(server)).capabilities.presign).toBe(false);
    expect(gcs({ credentials: { client_email: "a@b", private_key: "k" } }).capabilities.presign).toBe(true);
  });
});

describe("presign", () => {
  let storage: Storage;
  let publicKey: string;
  const email = "ferry-test@project.iam.gserviceaccount.com";

  beforeAll(async () => {
    const pair = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const privateKey = pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    publicKey = pair.publicKey.export({ type: "spki", format: "pem" }).toString();
    storage = await bucketStorage(server, { credentials: { client_email: email, private_key: privateKey } });
  });

  it("signs a V4 URL whose signature verifies with the service account's public key", async () => {
    const url = new URL(await storage.presign("dir/file name.txt", { method: "GET", expiresIn: 600 }));
    const params = url.searchParams;
    expect(params.get("X-Goog-Algorithm")).toBe("GOOG4-RSA-SHA256");
    expect(params.get("X-Goog-Credential")).toMatch(
      new RegExp(`^${email}/\\d{8}/auto/storage/goog4_request$`),
    );
    expect(params.get("X-Goog-Expires")).toBe("600");
    // Rebuild the canonical request as GCS does and check the signature against the public key.
    const query = [...params.entries()]
      .filter(([key]) => key !== "X-Goog-Signature")
      .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
      .sort()
      .join("&");
    const signedHeaders = params.get("X-Goog-SignedHeaders")!;
    const headers = signedHeaders
      .split(";")
      .map((name) => `${name}:${name === "host" ? url.hostname : ""}\n`)
      .join("");
    const canonical = ["GET", url.pathname, query, headers, signedHeaders, "UNSIGNED-PAYLOAD"].join("\n");
    const scope = params.get("X-Goog-Credential")!.split("/").slice(1).join("/");
    const stringToSign = [
      "GOOG4-RSA-SHA256",
      params.get("X-Goog-Date"),
      scope,
      createHash("sha256").update(canonical).digest("hex"),
    ].join("\n");
    const verify = createVerify("RSA-SHA256").update(stringToSign);
    expect(verify.verify(publicKey, Buffer.from(params.get("X-Goog-Signature")!, "hex"))).toBe(true);
    expect(url.toString()).not.toContain("PRIVATE KEY");
  });

  it("refuses HEAD and lifetimes beyond seven days", async () => {
    await expectCode(storage.presign("x", { method: "HEAD" }), "Unsupported");
    await expectCode(storage.presign("x", { expiresIn: 8 * 24 * 3600 }), "InvalidInput");
  });
});
