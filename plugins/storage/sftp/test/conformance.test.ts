import { rm } from "node:fs/promises";
import { describeStorage } from "@ferry/conformance";
import type { Storage } from "@ferry/core";
import { afterAll, beforeAll, describe } from "vitest";
import { freshStorage, skipReason, useSshd } from "./helpers.ts";

describe.skipIf(skipReason !== undefined)(
  `sftp against OpenSSH sshd${skipReason ? ` (skipped: ${skipReason})` : ""}`,
  () => {
    const sshd = useSshd();
    // One storage held open for the whole file keeps the host's connection pool warm, as a long-lived
    // program's would be; every case still gets its own storage on a fresh root directory.
    let keeper: Storage | undefined;
    beforeAll(async () => {
      keeper = (await freshStorage(sshd())).storage;
    });
    afterAll(async () => {
      await keeper?.close();
    });

    describeStorage(
      "sftp",
      async () => {
        const { storage, root } = await freshStorage(sshd());
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
