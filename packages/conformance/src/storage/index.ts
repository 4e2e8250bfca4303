export {
  describeTransferFaults,
  FAULT_PART,
  type FaultInjector,
  type FaultTarget,
  markedBytes,
} from "./faults.ts";
export {
  bytes,
  type DriverOverrides,
  expectFerryError,
  listEntries,
  listPaths,
  md5Hex,
  overrideDriver,
  readText,
  streamed,
} from "./helpers.ts";
export { REQUIREMENTS } from "./requirements.ts";
export { describeStorage, STORAGE_CASE_NAMES } from "./suite.ts";
export type * from "./types.ts";
