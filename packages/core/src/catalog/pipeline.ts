/**
 * A Pipeline runs steps one after another as one run: every step's put lands in the same run
 * folder, so a later step's get brings back what an earlier one put. Each step also gets the output
 * parameters of the steps before it. The first failing step ends the run (status FAIL).
 * With `retry: true` on an existing run id, steps that already succeeded in it are skipped.
 */
import { errors } from "@ferry/plugin-kit";
import { parseLocation } from "../location.ts";
import { type ExecuteOptions, Run, type RunnableStep } from "./run.ts";
import { runSummary, stepSummary } from "./run-log.ts";
import { DEFAULT_CATALOG } from "./store.ts";

export interface PipelineOptions {
  steps: readonly RunnableStep[];
}

export class Pipeline {
  readonly steps: readonly RunnableStep[];

  constructor(options: PipelineOptions) {
    if (!Array.isArray(options?.steps) || options.steps.length === 0)
      throw errors.invalidInput("a Pipeline needs steps: a non-empty list of jobs");
    const seen = new Set<string>();
    for (const step of options.steps) {
      if (typeof step?.run !== "function")
        throw errors.invalidInput("pipeline steps must be FunctionJob or ShellJob instances");
      if (seen.has(step.name))
        throw errors.invalidInput(
          `two pipeline steps are named ${JSON.stringify(step.name)}; give each job a distinct name`,
        );
      seen.add(step.name);
    }
    this.steps = [...options.steps];
  }

  /** The one catalog location every step shares (InvalidInput if steps name different ones). */
  #location(cwd: string) {
    const named = this.steps
      .map((step) => step.catalog?.location)
      .filter((location) => location !== undefined);
    const urls = new Set(named.map((location) => parseLocation(location, { cwd }).url));
    if (urls.size > 1)
      throw errors.invalidInput(
        `the steps of a pipeline share one catalog; they name ${[...urls].join(" and ")}`,
      );
    return named[0] ?? DEFAULT_CATALOG;
  }

  async execute(options: ExecuteOptions = {}): Promise<Record<string, unknown>> {
    const run = await Run.start(this.#location(options.cwd ?? process.cwd()), options);
    let parameters: Record<string, unknown> = { ...options.parameters };
    for (const step of this.steps) {
      const earlier = run.succeededBefore(step.name);
      if (earlier) {
        parameters = { ...parameters, ...earlier.outputParameters };
        continue;
      }
      const record = await run.step(step, { ...step.parameters, ...parameters });
      if (!options.quiet)
        process.stdout.write(
          `Summary of step ${step.name}\n${JSON.stringify(stepSummary(run.log, record), null, 2)}\n`,
        );
      if (record.status !== "SUCCESS") break;
      parameters = { ...parameters, ...record.outputParameters };
    }
    return run.finish(parameters, runSummary, "Summary of run");
  }
}
