/**
 * One run: its id, its run log, and the steps executed in it. The run log is created (status
 * RUNNING) before the first step, rewritten after each step and finalised last, so a run that dies
 * part-way never claims SUCCESS.
 */
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { errors, wording } from "@ferry/plugin-kit";
import type { LocationLike } from "../location.ts";
import type { PluginRegistry } from "../plugins.ts";
import { VERSION } from "../version.ts";
import { capturePuts, fetchGets, type StageContext } from "./capture.ts";
import type { Catalog } from "./catalog.ts";
import { ExecutionLog } from "./execution-log.ts";
import { encodeRecord } from "./json-value.ts";
import { checkRunId, firstFreeRunId, generateRunId } from "./run-id.ts";
import type { RunLog, StepKind, StepRecord } from "./run-log.ts";
import { CatalogStore, runLogName, summaryName } from "./store.ts";

export interface ExecuteOptions {
  /** Run id to use; default FERRY_RUN_ID from the environment, else a generated `{adjective}-{scientist}-{HHMM}`. */
  runId?: string | undefined;
  /** Run again under an existing run id (its run log gets another attempt). Without it an existing id is AlreadyExists. */
  retry?: boolean | undefined;
  /** Working directory the patterns are relative to (default: process.cwd()). */
  cwd?: string | undefined;
  /** Parameters for the run, over the jobs' own. */
  parameters?: Record<string, unknown> | undefined;
  /** Do not print summaries (they are still saved in the run folder). */
  quiet?: boolean | undefined;
  /** Resolves the catalog location (default: the `ferry` registry). */
  plugins?: PluginRegistry | undefined;
  signal?: AbortSignal | undefined;
  /** Environment to read FERRY_RUN_ID from (default: process.env). */
  env?: Readonly<Record<string, string | undefined>> | undefined;
}

/** What a job gets when it runs. */
export interface JobContext {
  runId: string;
  cwd: string;
  parameters: Record<string, unknown>;
  signal?: AbortSignal | undefined;
}

export interface JobOutcome {
  /** Any values: the run log keeps what JSON can hold and notes the rest (see json-value.ts). */
  outputParameters?: Record<string, unknown> | undefined;
  exitCode?: number | undefined;
}

/** The part of a job a run needs: what it is, its catalog, and how to run it. */
export interface RunnableStep {
  readonly name: string;
  readonly kind: StepKind;
  readonly command?: string | undefined;
  readonly catalog: Catalog | undefined;
  readonly parameters: Record<string, unknown>;
  run(context: JobContext, log: ExecutionLog): Promise<JobOutcome>;
}

/** Never captured, whatever the patterns say: the catalog, runnable-style run logs, the registry. */
const ALWAYS_EXCLUDED = [".catalog", ".run_log_store", ".ferry"];

const exec = promisify(execFile);

