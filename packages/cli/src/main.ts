/**
 * The `ferry` command: builds the program from its command groups and runs it. Each group lives in
 * commands/<group>.ts and exports `register<Group>Commands(program)`.
 */

import { VERSION } from "@ferry/core";
import { useCliWording } from "@ferry/plugin-kit";
import { Command, CommanderError } from "commander";
import { registerCatalogCommands } from "./commands/catalog.ts";
import { registerCleanupCommands } from "./commands/cleanup.ts";
import { registerRegistryCommands } from "./commands/registry.ts";
import { registerRunCommands } from "./commands/run.ts";
import { registerStorageCommands } from "./commands/storage.ts";
import { registerTableCommands } from "./commands/table.ts";
import { registerTransferCommands } from "./commands/transfer.ts";
import { finalExitCode, handleInterrupts } from "./context.ts";
import { EXIT } from "./exit-codes.ts";
import { Output } from "./output.ts";

export function buildProgram(): Command {
  const program = new Command()
    .name("ferry")
    .description("Store, recall and move data between local disk, SSH hosts, S3, GCS, Azure Blob and GitHub.")
    .version(VERSION, "-V, --version")
    // Program options only before the command, so a command's own --version (registry show) is its own.
    .enablePositionalOptions()
    .showHelpAfterError("(run ferry --help for usage)")
    .exitOverride();
  registerStorageCommands(program);
  registerTransferCommands(program);
  registerTableCommands(program);
  registerRegistryCommands(program);
  registerRunCommands(program);
  registerCatalogCommands(program);
  registerCleanupCommands(program);
  overrideExits(program);
  return program;
}

/**
 * Usage errors anywhere in the tree throw (and become exit code 2) instead of exiting with commander's
 * 1, and read as every other error: `ferry: InvalidInput: unknown option '--bogus'`.
 */
function overrideExits(command: Command): void {
  command.exitOverride().configureOutput({
    outputError: (message, write) => write(`ferry: InvalidInput: ${message.replace(/^error: /, "")}`),
  });
  for (const child of command.commands) overrideExits(child);
}

/** `--json` among ferry's own arguments (not a `ferry run` command's, after `--`). */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end === -1 ? argv : argv.slice(0, end)).includes("--json");
}

/** Run with the given arguments (without `node` and the script); resolves to the exit code. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  handleInterrupts();
  useCliWording();
  process.exitCode = EXIT.ok;
  try {
    await buildProgram().parseAsync([...argv], { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version "fail" with code 0; every other parse error is a usage error.
      process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
      if (error.exitCode !== 0 && wantsJson(argv)) new Output(true).usageError(error.message);
    } else {
      process.exitCode = new Output(wantsJson(argv)).error(error);
    }
  } finally {
    const { ferry } = await import("@ferry/core");
    await ferry.close();
  }
  process.exitCode = finalExitCode(Number(process.exitCode));
  return Number(process.exitCode);
}

if (import.meta.main) await main();
