/**
 * The run log (`<catalog>/<run-id>/<run-id>.json`) and the summaries derived from it. The run log is
 * written with status RUNNING before anything runs and rewritten after every step, so a run that
 * crashes part-way stays RUNNING (or FAIL) and never claims SUCCESS.
 */

export type RunStatus = "RUNNING" | "SUCCESS" | "FAIL";
export type StepKind = "function" | "shell";

export interface CatalogRecord {
  /** Path relative to the working directory (put) or to the run folder it came from (get). */
  name: string;
  stage: "get" | "put";
  md5: string;
  size: number;
  /** true: a copy is in the catalog at `catalogPath`; false: only MD5 and size were recorded. */
  stored: boolean;
  /** Key of the stored copy relative to the catalog root (`<run-id>/<name>`), when stored. */
  catalogPath?: string | undefined;
  /** get: where the file came from (`runs:<run-id>/<name>`). */
  source?: string | undefined;
  startedAt: string;
  durationMs: number;
}

export interface StepRecord {
  name: string;
  kind: StepKind;
  command?: string | undefined;
  attempt: number;
  status: RunStatus;
  start: string;
  end?: string | undefined;
  durationMs?: number | undefined;
  exitCode?: number | undefined;
  error?: string | undefined;
  /** File name of the execution log in the run folder. */
  executionLog?: string | undefined;
  parameters: Record<string, unknown>;
  outputParameters: Record<string, unknown>;
  /**
   * What the step's record could not keep as it was, one line each: a value JSON cannot hold
   * ("[Circular]"), symbolic links a put skipped. Absent when there is nothing to say.
   */
  notes?: string[] | undefined;
  catalog: CatalogRecord[];
}

export interface RunLog {
  runId: string;
  status: RunStatus;
  start: string;
  end?: string | undefined;
  durationMs?: number | undefined;
  /** Parameters the run started with. */
  parameters: Record<string, unknown>;
  /** Parameters after the last step (started with, plus every step's outputs). */
  finalParameters: Record<string, unknown>;
  /** The catalog root, as a URL. */
  catalogLocation: string;
  attempts: number;
  codeIdentities: string[];
  error?: string | undefined;
  ferryVersion: string;
  steps: StepRecord[];
}

/**
 * An object pretty-printed at `indent` (as a member of an array indented by `indent`), with extra
 * members (already formatted, one level deeper) after its own.
 */
function objectText(value: object, indent: string, extra: string[]): string {
  const own = JSON.stringify(value, null, 2).replaceAll("\n", `\n${indent}`);
  if (extra.length === 0) return `${indent}${own}`;
  const open = own === "{}" ? "{" : `${own.slice(0, -(indent.length + 2))},`;
  return `${indent}${open}\n${extra.join(",\n")}\n${indent}}`;
}

/** `"name": [ … ]` of already formatted items, the member itself at `indent`. */
function arrayMember(name: string, items: string[], indent: string): string {
  if (items.length === 0) return `${indent}${JSON.stringify(name)}: []`;
  return `${indent}${JSON.stringify(name)}: [\n${items.join(",\n")}\n${indent}]`;
}

/**
 * The run log as text: JSON indented by two spaces, except that each catalog record is one line.
 * For a capture of 10,000 files that is 2.2 MB instead of 3.3 MB, produced and written in about half
 * the time, and a record still reads, greps and diffs as one line. `steps` comes last in the run and
 * `catalog` last in each step.
 */
export function formatRunLog(log: RunLog): string {
  const { steps, ...run } = log;
  const stepTexts = steps.map(({ catalog, ...step }) =>
    objectText(step, "    ", [
      arrayMember(
        "catalog",
        catalog.map((record) => `        ${JSON.stringify(record)}`),
        "      ",
      ),
    ]),
  );
  return `${objectText(run, "", [arrayMember("steps", stepTexts, "  ")])}\n`;
}

/** runnable's rule: the value itself, or a string's first 10 characters and "...". */
export function describeParameter(value: unknown): string {
  const text = typeof value === "string" ? value : (JSON.stringify(value) ?? String(value));
  return typeof value === "string" && text.length > 10 ? `${text.slice(0, 10)}...` : text;
}

function parameterList(parameters: Record<string, unknown>): [string, string][] {
  return Object.entries(parameters).map(([name, value]) => [name, describeParameter(value)]);
}

/** Names in stage order, each once (a file put twice is listed once, as runnable's run log does). */
function names(steps: readonly StepRecord[], stage: "get" | "put"): string[] {
  return [
    ...new Set(
      steps.flatMap((step) =>
        step.catalog.filter((record) => record.stage === stage).map((record) => record.name),
      ),
    ),
  ];
}

/** A job's summary, in runnable's JobLog shape plus the run id, the catalog and any error. */
export function jobSummary(log: RunLog, step: StepRecord): Record<string, unknown> {
  return {
    "Unique execution id": log.runId,
    "Available parameters": parameterList(step.parameters),
    "Input catalog content": names([step], "get"),
    "Output catalog content": names([step], "put"),
    "Output parameters": parameterList(step.outputParameters),
    Metrics: [],
    "Code identities": log.codeIdentities,
    "Catalog Location": `${log.catalogLocation.replace(/\/$/, "")}/${log.runId}`,
    status: step.status === "SUCCESS" ? "SUCCESS" : "FAIL",
    ...(step.error === undefined ? {} : { Error: step.error }),
  };
}

/** A pipeline step's summary, in runnable's StepLog shape. */
export function stepSummary(log: RunLog, step: StepRecord): Record<string, unknown> {
  return {
    Name: step.name,
    "Input catalog content": names([step], "get"),
    "Available parameters": parameterList(step.parameters),
    "Output catalog content": names([step], "put"),
    "Output parameters": parameterList(step.outputParameters),
    Metrics: [],
    "Code identities": log.codeIdentities,
    status: step.status === "SUCCESS" ? "SUCCESS" : "FAIL",
    ...(step.error === undefined ? {} : { Error: step.error }),
  };
}

/** A pipeline's summary, in runnable's RunLog shape plus every step's catalog content. */
export function runSummary(log: RunLog): Record<string, unknown> {
  return {
    "Unique execution id": log.runId,
    status: log.status === "SUCCESS" ? "SUCCESS" : "FAIL",
    "Catalog Location": `${log.catalogLocation.replace(/\/$/, "")}/${log.runId}`,
    "Full Run log present at: ": `${log.catalogLocation.replace(/\/$/, "")}/${log.runId}/${log.runId}.json`,
    "Final Parameters": parameterList(log.finalParameters),
    "Collected metrics": {},
    "Input catalog content": names(log.steps, "get"),
    "Output catalog content": names(log.steps, "put"),
    Steps: log.steps.map((step) => stepSummary(log, step)),
    ...(log.error === undefined ? {} : { Error: log.error }),
  };
}
