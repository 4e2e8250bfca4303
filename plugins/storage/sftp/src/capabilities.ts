/**
 * What a host can do beyond plain SFTP, found out once per pool, and the capabilities a storage
 * there declares from it — so that they are true for that host rather than hopeful.
 */
import { baseCapabilities, type Capabilities } from "@ferry/plugin-kit";
import type { HostPool } from "./client.ts";
import { DEFAULTS, hostTools, type SftpOptions } from "./options.ts";
import { runRaw, shellQuote } from "./ssh/shell.ts";

export interface HostFeatures {
  /** Commands run (a shell answers exec requests). */
  exec: boolean;
  md5sum: boolean;
  cp: boolean;
  rm: boolean;
  /** The `copy-data` SFTP extension (OpenSSH 9.0+): server-side copy without a shell. */
  copyData: boolean;
}

export function sftpCapabilities(features: HostFeatures): Capabilities {
  const checksum = features.exec && features.md5sum;
  return {
    ...baseCapabilities,
    conditionalWrite: true,
    rangeRead: true,
    copy: (features.exec && features.cp) || features.copyData ? "native" : "emulated",
    move: "native",
    mkdir: "native",
    emptyDirectories: true,
    directories: "real",
    hashes: checksum ? ["md5"] : [],
    checksum,
    exec: features.exec,
    presign: false,
    listOrder: "lexicographic",
    listRecursive: "walk",
    mtime: "native",
    mtimePrecisionMs: 1000,
    setMtime: true,
    cleanup: true,
    contentType: false,
    caseInsensitive: false,
    limits: { partSizeDefault: DEFAULTS.chunkSize, maxKeyBytes: 4096 },
  };
}

const PROBE_MARKER = "ferry-exec-probe";

/** Whether the host runs commands and has the tools ferry uses there; asked once per pool. */
export function probeFeatures(pool: HostPool, options: SftpOptions): Promise<HostFeatures> {
  const tools = hostTools(options);
  const key = `features ${options.exec === false ? "no-exec" : JSON.stringify(tools)}`;
  return pool.fact(key, () =>
    pool.run(async (connection) => {
      const features: HostFeatures = {
        exec: false,
        md5sum: false,
        cp: false,
        rm: false,
        copyData: connection.hasExtension("copy-data"),
      };
      if (options.exec === false) return features;
      const probe = Object.entries(tools)
        .map(([name, command]) => {
          const program = command.trim().split(/\s+/)[0] ?? command;
          return `command -v ${shellQuote(program)} >/dev/null 2>&1 && echo ${name}`;
        })
        .join("; ");
      try {
        const result = await runRaw(connection, `echo ${PROBE_MARKER}; ${probe}`);
        const lines = result.stdout.toString("utf8").split("\n");
        // An sftp-only account (ForceCommand internal-sftp) accepts the request but never echoes.
        if (lines[0] !== PROBE_MARKER) return features;
        return {
          ...features,
          exec: true,
          md5sum: lines.includes("md5sum"),
          cp: lines.includes("cp"),
          rm: lines.includes("rm"),
        };
      } catch (error) {
        if (connection.dead) throw error;
        return features;
      }
    }),
  );
}
