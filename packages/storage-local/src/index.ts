/**
 * @ferry/storage-local — the local disk driver, ferry's embedded default storage (installed with
 * `@ferry/core`, which serves `file://` URLs and plain paths with it), plus the pieces of it the
 * Catalog reuses: error mapping for file-system calls, directory creation and the staging of many
 * files placed at once.
 */
export { BATCH_COPY_MAX_BYTES, type BatchCopyItem, copyBatch, SmallFileCopier } from "./batch-copy.ts";
export { LocalDriver, type LocalDriverOptions, localCapabilities } from "./driver.ts";
export { type FsIntent, fsErrorCode, isDestinationError, mapFsError, withFsErrors } from "./errors.ts";
export { makeDirectories, makeDirectoriesSync } from "./make-directories.ts";
export { StagedTree } from "./staged-tree.ts";
