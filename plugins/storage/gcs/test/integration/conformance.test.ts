import { describeStorage } from "@ferry/conformance";
import { type GcsBackend, printLogsOnFailure, startGcsServer } from "@ferry/test-harness";
import { afterAll, afterEach, beforeAll } from "vitest";
import type { GcsOptions } from "../../src/index.ts";
import { bucketStorage } from "../fixture.ts";

let server: GcsBackend;
beforeAll(async () => {
  // Small rewrite steps, so copies of multi-part sized objects follow the rewrite token.
  server = await startGcsServer({ rewriteBytesPerCall: 256 * 1024 });
});
afterAll(() => server?.stop());
// A failing case prints the backend's own log lines next to the assertion.
afterEach((context) => {
  if (server) printLogsOnFailure(context, server);
});

// 256 KiB is GCS's chunk quantum: multi-part cases run resumable uploads of several chunks,
// and a threshold of 64 KiB sends everything larger than that through resumable sessions.
const fresh = (extra: GcsOptions) => async () => ({
  storage: await bucketStorage(server, { chunkSize: 256 * 1024, resumableThreshold: 64 * 1024, ...extra }),
});

const options = {
  partSize: 256 * 1024,
  // A rule of GCS itself, not of the test server: the driver refuses these names with InvalidInput.
  skip: { "keys: line breaks round-trip": "GCS object names cannot contain carriage returns or line feeds" },
};

describeStorage("gcs (harness server)", fresh({}), options);
// The second run also switches move from rewrite + delete to the atomic objects.move.
describeStorage(
  "gcs (harness server, directory markers, atomic move)",
  fresh({ directoryMarkers: true, atomicMove: true }),
  options,
);
