export { Catalog, type CatalogOptions, type GetPattern } from "./catalog.ts";
export { executionLogName } from "./execution-log.ts";
export {
  CommandFailedError,
  FunctionJob,
  type FunctionJobOptions,
  type JobOptions,
  ShellJob,
  type ShellJobOptions,
} from "./jobs.ts";
export { Pipeline, type PipelineOptions } from "./pipeline.ts";
export type { ExecuteOptions, JobContext, JobOutcome, RunnableStep } from "./run.ts";
export { generateRunId } from "./run-id.ts";
export type { CatalogRecord, RunLog, RunStatus, StepKind, StepRecord } from "./run-log.ts";
export {
  type CatalogAccessOptions,
  type GcOptions,
  gcRuns,
  getFromRun,
  listRuns,
  type RunInfo,
  readRun,
  type VerifyProblem,
  type VerifyReport,
  verifyRun,
} from "./runs.ts";
export { CatalogStore, DEFAULT_CATALOG } from "./store.ts";
