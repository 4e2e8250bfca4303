/**
 * @ferry/storage-sftp — remote machines over SSH ("clusters") as ferry storage.
 *
 *   import { sftp } from "@ferry/storage-sftp";
 *   ferry.use(sftp({ hostKeyCheck: "strict" }));
 *   await ferry.folder("sftp://me@gpu-box/~/data").list();
 */

import { createStorage } from "@ferry/core";
import {
  completeLocation,
  errors,
  type Location,
  registerSecret,
  type Storage,
  type StoragePlugin,
} from "@ferry/plugin-kit";
import { probeFeatures, sftpCapabilities } from "./capabilities.ts";
import { acquirePool } from "./client.ts";
import { SftpDriver } from "./driver.ts";
import { sftpGrammar } from "./location.ts";
import { checkOptions, type SftpOptions } from "./options.ts";
import { checkExplicitKey } from "./ssh/connect.ts";
import { describeTarget, resolveTarget } from "./ssh/target.ts";

export { type HostFeatures, sftpCapabilities } from "./capabilities.ts";
export { SftpDriver } from "./driver.ts";
export type { SftpOptions } from "./options.ts";
export { type HostKeyCheck, hostPattern } from "./ssh/known-hosts.ts";
export { shellQuote } from "./ssh/shell.ts";
export { findSshHost, type SshHostConfig, sshConfigPath, sshHostSettings } from "./ssh/ssh-config.ts";

export interface SftpRoot {
  /** Host name, address or ~/.ssh/config alias. */
  host: string;
  port?: number | undefined;
  user?: string | undefined;
  /** Directory on the host the storage is rooted at: absolute, or relative to the login's home (`~`, `~/data`, `data`). */
  root?: string | undefined;
}

/** Connect (sharing the host's pool), resolve the root directory, probe features, build the driver. */
export async function openSftpDriver(where: SftpRoot, options: SftpOptions = {}): Promise<SftpDriver> {
  checkOptions(options); // a malformed option fails here, not mid-transfer
  const target = resolveTarget({ host: where.host, port: where.port, user: where.user }, options);
  await checkExplicitKey(target, options);
  const pool = acquirePool(target, options);
  try {
    const requested = where.root ?? "/";
    const homeRelative = !requested.startsWith("/");
    const relative = requested.replace(/^~\/?/, "");
    let base = requested.replace(/\/+$/, "") || "/";
    if (homeRelative) {
      // SFTP paths without a leading slash are relative to the login directory; realpath('.') names it.
      const home = await pool.fact("home", () => pool.run((connection) => connection.calls.realpath(".")));
      base = relative === "" ? home : `${home.replace(/\/+$/, "")}/${relative.replace(/\/+$/, "")}`;
    }
    const features = await probeFeatures(pool, options);
    const displayRoot = homeRelative ? `/~${relative ? `/${relative}` : ""}` : base;
    return new SftpDriver({
      pool,
      base,
      root: `sftp://${describeTarget(target)}${displayRoot}`,
      features,
      options,
    });
  } catch (error) {
    await pool.release();
    throw error;
  }
}

/** A Storage on one host, rooted at a directory there. Close it to release the connections. */
export async function sftpStorage(options: SftpOptions & SftpRoot): Promise<Storage> {
  return createStorage(await openSftpDriver(options, options));
}

/**
 * The SFTP storage plugin (schemes `sftp`, `ssh`, and ~/.ssh/config host aliases). Every option is
 * optional: with none, keys come from ssh-agent and ~/.ssh, host keys from ~/.ssh/known_hosts.
 */
export function sftp(options: SftpOptions = {}): StoragePlugin {
  checkOptions(options);
  registerSecret(
    options.passphrase,
    typeof options.privateKey === "string" ? options.privateKey : options.privateKey?.toString("utf8"),
  );
  const grammar = sftpGrammar(options.sshConfigPath);
  return {
    name: "sftp",
    schemes: ["sftp", "ssh"],
    capabilities: sftpCapabilities({ exec: true, md5sum: true, cp: true, rm: true, copyData: true }),
    location: grammar,
    create(written: Location) {
      const location = completeLocation(written, grammar);
      const host = location.host ?? options.host;
      if (!host)
        throw errors.invalidInput(`an sftp location needs a host: ${location.url}`, { system: "sftp" });
      return openSftpDriver(
        { host, port: location.port, user: location.user, root: location.homeRelative ? "~" : "/" },
        options,
      );
    },
  };
}

export default sftp;
