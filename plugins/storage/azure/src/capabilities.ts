/** What Azure Blob Storage declares: the capabilities and limits of the service, narrowed by `options.capabilities`. */
import { baseCapabilities, type Capabilities } from "@ferry/plugin-kit";
import { type AzureOptions, MiB, resolveOptions } from "./options.ts";

/** Blob Batch allows 256 sub-requests per batch. */
export const DELETE_BATCH_MAX = 256;
/** The most blobs List Blobs returns in one page. */
export const LIST_PAGE_MAX = 5000;

/** What the service supports; `presign` only with an account key. `options.capabilities` may narrow it. */
export function declaredCapabilities(options: AzureOptions, presign: boolean): Capabilities {
  const markers = options.directoryMarkers ?? false;
  const declared: Capabilities = {
    ...baseCapabilities,
    conditionalWrite: true,
    rangeRead: true,
    copy: "native",
    move: "emulated",
    mkdir: markers ? "marker" : false,
    emptyDirectories: markers,
    directories: "virtual",
    hashes: ["md5"],
    checksum: true,
    presign,
    listOrder: "lexicographic",
    listRecursive: "native",
    // Last-Modified is the upload time, to the second; a caller's mtime is not kept.
    mtime: "none",
    mtimePrecisionMs: 1000,
    setMtime: false,
    contentType: true,
    caseInsensitive: false,
    cleanup: true,
    limits: {
      listPageMax: LIST_PAGE_MAX,
      deleteBatchMax: DELETE_BATCH_MAX,
      partSizeMin: 1,
      partSizeMax: 4000 * MiB,
      partSizeDefault: resolveOptions(options).blockSize,
      maxParts: 50_000,
      maxKeyBytes: 1024,
    },
  };
  const { limits, ...overrides } = options.capabilities ?? {};
  return { ...declared, ...overrides, limits: { ...declared.limits, ...limits } };
}
