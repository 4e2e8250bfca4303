/**
 * @ferry/core — the user API: Folder, Blob and Table, the registry that saves and loads them by name,
 * the Catalog, copy/sync, locations and the plugin registry (`ferry`). The contract types a user meets
 * (Entry, Storage, Schema, FerryError, …) are re-exported here from @ferry/plugin-kit, which is where
 * plugin authors import the contract and its helpers from.
 */

export type {
  ColumnData,
  Filter,
  FilterComparison,
  FilterValue,
  Group,
  PartFile,
  PlainData,
  RowData,
  ShuffleOptions,
  StreamOptions,
  WriteMode,
  WriteResult,
  WriteTableOptions,
} from "@ferry/parquet";
export type {
  BatchSource,
  ByteRange,
  Capabilities,
  CleanupOptions,
  CleanupResult,
  ColumnBatch,
  CopyOptions,
  DataType,
  Duration,
  Entry,
  ErrorCode,
  ExecOptions,
  ExecResult,
  FerryErrorOptions,
  Field,
  HashAlgorithm,
  Leftover,
  ListOptions,
  ParquetEncodeOptions,
  PresignOptions,
  RangedWriteOptions,
  RangeFetcher,
  ReadOptions,
  Schema,
  SignalOptions,
  Storage,
  StorageDriver,
  StorageLimits,
  TableFlavour,
  TimeUnit,
  WriteOptions,
  WriteSource,
} from "@ferry/plugin-kit";
export {
  defaultRoot,
  ERROR_CODES,
  errors,
  FerryError,
  redactSecrets,
  registerSecret,
  setIdleTimeout,
  t,
  useCliWording,
  wording,
} from "@ferry/plugin-kit";
export * from "./blob.ts";
export * from "./catalog/index.ts";
export * from "./default.ts";
export * from "./folder.ts";
export * from "./local/index.ts";
export * from "./location.ts";
export * from "./managed.ts";
export * from "./plugins.ts";
export * from "./registry/index.ts";
export * from "./resource.ts";
export { guardRm, type RmOptions } from "./resource-spec.ts";
export * from "./resource-target.ts";
export * from "./table.ts";
export * from "./transfer/index.ts";
export { VERSION } from "./version.ts";
