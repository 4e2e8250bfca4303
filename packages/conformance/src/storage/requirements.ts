import type { Capabilities } from "@ferry/plugin-kit";
import type { Requirement } from "./types.ts";

/** Each requirement: whether the capabilities meet it, and the reason printed when they do not. */
export const REQUIREMENTS: Record<Requirement, { met: (c: Capabilities) => boolean; reason: string }> = {
  write: { met: (c) => c.write, reason: "the storage is read-only (write: false)" },
  conditionalWrite: { met: (c) => c.write && c.conditionalWrite, reason: "conditionalWrite is not declared" },
  copy: { met: (c) => c.copy !== false, reason: "copy is not declared" },
  move: { met: (c) => c.move !== false, reason: "move is not declared" },
  mkdir: { met: (c) => c.mkdir !== false, reason: "mkdir is not declared" },
  emptyDirectories: {
    met: (c) => c.emptyDirectories && c.mkdir !== false,
    reason: "empty directories are not declared",
  },
  realDirectories: { met: (c) => c.directories === "real", reason: "directories are virtual" },
  virtualDirectories: { met: (c) => c.directories === "virtual", reason: "directories are real" },
  checksum: { met: (c) => c.checksum && c.hashes.length > 0, reason: "checksum is not declared" },
  contentType: { met: (c) => c.contentType, reason: "content types are not declared" },
  mtime: { met: (c) => c.mtime !== "none", reason: "the storage keeps no mtime" },
  setMtime: { met: (c) => c.setMtime, reason: "setMtime is not declared" },
  md5: { met: (c) => c.hashes.includes("md5"), reason: "md5 is not among the declared hashes" },
  caseSensitive: { met: (c) => !c.caseInsensitive, reason: "the storage is case-insensitive" },
  caseInsensitive: { met: (c) => c.caseInsensitive, reason: "the storage is case-sensitive" },
};

/** Undefined when every requirement is met, else the reason for the first that is not. */
export function unmetReason(
  requirements: readonly Requirement[],
  capabilities: Capabilities,
): string | undefined {
  for (const requirement of requirements) {
    const { met, reason } = REQUIREMENTS[requirement];
    if (!met(capabilities)) return reason;
  }
  return undefined;
}
