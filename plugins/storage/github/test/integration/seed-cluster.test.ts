/** The seed's other half for GitHub: a repository folder copied to a cluster (an SFTP host) with `folder().to()`. */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { folder, PluginRegistry } from "@ferry/core";
import { sftp } from "@ferry/storage-sftp";
import {
  type GithubBackend,
  type SshdBackend,
  sshdSkipReason,
  startGithubServer,
  startSshd,
} from "@ferry/test-harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { github } from "../../src/index.ts";
import { repoName } from "../fixture.ts";

const skipReason = sshdSkipReason();

describe.skipIf(skipReason !== undefined)(
  `GitHub folder to a cluster${skipReason ? ` (${skipReason})` : ""}`,
  () => {
    let backend: GithubBackend;
    let sshd: SshdBackend;
    let registry: PluginRegistry;
    beforeAll(async () => {
      [backend, sshd] = await Promise.all([startGithubServer(), startSshd()]);
      registry = new PluginRegistry({ lazy: false }).use(
        github({ baseUrl: backend.baseUrl, token: backend.token }),
        sftp({ privateKeyPath: sshd.privateKeyPath, knownHosts: sshd.knownHostsPath, agent: false }),
      );
    });
    afterAll(async () => {
      await registry?.close();
      await Promise.all([backend?.stop(), sshd?.stop()]);
    });

    it("copies the five files to the host, where ls shows them", async () => {
      const name = repoName("seed-cluster");
      const files = Object.fromEntries(
        Array.from({ length: 5 }, (_, index) => [`rfcs/sample_file_${index}.txt`, `sample ${index}\n`]),
      );
      await backend.createRepo("pytorch", name, { files });
      const root = sshd.makeRoot();
      const onCluster = await folder(`github://pytorch/${name}@main/rfcs`, { registry }).to(
        `sftp://${sshd.user}@${sshd.host}:${sshd.port}${root}/torchrfcs`,
      );
      const names = Object.keys(files).map((path) => path.slice("rfcs/".length));
      expect(await onCluster.ls()).toEqual(names);
      // The harness's host is this machine: check the bytes where sshd wrote them.
      expect((await readdir(join(root, "torchrfcs"))).sort()).toEqual(names);
      expect(await readFile(join(root, "torchrfcs", "sample_file_3.txt"), "utf8")).toBe("sample 3\n");
    });
  },
);
