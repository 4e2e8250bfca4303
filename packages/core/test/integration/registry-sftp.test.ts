import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type SshdBackend, sshdSkipReason, startSshd } from "@ferry/test-harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Folder, type PluginRegistry, ResourceRegistry } from "../../src/index.ts";
import { useProjects } from "../registry-fixtures.ts";
import { sftpPlugins } from "../sftp-fixture.ts";

const skip = sshdSkipReason();
const { project } = useProjects();
let sshd: SshdBackend;
let plugins: PluginRegistry;

beforeAll(async () => {
  if (skip) return;
  sshd = await startSshd();
  plugins = sftpPlugins(sshd);
});

afterAll(async () => {
  await plugins?.close();
  await sshd?.stop();
});

describe.skipIf(skip)("a shared registry on an SSH host (SFTP)", () => {
  it("saves a Folder on the cluster under @/ and loads it back, the entry on the host's disk", async () => {
    const root = sshd.makeRoot();
    const host = `sftp://${sshd.user}@${sshd.host}:${sshd.port}`;
    const registry = new ResourceRegistry({
      cwd: await project(),
      shared: `${host}${root}/registry`,
      plugins,
    });
    const data = new Folder(`${host}${root}/data/sample_folder`, { registry: plugins });
    await data.put({ "0.txt": "0", "1.txt": "1" });
    await registry.save(data, { name: "@/cluster/sample_folder" });
    await registry.save(data, { name: "@/cluster/sample_folder", metadata: { note: "second save" } });

    const loaded = await registry.load<Folder>("@/cluster/sample_folder");
    expect(loaded).toBeInstanceOf(Folder);
    expect(await loaded.ls()).toEqual(["0.txt", "1.txt"]);
    const onHost = JSON.parse(
      await readFile(join(root, "registry/cluster/sample_folder/_versions/000002.json"), "utf8"),
    );
    expect(onHost).toMatchObject({
      name: "@/cluster/sample_folder",
      type: "folder",
      system: "sftp",
      version: 2,
      metadata: { note: "second save" },
    });
    expect(JSON.stringify(onHost)).not.toContain("PRIVATE KEY");
    expect(await registry.list("@/cluster/")).toEqual(["@/cluster/sample_folder"]);
  });
});
