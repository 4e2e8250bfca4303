/** What S3 declares: the capabilities and limits of the service, narrowed by `options.capabilities`. */
import { baseCapabilities, type Capabilities } from "@ferry/plugin-kit";
import { GiB, MiB, resolveOptions, type S3Options } from "./options.ts";

/** What S3 itself supports; `options.capabilities` may narrow it for a compatible server. */
export function s3Capabilities(options: S3Options = {}): Capabilities {
  const markers = options.directoryMarkers ?? false;
  const resolved = resolveOptions(options);
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
    presign: true,
    listOrder: "lexicographic",
    listRecursive: "native",
    // LastModified is the upload time, to the second; a caller's mtime is not kept.
    mtime: "none",
    mtimePrecisionMs: 1000,
    setMtime: false,
    contentType: true,
    caseInsensitive: false,
    cleanup: true,
    limits: {
      listPageMax: 1000,
      deleteBatchMax: 1000,
      partSizeMin: 5 * MiB,
      partSizeMax: 5 * GiB,
      partSizeDefault: resolved.partSize,
      maxParts: 10_000,
      maxObjectSize: 5 * 1024 * GiB,
      maxKeyBytes: 1024,
    },
  };
  const { limits, ...overrides } = options.capabilities ?? {};
  return { ...declared, ...overrides, limits: { ...declared.limits, ...limits } };
}
