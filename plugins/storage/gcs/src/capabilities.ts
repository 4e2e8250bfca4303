/** What GCS supports, as ferry declares it; `options.capabilities` may narrow it. */
import { baseCapabilities, type Capabilities } from "@ferry/plugin-kit";
import { CHUNK_QUANTUM, type GcsOptions, MiB, resolveOptions } from "./options.ts";

const TiB = 1024 * 1024 * MiB;

export function gcsCapabilities(options: GcsOptions = {}): Capabilities {
  const resolved = resolveOptions(options);
  const markers = resolved.directoryMarkers;
  const declared: Capabilities = {
    ...baseCapabilities,
    conditionalWrite: true,
    rangeRead: true,
    copy: "native",
    move: resolved.atomicMove ? "native" : "emulated",
    mkdir: markers ? "marker" : false,
    emptyDirectories: markers,
    directories: "virtual",
    hashes: ["md5", "crc32c"],
    checksum: true,
    presign: resolved.signedUrls,
    listOrder: "lexicographic",
    listRecursive: "native",
    mtime: "metadata",
    mtimePrecisionMs: 1,
    setMtime: true,
    contentType: true,
    caseInsensitive: false,
    limits: {
      listPageMax: 1000,
      deleteBatchMax: 100,
      partSizeMin: CHUNK_QUANTUM,
      partSizeDefault: resolved.chunkSize,
      maxObjectSize: 5 * TiB,
      maxKeyBytes: 1024,
    },
  };
  const { limits, ...overrides } = options.capabilities ?? {};
  return { ...declared, ...overrides, limits: { ...declared.limits, ...limits } };
}
