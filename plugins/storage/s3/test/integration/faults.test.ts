/**
 * What lands is what was sent, through a proxy that corrupts or cuts the traffic. s3rver does not
 * check Content-MD5, so these pass only because ferry checks the server's answers itself: the ETag of
 * a PutObject, of each part and of the completed upload, and of a CopyObject.
 */
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import {
  describeTransferFaults,
  expectFerryError,
  FAULT_PART,
  listPaths,
  markedBytes,
} from "@ferry/conformance";
import { copy } from "@ferry/core";
import { type FaultProxy, printLogsOnFailure, type S3Backend, startFaultProxy } from "@ferry/test-harness";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { bucketStorage, startS3rver } from "../fixture.ts";
import { recordingClient } from "../traffic.ts";

const md5 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("hex");

let server: S3Backend;
let proxy: FaultProxy;
beforeAll(async () => {
  server = await startS3rver();
  proxy = await startFaultProxy({ port: Number(new URL(server.endpoint).port) });
});
afterAll(async () => {
  await proxy?.stop();
  await server?.stop();
});
afterEach((context) => {
  proxy.clear();
  printLogsOnFailure(context, server);
});

/** A bucket reached through the proxy, the same bucket reached directly, and a raw client. */
async function throughProxy() {
  const bucket = await server.createBucket();
  const options = { partSize: FAULT_PART, concurrency: 2 };
  const storage = await bucketStorage(server, { ...options, endpoint: proxy.endpoint }, bucket);
  const direct = await bucketStorage(server, options, bucket);
  return { bucket, storage, direct, client: recordingClient(server).client };
}

describeTransferFaults("s3 (s3rver)", () => ({
  proxy,
  fresh: throughProxy,
  // The ETag of a single-part, unencrypted object: the hex MD5 in quotes.
  statedMd5: (hex) => hex,
}));

describe("s3: a multipart upload the server got wrong", () => {
  it("is aborted, never completed (s3rver cannot list uploads, so the requests are what is checked)", async () => {
    const bucket = await server.createBucket();
    const { client, traffic } = recordingClient({ ...server, endpoint: proxy.endpoint });
    const storage = await bucketStorage(server, { client, partSize: FAULT_PART }, bucket);
    proxy.inject({ kind: "flip", direction: "upstream", marker: "FERRY-FAULT-MARKER", offset: 23 });
    await expectFerryError(storage.write("parts.bin", markedBytes(600 * 1024, 23, 300 * 1024)), "Integrity");
    const commands = traffic.map(({ command }) => command);
    expect(commands).toContain("AbortMultipartUpload");
    expect(commands).not.toContain("CompleteMultipartUpload");
    expect(commands).not.toContain("CopyObject"); // no md5chksum recorded
  });
});

describe("s3: hashes recorded with an object", () => {
  it("a multipart upload retried after a flipped byte records the MD5 of what was stored", async () => {
    const { bucket, storage, direct, client } = await throughProxy();
    const scratch = await mkdtemp(join(tmpdir(), "ferry-s3-faults-"));
    try {
      const body = markedBytes(600 * 1024, 21, 500 * 1024);
      await writeFile(join(scratch, "parts.bin"), body);
      proxy.inject({ kind: "flip", direction: "upstream", marker: "FERRY-FAULT-MARKER", offset: 23 });
      const summary = await copy(scratch, { storage, path: "" }, { retryDelayMs: 1 });
      expect(summary.errors.map(({ error }) => String(error))).toEqual([]);
      const stored = await direct.readBytes("parts.bin");
      expect(Buffer.from(stored)).toEqual(body);
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: "parts.bin" }));
      expect(Buffer.from(head.Metadata?.md5chksum ?? "", "base64").toString("hex")).toBe(md5(stored));
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });

  it("a server-side copy of an object whose recorded MD5 is wrong fails with Integrity and leaves no copy", async () => {
    const { bucket, storage, direct, client } = await throughProxy();
    const body = markedBytes(3000, 22);
    const wrong = Buffer.from(md5(Buffer.from("something else")), "hex").toString("base64");
    await client.send(
      new PutObjectCommand({ Bucket: bucket, Key: "lying.bin", Body: body, Metadata: { md5chksum: wrong } }),
    );
    const error = await expectFerryError(storage.copy("lying.bin", "copied.bin"), "Integrity");
    expect(error.message).toContain("lying.bin");
    expect(await listPaths(direct, "", { recursive: true })).toEqual(["lying.bin"]);
  });
});
