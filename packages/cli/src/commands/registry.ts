/**
 * `ferry registry ls | show | history | save | rm`: the resource registry from the shell.
 * Names are `~/name` (the project's local registry), `@/name` (the shared one) or bare
 * (the configured default scope, local unless set).
 */

import { homedir } from "node:os";
import {
  Blob,
  Folder,
  parseLocation,
  type RegistryEntry,
  ResourceRegistry,
  type ResourceType,
  Table,
} from "@ferry/core";
import { describeType } from "@ferry/parquet";
import { errors, type Location } from "@ferry/plugin-kit";
import { type Command, InvalidArgumentError } from "commander";
import { columns } from "../columns.ts";
import { action, withCommonOptions } from "../context.ts";
import { formatTime } from "../format.ts";

const TYPES: readonly ResourceType[] = ["folder", "table", "blob"];

function parseType(value: string): ResourceType {
  if (!(TYPES as readonly string[]).includes(value))
    throw new InvalidArgumentError(`expected one of ${TYPES.join(", ")}`);
  return value as ResourceType;
}

function parseVersion(value: string): number {
  const version = Number(value);
  if (!Number.isInteger(version) || version < 1)
    throw new InvalidArgumentError("expected a version number (1, 2, ...)");
  return version;
}

function parseMetadata(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new InvalidArgumentError('expected a JSON object, e.g. \'{"owner": "ml-team"}\'');
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new InvalidArgumentError("expected a JSON object");
  return parsed as Record<string, unknown>;
}

interface RegistryCommandOptions {
  shared?: string;
}

function withRegistryOptions(command: Command): Command {
  return withCommonOptions(command).option(
    "--shared <location>",
    "the shared registry for @/ names (default: FERRY_SHARED_REGISTRY or ferry.config.json)",
  );
}

function open(options: RegistryCommandOptions): ResourceRegistry {
  return new ResourceRegistry(options.shared === undefined ? {} : { shared: options.shared });
}

/** An unquoted `~/name` arrives as `/home/me/name`: say so instead of calling it a bad name. */
function unexpanded(name: string): string {
  const home = homedir();
  if (name.startsWith(`${home}/`)) {
    throw errors.invalidInput(
      `"${name}" looks like a ~/ registry name that the shell expanded to your home directory: quote it, e.g. '~/${name.slice(home.length + 1)}'`,
    );
  }
  return name;
}

/** The resource at a location, as the registry records it (a table's flavour, partitioning and schema come from its files). */
function resourceAt(type: ResourceType, location: Location): Folder | Blob | Table {
  if (type === "folder") return new Folder(location);
  if (type === "blob") return new Blob(location);
  return Table.from(location);
}

/** Entries as aligned columns, one per row. */
function entryTable(entries: readonly RegistryEntry[]): string {
  return columns(
    ["NAME", "VERSION", "TYPE", "LOCATION", "UPDATED"],
    entries.map((entry) => [
      entry.name,
      `v${entry.version}`,
      entry.type,
      entry.url,
      formatTime(new Date(entry.updated)),
    ]),
  );
}

/** One entry as labelled lines: what a person looks for, without the file format's `$schema`. */
function entryText(entry: RegistryEntry): string {
  const metadata = Object.entries(entry.metadata).map(([key, value]) => `${key}: ${JSON.stringify(value)}`);
  const rows: [string, string | undefined][] = [
    ["name", entry.name],
    ["version", String(entry.version)],
    ["type", entry.flavour ? `${entry.type} (${entry.flavour})` : entry.type],
    ["location", entry.url],
    ["account", entry.account],
    ["partitions", entry.partitioning?.join(", ")],
    ["columns", entry.schema?.fields.map((field) => `${field.name}: ${describeType(field.type)}`).join(", ")],
    ["metadata", metadata.length > 0 ? metadata.join(", ") : undefined],
    ["created", formatTime(new Date(entry.created))],
    ["updated", formatTime(new Date(entry.updated))],
  ];
  const shown = rows.filter((row): row is [string, string] => row[1] !== undefined && row[1] !== "");
  const width = Math.max(...shown.map(([label]) => label.length)) + 2;
  return shown.map(([label, value]) => `${`${label}:`.padEnd(width)}${value}`).join("\n");
}

