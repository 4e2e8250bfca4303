/**
 * What every command shares: the output mode, an AbortSignal that Ctrl-C fires (a second Ctrl-C
 * exits at once), and the wrapper that turns a command's result or error into an exit code.
 */
import { FerryError, parseDuration, setIdleTimeout } from "@ferry/plugin-kit";
import { type Command, InvalidArgumentError } from "commander";
import { EXIT } from "./exit-codes.ts";
import { Output } from "./output.ts";
import { PIPE_CLOSED_STATUS, stdoutClosed, watchOutputStreams } from "./stdout.ts";

const interrupt = new AbortController();
let interrupted = false;

/**
 * The first SIGINT cancels cleanly, the second leaves immediately; a closed stdout cancels too
 * (see stdout.ts). Safe to call more than once.
 */
let installed = false;

export function handleInterrupts(): void {
  if (installed) return;
  installed = true;
  process.on("SIGINT", () => {
    if (interrupted) process.exit(EXIT.aborted);
    interrupted = true;
    interrupt.abort(new Error("interrupted (Ctrl-C)"));
  });
  watchOutputStreams((cause) => {
    if (!interrupt.signal.aborted) interrupt.abort(new FerryError("Aborted", "stdout was closed", { cause }));
  });
}

/** The exit code once a command is over: a closed stdout overrides whatever the command said. */
export function finalExitCode(code: number): number {
  return stdoutClosed() ? PIPE_CLOSED_STATUS : code;
}

export interface CommandContext {
  output: Output;
  signal: AbortSignal;
}

/** Options every command accepts. */
export function withCommonOptions(command: Command): Command {
  return command
    .option("--json", "print JSON lines (one object per line) instead of text")
    .option(
      "--timeout <duration>",
      "end a connection that passes no data for this long, and retry (30s, 2m, or seconds; 0: never; default 60s or FERRY_TIMEOUT)",
      parseTimeout,
    );
}

function parseTimeout(value: string): number {
  try {
    return parseDuration(value, "--timeout");
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/**
 * Wrap a commander action: `run(context, ...positional, options)` returns an exit code (default 0);
 * errors are printed on one line and mapped to their exit code.
 */
export function action<Args extends unknown[], Options>(
  run: (context: CommandContext, options: Options, ...args: Args) => Promise<number | undefined>,
): (...commanderArgs: unknown[]) => Promise<void> {
  return async (...commanderArgs) => {
    const command = commanderArgs.at(-1) as Command;
    const options = command.opts() as Options & { json?: boolean; timeout?: number };
    // Every plugin without a timeout of its own reads it from core, whenever it opens a connection.
    if (options.timeout !== undefined) setIdleTimeout(options.timeout);
    const args = commanderArgs.slice(0, -2) as Args;
    const output = new Output(options.json === true);
    let code: number;
    try {
      code = (await run({ output, signal: interrupt.signal }, options, ...args)) ?? EXIT.ok;
    } catch (error) {
      code = output.error(interrupted ? abortedError(error) : error);
    }
    process.exitCode = finalExitCode(code);
  };
}

function abortedError(cause: unknown): FerryError {
  return new FerryError("Aborted", "interrupted (Ctrl-C)", { cause });
}
