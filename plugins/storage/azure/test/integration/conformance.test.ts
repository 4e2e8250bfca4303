import { describeStorage } from "@ferry/conformance";
import { type AzuriteBackend, printLogsOnFailure } from "@ferry/test-harness";
import { afterAll, afterEach, beforeAll } from "vitest";
import { containerStorage, startAzurite } from "../fixture.ts";

let server: AzuriteBackend;
beforeAll(async () => {
  server = await startAzurite();
});
afterAll(() => server?.stop());
// A failing case prints the backend's own log lines next to the assertion.
afterEach((context) => {
  if (server) printLogsOnFailure(context, server);
});

const fresh =
  (options: Parameters<typeof containerStorage>[1] = {}) =>
  async () => ({
    storage: await containerStorage(server, options),
  });

/** Names azurite 3.36.0 cannot carry; Azure's own rules are in the README (rclone encodes the same characters). */
const AZURITE_SKIPS = {
  "keys: control characters round-trip": "azurite answers 500 to a listing that contains control characters",
  "keys: line breaks round-trip": "azurite lists a CR in a name as the literal text &#xD;",
  "keys: backslash is a literal character":
    "azurite turns \\ into / in blob names (rclone's Azure backend encodes backslashes for the same reason)",
};

/**
 * Azure itself (not only azurite) discards a blob's uncommitted blocks when any upload to that name
 * commits, so of two concurrent block uploads to one name the later commit can fail. The plugin test
 * "concurrent writes to one name" holds the driver to the Azure contract instead: each write succeeds
 * or fails as Transient, and the blob is one whole version of a write that succeeded.
 */
const AZURE_SEMANTICS = {
  "concurrency: concurrent writes to one key leave one whole version":
    "Azure discards staged blocks when another upload to the name commits; see the plugin test",
};

const suite = { partSize: 8 * 1024, skip: { ...AZURITE_SKIPS, ...AZURE_SEMANTICS } };
describeStorage("azure (azurite)", fresh({ blockSize: 8 * 1024 }), suite);
describeStorage(
  "azure (azurite, directory markers)",
  fresh({ blockSize: 8 * 1024, directoryMarkers: true }),
  suite,
);
