/** Errors: typed codes, named buckets, and no credentials in any message. */
import { inspect } from "node:util";
import { expectFerryError, listEntries } from "@ferry/conformance";
import type { FerryError } from "@ferry/plugin-kit";
import { printLogsOnFailure, type S3Backend } from "@ferry/test-harness";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { mapS3Error } from "../../src/errors.ts";
import { bucketStorage, startS3rver } from "../fixture.ts";
import { recordingClient } from "../traffic.ts";

let server: S3Backend;
beforeAll(async () => {
  server = await startS3rver();
});
afterAll(() => server?.stop());
afterEach((context) => printLogsOnFailure(context, server));

describe("errors", () => {
  it("names a missing bucket", async () => {
    const storage = await bucketStorage(server, {}, "ferry-no-such-bucket");
    const error = await expectFerryError(listEntries(storage, ""), "NotFound");
    expect(error.message).toContain('bucket "ferry-no-such-bucket" does not exist');
    await expectFerryError(storage.stat(""), "NotFound");
  });

  it("never puts credentials in messages or causes, though the server echoes the key id", async () => {
    const bucket = await server.createBucket();
    const accessKeyId = "AKIAFERRYTESTKEY0001";
    const secretAccessKey = "ferry-test-secret-value-0123456789";
    // The raw SDK error carries the key id back from the server (AWSAccessKeyId): a real leak vector.
    const { S3Client, PutObjectCommand } = await import("@aws-sdk/client-s3");
    const raw = new S3Client({
      endpoint: server.endpoint,
      region: server.region,
      forcePathStyle: true,
      credentials: { accessKeyId, secretAccessKey },
    });
    const rawError = await raw
      .send(new PutObjectCommand({ Bucket: bucket, Key: "x.txt", Body: "x" }))
      .catch((error: unknown) => error);
    expect(inspect(rawError)).toContain(accessKeyId);
    raw.destroy();

    const storage = await bucketStorage(server, { credentials: { accessKeyId, secretAccessKey } }, bucket);
    const errors = [
      await expectFerryError(storage.write("x.txt", "x"), "PermissionDenied"),
      await expectFerryError(storage.stat("x.txt"), "PermissionDenied"),
      await expectFerryError(listEntries(storage, ""), "PermissionDenied"),
    ];
    for (const error of errors) {
      const everything = `${error.message}\n${inspect(error, { depth: 10 })}\n${JSON.stringify(error)}`;
      expect(everything).not.toContain(accessKeyId);
      expect(everything).not.toContain(secretAccessKey);
    }
    expect(errors[0]!.message).toMatch(/access denied \(InvalidAccessKeyId\)/);
  });

  it("reports a connection dropped mid-body as Transient", async () => {
    // A server of its own, killed while a large object streams: the socket really goes away.
    const doomed = await startS3rver();
    try {
      const storage = await bucketStorage(doomed);
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
    const { client } = recordingClient({ ...server, endpoint: "http://127.0.0.1:1" }, 1);
    const storage = await bucketStorage(server, { client });
    const error = await expectFerryError(storage.stat("x"), "Transient");
    expect(error.retryable).toBe(true);
  });
});

describe("error mapping", () => {
  const context = { operation: "write", path: "k", bucket: "b" };
  const sdkError = (name: string, status: number, extra: Record<string, unknown> = {}) =>
    Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status }, ...extra });

  it("maps the S3 error codes a server can answer to ferry codes", () => {
    const cases: Array<[unknown, FerryError["code"]]> = [
      [sdkError("NoSuchKey", 404), "NotFound"],
      [sdkError("NotFound", 404), "NotFound"],
      [sdkError("AccessDenied", 403), "PermissionDenied"],
      [sdkError("PreconditionFailed", 412), "ConditionNotMet"],
      [sdkError("BadDigest", 400), "Integrity"],
      [sdkError("SlowDown", 503), "Transient"],
      [sdkError("InternalError", 500), "Transient"],
      [Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }), "Transient"],
      [sdkError("NotImplemented", 501), "Unsupported"],
    ];
    for (const [error, code] of cases) expect(mapS3Error(error, context).code, String(error)).toBe(code);
    expect(mapS3Error(sdkError("NoSuchBucket", 404), context).message).toContain('bucket "b" does not exist');
    const noRegion = mapS3Error(new Error("Region is missing"), context);
    expect(noRegion.code).toBe("InvalidInput");
    expect(noRegion.message).toMatch(/no AWS region is configured; set AWS_REGION/);
  });

  it("reads a bare HTTP status as every storage plugin does: 408 and 5xx are worth another try", () => {
    // A proxy in front of the server answers with a status and no S3 error code.
    expect(mapS3Error(sdkError("Unknown", 408), context).code).toBe("Transient");
    expect(mapS3Error(sdkError("Unknown", 502), context).code).toBe("Transient");
    expect(mapS3Error(sdkError("Unknown", 416), context).code).toBe("InvalidInput");
    expect(mapS3Error(sdkError("Unknown", 408), context).message).toBe(
      "write s3://b/k: Unknown (HTTP 408): Unknown happened",
    );
  });

  it("redacts key ids and signatures that reach a message", () => {
    const leaky = sdkError("Weird", 400, {
      message:
        "bad request AKIAIOSFODNN7EXAMPLE Credential=AKIAIOSFODNN7EXAMPLE/20260101 Signature=abcdef0123",
    });
    const mapped = mapS3Error(leaky, { ...context, secrets: ["my-secret-value"] });
    expect(mapped.message).not.toMatch(/AKIAIOSFODNN7EXAMPLE|abcdef0123/);
    expect(inspect(mapped, { depth: 5 })).not.toMatch(/AKIAIOSFODNN7EXAMPLE|abcdef0123/);
  });
});
