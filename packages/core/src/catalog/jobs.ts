/**
 * Jobs: a function run in this process (FunctionJob) or a shell command run as a child process
 * (ShellJob), each with an optional Catalog. `execute()` runs the job as a run of its own and
 * returns the summary.
 */
import { spawn } from "node:child_process";
import { errors } from "@ferry/plugin-kit";
import { Catalog } from "./catalog.ts";
import type { ExecutionLog } from "./execution-log.ts";
import { encodeJson } from "./json-value.ts";
import { type ExecuteOptions, type JobContext, type JobOutcome, Run, type RunnableStep } from "./run.ts";
import type { StepKind } from "./run-log.ts";
import { jobSummary } from "./run-log.ts";

export interface JobOptions {
  /** Name of the step (and of its execution log); default "job". */
  name?: string | undefined;
  catalog?: Catalog | undefined;
  parameters?: Record<string, unknown> | undefined;
}

const STEP_NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$/;

function checkCommon(
  options: JobOptions,
  defaultName: string,
): { name: string; catalog: Catalog | undefined; parameters: Record<string, unknown> } {
  const name = options.name ?? defaultName;
  if (typeof name !== "string" || !STEP_NAME.test(name)) {
    throw errors.invalidInput(
      `invalid job name ${JSON.stringify(name)}: letters, digits, spaces, ".", "_" and "-", at most 100`,
    );
  }
  if (options.catalog !== undefined && !(options.catalog instanceof Catalog)) {
    throw errors.invalidInput("catalog must be a Catalog (new Catalog({ put, get, storeCopy }))");
  }
  const parameters = options.parameters ?? {};
  if (typeof parameters !== "object" || parameters === null || Array.isArray(parameters)) {
    throw errors.invalidInput("parameters must be an object of name → value");
  }
  return { name, catalog: options.catalog, parameters: { ...parameters } };
}

abstract class Job implements RunnableStep {
  readonly name: string;
  readonly catalog: Catalog | undefined;
  readonly parameters: Record<string, unknown>;
  abstract readonly kind: StepKind;
  abstract readonly command: string | undefined;

  constructor(options: JobOptions, defaultName: string) {
    const common = checkCommon(options, defaultName);
    this.name = common.name;
    this.catalog = common.catalog;
    this.parameters = common.parameters;
  }

  abstract run(context: JobContext, log: ExecutionLog): Promise<JobOutcome>;

  /** Run the job as its own run. Returns the summary (status FAIL when it failed; it does not throw for that). */
  async execute(options: ExecuteOptions = {}): Promise<Record<string, unknown>> {
    const run = await Run.start(this.catalog?.location, options);
    const parameters = { ...this.parameters, ...options.parameters };
    const step = await run.step(this, parameters, { finishesRun: true });
    return run.finish(
      { ...parameters, ...step.outputParameters },
      (log) => jobSummary(log, step),
      "Summary of job",
    );
  }
}

export interface FunctionJobOptions extends JobOptions {
  /** The work. May write files (relative to `context.cwd`) and return an object of output parameters. */
  fn: (context: JobContext) => unknown;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

export class FunctionJob extends Job {
  readonly kind = "function" as const;
  readonly command: string | undefined;
  readonly fn: (context: JobContext) => unknown;

  constructor(options: FunctionJobOptions) {
    super(options, "job");
    if (typeof options?.fn !== "function")
      throw errors.invalidInput("FunctionJob needs fn: a function to run");
    this.fn = options.fn;
    this.command = options.fn.name || undefined;
  }

  async run(context: JobContext, log: ExecutionLog): Promise<JobOutcome> {
    const value = await log.capture(async () => this.fn(context));
    if (value === undefined) return {};
    // Encoded for the run log by the run (see json-value.ts): a value JSON cannot hold never fails the job.
    return { outputParameters: isPlainObject(value) ? value : { result: value } };
  }
}

export interface ShellJobOptions extends JobOptions {
  /** Run through the shell (`sh -c`), in the working directory. */
  command: string;
  /** Extra environment variables for the command. */
  env?: Record<string, string> | undefined;
  /** Where the command's stdout goes as it comes (default process.stdout); the execution log gets it either way. */
  stdout?: NodeJS.WritableStream | undefined;
}

/** A failed command: its exit code is kept in the run log. */
export class CommandFailedError extends Error {
  readonly exitCode: number | undefined;
  constructor(message: string, exitCode: number | undefined) {
    super(message);
    this.name = "CommandFailedError";
    this.exitCode = exitCode;
  }
}

function parameterEnv(parameters: Record<string, unknown>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parameters)) {
    env[`FERRY_PRM_${name}`] =
      typeof value === "string" ? value : (JSON.stringify(encodeJson(value, name, "parameter").value) ?? "");
  }
  return env;
}

export class ShellJob extends Job {
  readonly kind = "shell" as const;
  readonly command: string;
  readonly env: Record<string, string>;
  readonly #stdout: NodeJS.WritableStream | undefined;

  constructor(options: ShellJobOptions) {
    super(options, "job");
    if (typeof options?.command !== "string" || options.command.trim() === "")
      throw errors.invalidInput("ShellJob needs command: a shell command");
    this.command = options.command;
    this.env = { ...options.env };
    this.#stdout = options.stdout;
  }

  /**
   * The command's stdout and stderr go to the console and to the execution log as they come.
   * Parameters are passed as FERRY_PRM_<name> (strings as they are, anything else as JSON), the
   * run id as FERRY_RUN_ID.
   */
  run(context: JobContext, log: ExecutionLog): Promise<JobOutcome> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.command, {
        shell: true,
        cwd: context.cwd,
        env: {
          ...process.env,
          ...parameterEnv(context.parameters),
          ...this.env,
          FERRY_RUN_ID: context.runId,
        },
        // stdin stays the caller's, so a command that asks a question can still be answered.
        stdio: ["inherit", "pipe", "pipe"],
        ...(context.signal ? { signal: context.signal } : {}),
      });
      child.stdout.on("data", (chunk: Buffer) => {
        log.write(chunk);
        (this.#stdout ?? process.stdout).write(chunk);
      });
      child.stderr.on("data", (chunk: Buffer) => {
        log.write(chunk);
        process.stderr.write(chunk);
      });
      child.on("error", (error) => {
        if (context.signal?.aborted) {
          reject(errors.aborted(`interrupted: ${this.command}`, { cause: context.signal.reason }));
        } else {
          reject(
            new CommandFailedError(
              `could not run ${JSON.stringify(this.command)}: ${error.message}`,
              undefined,
            ),
          );
        }
      });
      child.on("close", (code, signal) => {
        if (code === 0) resolve({ exitCode: 0 });
        else if (code !== null)
          reject(new CommandFailedError(`command exited with code ${code}: ${this.command}`, code));
        else reject(new CommandFailedError(`command was killed by ${signal}: ${this.command}`, undefined));
      });
    });
  }
}
