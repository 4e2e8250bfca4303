export { copy, sync } from "./engine.ts";
export { throwOnFailures } from "./failures.ts";
export { createFilter, type PathFilter } from "./filters.ts";
export type {
  ActionKind,
  PlannedAction,
  Route,
  TransferEndpoint,
  TransferFileEvent,
  TransferOptions,
  TransferProgress,
  TransferSummary,
} from "./types.ts";
