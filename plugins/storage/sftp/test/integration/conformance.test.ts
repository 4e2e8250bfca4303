import { rm } from "node:fs/promises";
import { describeStorage } from "@ferry/conformance";
import type { Storage } from "@ferry/plugin-kit";
import { type SshdBackend, type SshdOptions, startSshd } from "@ferry/test-harness";
import { afterAll, beforeAll, describe } from "vitest";
import { freshStorage, skipReason } from "../helpers.ts";

/**
 * The suite runs twice, as rclone runs its backends under several configurations: against a full
 * OpenSSH account (commands run: cp, md5sum and rm -rf on the host) and against an sftp-only one
 * (copy-data extension, SFTP walks, no checksum).
 */
const SERVERS: Record<string, SshdOptions> = {
  "OpenSSH sshd": {},
  "OpenSSH sshd, sftp-only account": { sftpOnly: true },
};

for (const [name, serverOptions] of Object.entries(SERVERS)) {
  describe.skipIf(skipReason !== undefined)(
    `sftp against ${name}${skipReason ? ` (skipped: ${skipReason})` : ""}`,
    () => {
      let sshd: SshdBackend | undefined;
      // One storage held open for the whole file keeps the host's connection pool warm, as a
      // long-lived program's would be; every case still gets its own storage on a fresh root.
      let keeper: Storage | undefined;
      beforeAll(async () => {
        sshd = await startSshd(serverOptions);
        keeper = (await freshStorage(sshd)).storage;
      });
      afterAll(async () => {
        await keeper?.close();
        await sshd?.stop();
      });

      describeStorage(
        name.includes("sftp-only") ? "sftp (sftp-only account)" : "sftp",
        async () => {
          const { storage, root } = await freshStorage(sshd!);
          return {
            storage,
            cleanup: async () => {
              await storage.close();
              await rm(root, { recursive: true, force: true });
            },
          };
        },
        { partSize: 8 * 1024 },
      );
    },
  );
}
