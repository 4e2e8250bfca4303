import type { Storage } from "@ferry/plugin-kit";
import { type SshdBackend, sshdSkipReason, startSshd } from "@ferry/test-harness";
import { afterAll, afterEach, beforeAll } from "vitest";
import { type SftpOptions, sftpStorage } from "../src/index.ts";

/** Why these tests cannot run here (OpenSSH missing outside CI), or undefined. */
export const skipReason = sshdSkipReason();

/** One sshd for the file, stopped afterwards. */
export function useSshd(): () => SshdBackend {
  let sshd: SshdBackend | undefined;
  beforeAll(async () => {
    if (!skipReason) sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd?.stop();
  });
  return () => {
    if (!sshd) throw new Error("sshd is not running");
    return sshd;
  };
}

/** Options that reach the harness's sshd with its user key, checking its host key strictly. */
export function baseOptions(sshd: SshdBackend): SftpOptions & { host: string; port: number; user: string } {
  return {
    host: sshd.host,
    port: sshd.port,
    user: sshd.user,
    privateKeyPath: sshd.privateKeyPath,
    knownHosts: sshd.knownHostsPath,
    agent: false,
  };
}

/** A storage rooted at a fresh directory on the host. */
export async function freshStorage(
  sshd: SshdBackend,
  options: SftpOptions = {},
): Promise<{ storage: Storage; root: string }> {
  const root = sshd.makeRoot();
  const storage = await sftpStorage({ ...baseOptions(sshd), root, ...options });
  return { storage, root };
}

/** `storageOn(options)`: a storage on a fresh root, closed after each test. */
export function useStorages(sshd: () => SshdBackend, afterClose?: () => Promise<void>) {
  const open: Storage[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((storage) => storage.close()));
    await afterClose?.();
  });
  return async (options: SftpOptions = {}) => {
    const made = await freshStorage(sshd(), options);
    open.push(made.storage);
    return made;
  };
}
