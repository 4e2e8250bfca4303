/** The shared storage conformance suite against the GitHub REST server in test-harness: a fresh repository per case. */
import { describeStorage } from "@ferry/conformance";
import { createStorage, parseLocation } from "@ferry/core";
import { type GithubBackend, startGithubServer, uniqueName } from "@ferry/test-harness";
import { afterAll } from "vitest";
import { github } from "../../src/index.ts";

let server: Promise<GithubBackend> | undefined;
afterAll(async () => {
  await (await server)?.stop();
});

describeStorage(
  "github",
  async () => {
    server ??= startGithubServer();
    const backend = await server;
    const name = uniqueName("conformance");
    // One commit of the empty tree: an empty root. (A repository with no commit at all reads as NotFound.)
    await backend.createRepo("ferry", name, { files: {} });
    const plugin = github({ baseUrl: backend.baseUrl, token: backend.token });
    return { storage: createStorage(await plugin.create(parseLocation(`github://ferry/${name}@main`))) };
  },
  {
    partSize: 8 * 1024,
    skip: {
      "directories: a file and a directory of the same name coexist":
        "a git tree cannot hold a file and a directory with the same name",
    },
  },
);