/** `ferry registry` and its subcommands ls, show, history, save and rm. */
export function registerRegistryCommands(program: Command): void {
  const registry = program.command("registry").description("save and find Folders, Tables and Blobs by name");
  registerRegistryLs(registry);
  registerRegistryShow(registry);
  registerRegistryHistory(registry);
  registerRegistrySave(registry);
  registerRegistryRm(registry);
}

function registerRegistryLs(registry: Command): void {
  withRegistryOptions(
    registry
      .command("ls")
      .description("list saved names (local, then shared), optionally under a prefix such as @/team/")
      .argument("[prefix]", "~, @, a name or the start of one")
      .option("-l, --long", "show version, type, location and time of each"),
  ).action(
    action(
      async (
        { output },
        options: RegistryCommandOptions & { long?: boolean; json?: boolean },
        prefix?: string,
      ) => {
        const reg = open(options);
        const names = await reg.list(prefix);
        if (!options.long && !options.json) {
          for (const name of names) output.emit("entry", { name }, name);
          return undefined;
        }
        const entries: RegistryEntry[] = [];
        for (const name of names) entries.push(await reg.entry(name));
        if (options.json) for (const entry of entries) output.emit("entry", { ...entry }, undefined);
        else if (entries.length > 0) output.emit("entry", {}, entryTable(entries));
        return undefined;
      },
    ),
  );
}

function registerRegistryShow(registry: Command): void {
  withRegistryOptions(
    registry
      .command("show")
      .description("print the saved entry of a name (the latest version unless --version)")
      .argument("<name>")
      .option("--version <n>", "an earlier version", parseVersion),
  ).action(
    action(async ({ output }, options: RegistryCommandOptions & { version?: number }, name: string) => {
      const entry = await open(options).entry(unexpanded(name), { version: options.version });
      output.emit("entry", { ...entry }, entryText(entry));
      return undefined;
    }),
  );
}

function registerRegistryHistory(registry: Command): void {
  withRegistryOptions(
    registry.command("history").description("every saved version of a name, oldest first").argument("<name>"),
  ).action(
    action(async ({ output }, options: RegistryCommandOptions, name: string) => {
      const history = await open(options).history(unexpanded(name));
      if (output.json) for (const entry of history) output.emit("entry", { ...entry }, undefined);
      else if (history.length > 0) output.emit("entry", {}, entryTable(history));
      return undefined;
    }),
  );
}

function registerRegistrySave(registry: Command): void {
  withRegistryOptions(
    registry
      .command("save")
      .description("save a location under a name (a new version if the name exists)")
      .argument("<name>")
      .argument("<location>", "path or URL of the data")
      .requiredOption("--type <type>", "folder, table or blob", parseType)
      .option(
        "--metadata <json>",
        "free-form metadata as a JSON object (secrets are refused)",
        parseMetadata,
      ),
  ).action(
    action(
      async (
        { output },
        options: RegistryCommandOptions & { type: ResourceType; metadata?: Record<string, unknown> },
        name: string,
        target: string,
      ) => {
        const reg = open(options);
        const full = reg.parseName(unexpanded(name)).full;
        const { storage, location } = await reg.plugins.resolve(
          parseLocation(target, { cwd: reg.config.cwd }),
        );
        const present = location.path === "" || (await storage.exists(location.path));
        if (!present) output.note(`nothing is at ${location.url} yet; saved the name anyway`);
        const entry = await reg.save(resourceAt(options.type, location), {
          name: full,
          metadata: options.metadata,
        });
        output.emit("saved", { ...entry }, `saved ${entry.name} v${entry.version} → ${entry.url}`);
        return undefined;
      },
    ),
  );
}

function registerRegistryRm(registry: Command): void {
  withRegistryOptions(
    registry
      .command("rm")
      .description("remove a name and its history (the data it points at is kept)")
      .argument("<names...>"),
  ).action(
    action(async ({ output }, options: RegistryCommandOptions, names: string[]) => {
      const reg = open(options);
      if (names.length === 0) throw errors.invalidInput("name at least one registry name");
      for (const name of names) {
        await reg.rm(unexpanded(name));
        output.emit("removed", { name: reg.parseName(name).full }, `removed ${reg.parseName(name).full}`);
      }
      return undefined;
    }),
  );
}