async function codeIdentities(cwd: string): Promise<string[]> {
  try {
    // One process for both: the commit (the `# branch.oid` header) and whether tracked files changed
    // (any other line). Untracked files (the catalog itself) do not make the commit undependable.
    const { stdout } = await exec("git", ["status", "--porcelain=v2", "--branch", "--untracked-files=no"], {
      cwd,
    });
    const lines = stdout.split("\n").filter((line) => line !== "");
    const sha = lines.find((line) => line.startsWith("# branch.oid "))?.slice("# branch.oid ".length);
    if (sha === undefined || !/^[0-9a-f]{40,64}$/.test(sha)) return [];
    const changed = lines.some((line) => !line.startsWith("# "));
    return [`git:${sha}${changed ? " but is not dependable" : ""}`];
  } catch {
    return [];
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class Run {
  readonly store: CatalogStore;
  readonly cwd: string;
  readonly log: RunLog;
  readonly #options: ExecuteOptions;
  readonly #exclude: string[];
  readonly #started: number;
  readonly #identities: Promise<string[]>;

  private constructor(
    store: CatalogStore,
    cwd: string,
    log: RunLog,
    options: ExecuteOptions,
    identities: Promise<string[]>,
  ) {
    this.store = store;
    this.#identities = identities;
    this.cwd = cwd;
    this.log = log;
    this.#options = options;
    this.#started = Date.now();
    const catalogDir = store.localDirectoryIn(cwd);
    this.#exclude = [...new Set([...(catalogDir ? [catalogDir] : []), ...ALWAYS_EXCLUDED])];
  }

  get runId(): string {
    return this.log.runId;
  }

  /** Open the catalog, settle the run id and write the run log with status RUNNING. */
  static async start(location: LocationLike | undefined, options: ExecuteOptions = {}): Promise<Run> {
    const cwd = resolve(options.cwd ?? process.cwd());
    const store = await CatalogStore.open(location, cwd, options.plugins);
    const env = options.env ?? process.env;
    const requested = options.runId ?? (env.FERRY_RUN_ID || undefined);
    const parameters = encodeRecord({ ...options.parameters }, "parameter").value;
    // Asking git takes a few milliseconds: done while the run proceeds, recorded when it finishes.
    const identities = codeIdentities(cwd);
    const fresh = (runId: string): RunLog => ({
      runId,
      status: "RUNNING",
      start: new Date().toISOString(),
      parameters,
      finalParameters: { ...parameters },
      catalogLocation: store.url,
      attempts: 1,
      codeIdentities: [],
      ferryVersion: VERSION,
      steps: [],
    });

    if (requested !== undefined) {
      const runId = checkRunId(requested);
      if (await store.runExists(runId)) {
        if (options.retry !== true) {
          throw errors.alreadyExists(
            `run ${runId} already exists in ${store.display("")}; ${wording({ library: "pass retry: true", cli: "add --retry" })} to run it again under the same id`,
            {
              path: store.display(runId),
            },
          );
        }
        const previous = await store.readRunLog(runId);
        const log: RunLog = {
          ...previous,
          status: "RUNNING",
          attempts: previous.attempts + 1,
        };
        delete log.end;
        delete log.durationMs;
        delete log.error;
        await store.writeRunLog(log);
        return new Run(store, cwd, log, options, identities);
      }
      const log = fresh(runId);
      if (!(await store.createRunLog(log))) {
        throw errors.alreadyExists(
          `run ${runId} was started by someone else just now in ${store.display("")}; pass retry: true (--retry) to run it again under the same id`,
          { path: store.display(runId) },
        );
      }
      return new Run(store, cwd, log, options, identities);
    }

    for (;;) {
      const runId = await firstFreeRunId(generateRunId(), (candidate) => store.runExists(candidate));
      const log = fresh(runId);
      // Another process took the same id between the check and the create: pick again.
      if (await store.createRunLog(log)) return new Run(store, cwd, log, options, identities);
    }
  }

  /** The step of an earlier attempt of this run that succeeded, if any (retries skip those). */
  succeededBefore(name: string): StepRecord | undefined {
    return this.log.steps.findLast((step) => step.name === name && step.status === "SUCCESS");
  }

  #stageContext(): StageContext {
    return {
      store: this.store,
      runId: this.runId,
      cwd: this.cwd,
      exclude: this.#exclude,
      signal: this.#options.signal,
      runLog: async (runId) => (runId === this.runId ? this.log : this.store.readRunLog(runId)),
    };
  }

  /**
   * Execute one step: get, run (stdout/stderr to its execution log), put, store the log, update the
   * run log. Never throws: whatever goes wrong ends the step FAIL, so the run can still be finished.
   */
  async step(
    job: RunnableStep,
    parameters: Record<string, unknown>,
    options: { finishesRun?: boolean } = {},
  ): Promise<StepRecord> {
    const given = encodeRecord(parameters, "parameter");
    const record: StepRecord = {
      name: job.name,
      kind: job.kind,
      ...(job.command === undefined ? {} : { command: job.command }),
      attempt: this.log.attempts,
      status: "RUNNING",
      start: new Date().toISOString(),
      parameters: given.value,
      outputParameters: {},
      catalog: [],
    };
    const notes = [...given.notes];
    this.log.steps.push(record);
    let failure: unknown;
    let executionLog: ExecutionLog | undefined;
    try {
      await this.store.writeRunLog(this.log);
      executionLog = await ExecutionLog.create(job.name);
      executionLog.write(
        `Parameters available for the execution:\n${JSON.stringify(given.value, null, 2)}\n`,
      );
      failure = await this.#runStep(job, parameters, record, executionLog, notes);
    } catch (error) {
      failure ??= error;
    }
    if (notes.length > 0) {
      record.notes = notes;
      executionLog?.write(notes.map((note) => `Note: ${note}\n`).join(""));
    }
    if (failure !== undefined)
      executionLog?.write(
        `\n${failure instanceof Error && failure.stack ? failure.stack : message(failure)}\n`,
      );
    if (executionLog) {
      try {
        await executionLog.close();
        await this.store.uploadFile(this.runId, executionLog.name, executionLog.path);
        record.executionLog = executionLog.name;
      } catch (error) {
        failure ??= error;
      } finally {
        await executionLog.dispose();
      }
    }
    record.status = failure === undefined ? "SUCCESS" : "FAIL";
    if (failure !== undefined) record.error = message(failure);
    record.end = new Date().toISOString();
    record.durationMs = Date.parse(record.end) - Date.parse(record.start);
    // The last step of a run is written once, by finish(), right after this.
    if (!options.finishesRun) {
      try {
        await this.store.writeRunLog(this.log);
      } catch (error) {
        // The run goes on to finish(), which writes the log again (or says it could not).
        record.status = "FAIL";
        record.error ??= `the run log could not be written: ${message(error)}`;
      }
    }
    return record;
  }

  /** get, the job, put; returns what failed first (undefined when all went well). */
  async #runStep(
    job: RunnableStep,
    parameters: Record<string, unknown>,
    record: StepRecord,
    executionLog: ExecutionLog,
    notes: string[],
  ): Promise<unknown> {
    const context = this.#stageContext();
    let failure: unknown;
    if (job.catalog && job.catalog.get.length > 0) {
      const got = await fetchGets(job.catalog, context);
      record.catalog.push(...got.records);
      failure = got.error;
    }
    if (failure !== undefined) return failure;
    try {
      const outcome = await job.run(
        { runId: this.runId, cwd: this.cwd, parameters, signal: this.#options.signal },
        executionLog,
      );
      const outputs = outcome.outputParameters ?? {};
      const encoded = encodeRecord(outputs, "output parameter", "the returned object");
      record.outputParameters = encoded.value;
      notes.push(...encoded.notes);
      if (outcome.exitCode !== undefined) record.exitCode = outcome.exitCode;
    } catch (error) {
      failure = error;
      const exitCode = (error as { exitCode?: unknown }).exitCode;
      if (typeof exitCode === "number") record.exitCode = exitCode;
    }
    if (job.catalog && job.catalog.put.length > 0) {
      const put = await capturePuts(job.catalog, context, failure === undefined);
      record.catalog.push(...put.records);
      notes.push(...(put.notes ?? []));
      failure ??= put.error;
      if (put.error && failure !== put.error)
        executionLog.write(`Capture also failed: ${put.error.message}\n`);
    }
    return failure;
  }

  /**
   * Settle the status (SUCCESS only when every step of this attempt succeeded), save and print the
   * summary. If the run log cannot be written, a smaller one (status FAIL, the reason, the steps
   * without their parameters) is tried, so the run does not stay RUNNING; if that fails too, this
   * throws, saying the run log still says RUNNING.
   */
  async finish(
    finalParameters: Record<string, unknown>,
    summarize: (log: RunLog) => Record<string, unknown>,
    title: string,
  ): Promise<Record<string, unknown>> {
    const attempt = this.log.steps.filter((step) => step.attempt === this.log.attempts);
    const failed = attempt.find((step) => step.status !== "SUCCESS");
    this.log.status = failed ? "FAIL" : "SUCCESS";
    if (failed?.error !== undefined) this.log.error = `${failed.name}: ${failed.error}`;
    this.log.finalParameters = encodeRecord(finalParameters, "parameter").value;
    this.log.codeIdentities = await this.#identities;
    this.log.end = new Date().toISOString();
    this.log.durationMs = Date.now() - this.#started;
    try {
      await this.store.writeRunLog(this.log);
    } catch (error) {
      await this.#writeFallbackLog(error);
    }
    const summary = summarize(this.log);
    await this.store.writeJson(this.runId, summaryName(this.runId), summary);
    if (!this.#options.quiet) process.stdout.write(`${title}\n${JSON.stringify(summary, null, 2)}\n`);
    return summary;
  }

  async #writeFallbackLog(cause: unknown): Promise<void> {
    const reason = `the run log could not be written: ${message(cause)}`;
    const ended = this.log.status;
    this.log.status = "FAIL";
    this.log.error = this.log.error ? `${this.log.error}; ${reason}` : reason;
    const smaller: RunLog = {
      ...this.log,
      parameters: {},
      finalParameters: {},
      steps: this.log.steps.map((step) => ({ ...step, parameters: {}, outputParameters: {} })),
    };
    try {
      await this.store.writeRunLog(smaller);
    } catch (error) {
      throw errors.unexpected(
        `run ${this.runId} ended ${ended}, but its run log ${this.store.display(this.runId, runLogName(this.runId))} could not be written and still says RUNNING: ${message(error)}`,
        { cause: error, path: this.store.display(this.runId, runLogName(this.runId)) },
      );
    }
  }
}
