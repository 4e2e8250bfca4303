/**
 * Create-only writes are checked against the server before they are relied on: s3rver ignores
 * If-None-Match, and the plugin finds that out with one probe instead of overwriting silently.
 */
import { expectFerryError } from "@ferry/conformance";
import { conditionalWritesHold } from "@ferry/plugin-kit";
import { printLogsOnFailure, type S3Backend } from "@ferry/test-harness";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { bucketStorage, startS3rver } from "../fixture.ts";
import { recordingClient } from "../traffic.ts";

let server: S3Backend;
beforeAll(async () => {
  server = await startS3rver();
});
afterAll(() => server?.stop());
afterEach((context) => printLogsOnFailure(context, server));

async function keys(storage: Awaited<ReturnType<typeof bucketStorage>>): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of storage.list("", { recursive: true })) found.push(entry.path);
  return found;
}

describe("create-only writes on a server that ignores If-None-Match", () => {
  it("are refused with Unsupported after one probe, never overwriting; the probe leaves nothing behind", async () => {
    const { client, traffic } = recordingClient(server);
    // The plugin's defaults: S3's declaration, checked on first use.
    const storage = await bucketStorage(server, { client, capabilities: {} });
    await storage.write("data/once.txt", "first");
    await expectFerryError(storage.write("data/once.txt", "second", { ifNoneMatch: "*" }), "Unsupported");
    expect(new TextDecoder().decode(await storage.readBytes("data/once.txt"))).toBe("first");
    await expectFerryError(
      storage.copy("data/once.txt", "data/copy.txt", { ifNoneMatch: "*" }),
      "Unsupported",
    );
    expect(await conditionalWritesHold(storage, "data/other.json")).toBe(false);
    expect(await keys(storage)).toEqual(["data/once.txt"]);
    // One probe for the bucket, made before the first create-only write: an empty object, the same
    // with If-None-Match (s3rver overwrote it), its removal. The copy and the later question reuse it.
    expect(
      traffic
        .slice(0, 4)
        .map((exchange) => [exchange.command, exchange.headers["if-none-match"], exchange.requestBytes]),
    ).toEqual([
      ["PutObject", undefined, 5],
      ["PutObject", undefined, 0],
      ["PutObject", "*", 0],
      ["DeleteObject", undefined, 0],
    ]);
    expect(traffic.filter((exchange) => exchange.headers["if-none-match"] !== undefined)).toHaveLength(1);
  });

  it("declared absent (capabilities: { conditionalWrite: false }) or trusted (probeConditionalWrites: false): no probe", async () => {
    const declared = await bucketStorage(server);
    expect(await conditionalWritesHold(declared, "x.json")).toBe(false);
    const { client, traffic } = recordingClient(server);
    const trusted = await bucketStorage(server, { client, capabilities: {}, probeConditionalWrites: false });
    expect(await conditionalWritesHold(trusted, "x.json")).toBe(true);
    expect(traffic).toEqual([]);
  });
});
