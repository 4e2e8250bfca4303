/**
 * The sftp plugin reads its own grammar: ssh config aliases in every location form, from the
 * plugin's `sshConfigPath` option, and how a location on an alias is named for a tool on the host.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { local, PluginRegistry } from "@ferry/core";
import { FerryError } from "@ferry/plugin-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sftp } from "../src/index.ts";

let dir: string;
let registry: PluginRegistry;
const previous = process.env.FERRY_SSH_CONFIG;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "ferry-sftp-location-"));
  const config = join(dir, "config");
  writeFileSync(config, "Host gpu-box\n  HostName 10.1.2.3\n  User alice\n  Port 2222\n");
  // The environment names no config: the plugin's option is the only place the alias is written.
  process.env.FERRY_SSH_CONFIG = join(dir, "absent");
  registry = new PluginRegistry({ cwd: dir, lazy: false }).use(local(), sftp({ sshConfigPath: config }));
});

afterAll(async () => {
  await registry.close();
  if (previous === undefined) delete process.env.FERRY_SSH_CONFIG;
  else process.env.FERRY_SSH_CONFIG = previous;
  rmSync(dir, { recursive: true, force: true });
});

describe("sftp locations", () => {
  it("an alias from the plugin's sshConfigPath is a cluster in the scp, URL and object forms", async () => {
    const expected = { system: "sftp", alias: "gpu-box", user: "alice", port: 2222 };
    expect(await registry.locate("gpu-box:ckpt/last")).toMatchObject({
      ...expected,
      homeRelative: true,
      path: "ckpt/last",
      url: "sftp://alice@gpu-box:2222/~/ckpt/last",
    });
    expect(await registry.locate("ssh://gpu-box/data")).toMatchObject({ ...expected, path: "data" });
    expect(await registry.locate({ system: "gpu-box", path: "/scratch/x" })).toMatchObject({
      ...expected,
      path: "scratch/x",
    });
  });

  it("a name that is no alias stays a local path, and a bad port is InvalidInput", async () => {
    expect(await registry.locate("notes:today.txt")).toMatchObject({
      system: "file",
      path: `${dir.slice(1)}/notes:today.txt`,
    });
    const error = await registry.locate("sftp://host:99999/x").catch((caught) => caught);
    expect(FerryError.isInstance(error, "InvalidInput")).toBe(true);
    expect((error as Error).message).toBe("invalid port 99999 in sftp://host:99999/x");
  });

  it("names a location on an alias by its HostName for tools on another machine", async () => {
    const grammar = (await registry.storagePlugin("sftp")).location;
    const location = await registry.locate("gpu-box:/data");
    expect(grammar?.remoteUrl?.(location, "data/a.txt")).toBe("sftp://alice@10.1.2.3:2222/data/a.txt");
    expect(grammar?.rcloneRemote?.(location, "data/a.txt")).toBe(
      ":sftp,host=10.1.2.3,user=alice,port=2222:/data/a.txt",
    );
  });
});
