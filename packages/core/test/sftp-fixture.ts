/** A plugin registry of local storage and the sftp plugin, keyed for the test's sshd. */
import { sftp } from "@ferry/storage-sftp";
import type { SshdBackend } from "@ferry/test-harness";
import { local, PluginRegistry } from "../src/index.ts";

export function sftpPlugins(sshd: SshdBackend): PluginRegistry {
  const plugins = new PluginRegistry({ lazy: false });
  plugins.use(
    local(),
    sftp({ privateKeyPath: sshd.privateKeyPath, knownHosts: sshd.knownHostsPath, agent: false }),
  );
  return plugins;
}
