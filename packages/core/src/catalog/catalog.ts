/**
 * `new Catalog({ put, get, storeCopy, location })`: which files a job brings in before it runs
 * (get) and captures after it runs (put). Patterns are checked here, when the Catalog is made, so
 * an absolute path or a `..` escape fails before anything runs.
 */
import { errors } from "@ferry/plugin-kit";
import type { LocationLike } from "../location.ts";
import { checkPattern } from "./patterns.ts";
import { checkRunId } from "./run-id.ts";

export interface CatalogOptions {
  /** Files to capture after the job runs, relative to the working directory. */
  put?: string | readonly string[] | undefined;
  /**
   * Files to bring into the working directory before the job runs: paths in the current run's
   * folder (what an earlier step put), or `runs:<run-id>/<pattern>` from any earlier run.
   */
  get?: string | readonly string[] | undefined;
  /** false: record MD5 and size of put files without copying them. Default true. */
  storeCopy?: boolean | undefined;
  /** Where runs are kept: any location URL. Default `.catalog` in the working directory. */
  location?: LocationLike | undefined;
  /** Files captured or fetched at once. Default 16. */
  concurrency?: number | undefined;
}

/** A get pattern, and the run it reads from (undefined: the current run). */
export interface GetPattern {
  runId: string | undefined;
  pattern: string;
  /** As the user wrote it, for messages. */
  text: string;
}

const RUNS_PREFIX = "runs:";

function list(value: string | readonly string[] | undefined, name: string): readonly string[] {
  if (value === undefined) return [];
  if (typeof value === "string") return [value];
  if (!Array.isArray(value))
    throw errors.invalidInput(`catalog ${name} must be a pattern or a list of patterns`);
  return value;
}

export function parseGetPattern(text: string): GetPattern {
  if (typeof text === "string" && text.startsWith(RUNS_PREFIX)) {
    const rest = text.slice(RUNS_PREFIX.length).replace(/^\/+/, "");
    const slash = rest.indexOf("/");
    if (slash === -1)
      throw errors.invalidInput(
        `catalog get ${JSON.stringify(text)} needs a pattern after the run id: runs:<run-id>/<pattern>`,
      );
    return {
      runId: checkRunId(rest.slice(0, slash), `run id in ${JSON.stringify(text)}`),
      pattern: checkPattern(rest.slice(slash + 1), "get"),
      text,
    };
  }
  return { runId: undefined, pattern: checkPattern(text, "get"), text };
}

export class Catalog {
  readonly put: readonly string[];
  readonly get: readonly GetPattern[];
  readonly storeCopy: boolean;
  readonly location: LocationLike | undefined;
  readonly concurrency: number;

  constructor(options: CatalogOptions = {}) {
    if (typeof options !== "object" || options === null)
      throw errors.invalidInput("new Catalog() takes { put, get, storeCopy, location }");
    const known = new Set(["put", "get", "storeCopy", "location", "concurrency"]);
    for (const key of Object.keys(options)) {
      if (!known.has(key))
        throw errors.invalidInput(
          `unknown Catalog option "${key}" (expected put, get, storeCopy, location, concurrency)`,
        );
    }
    this.put = list(options.put, "put").map((pattern) => checkPattern(pattern, "put"));
    this.get = list(options.get, "get").map(parseGetPattern);
    if (options.storeCopy !== undefined && typeof options.storeCopy !== "boolean")
      throw errors.invalidInput("storeCopy must be true or false");
    this.storeCopy = options.storeCopy ?? true;
    this.location = options.location;
    const concurrency = options.concurrency ?? 16;
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw errors.invalidInput(`concurrency must be a positive integer, got ${concurrency}`);
    this.concurrency = concurrency;
  }
}
