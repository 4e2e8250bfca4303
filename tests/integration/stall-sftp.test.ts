import { readFileSync, writeFileSync } from "node:fs";
import { sftpStorage } from "@ferry/storage-sftp";
import { sshdSkipReason, startFaultProxy, startSshd } from "@ferry/test-harness";
import { describe } from "vitest";
import { describeStalls, keysUnder, MiB } from "./stall-scenarios.ts";

const skip = sshdSkipReason();

describe.skipIf(skip !== undefined)("sftp", () => {
  describeStalls("sftp (OpenSSH)", async () => {
    const sshd = await startSshd();
    const proxy = await startFaultProxy({ port: sshd.port });
    // The host key, recorded for the proxy's port: the check stays strict.
    const knownHosts = `${sshd.knownHostsPath}.proxy`;
    writeFileSync(
      knownHosts,
      readFileSync(sshd.knownHostsPath, "utf8").replace(`]:${sshd.port} `, `]:${proxy.port} `),
    );
    const root = sshd.makeRoot();
    return {
      proxy,
      // SSH is encrypted, so faults fire by byte count: halfway through the 3 MiB body.
      trigger: () => ({ afterBytes: 1.5 * MiB }),
      storage: (timeout) =>
        sftpStorage({
          host: sshd.host,
          port: proxy.port,
          user: sshd.user,
          privateKeyPath: sshd.privateKeyPath,
          knownHosts,
          agent: false,
          root,
          timeout,
        }),
      leftovers: keysUnder,
      async stop() {
        await proxy.stop();
        await sshd.stop();
      },
    };
  });
});
