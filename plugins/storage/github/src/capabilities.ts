/** What a GitHub storage declares: every storage the same, except that one at a commit sha is read-only. */
import { baseCapabilities, type Capabilities } from "@ferry/plugin-kit";

/** The largest blob the GitHub API serves and takes. */
const MAX_BLOB_BYTES = 100 * 1024 * 1024;

/** What every GitHub storage declares; a storage at a commit sha narrows `write` to false. */
export const GITHUB_CAPABILITIES: Capabilities = {
  ...baseCapabilities,
  write: true,
  // Checked against the pinned base commit, and the fast-forward-only ref update makes it atomic.
  conditionalWrite: true,
  // Blobs come whole from GitHub; ranges are cut client-side while streaming.
  rangeRead: false,
  copy: "native",
  move: "native",
  mkdir: false,
  emptyDirectories: false,
  directories: "virtual",
  hashes: ["git-sha1"],
  checksum: true,
  exec: false,
  presign: false,
  listOrder: "lexicographic",
  listRecursive: "native",
  mtime: "none",
  setMtime: false,
  contentType: false,
  caseInsensitive: false,
  limits: { maxObjectSize: MAX_BLOB_BYTES, deleteBatchMax: 10_000 },
};

export function isCommitSha(ref: string | undefined): boolean {
  return ref !== undefined && /^[0-9a-f]{40}$/i.test(ref);
}

/** The capabilities of a storage at `ref` (undefined = the default branch). */
export function capabilitiesAt(ref: string | undefined): Capabilities {
  return isCommitSha(ref) ? { ...GITHUB_CAPABILITIES, write: false } : GITHUB_CAPABILITIES;
}
