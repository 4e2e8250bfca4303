/**
 * Commands on one location: ls, cat, stat, du, rm, mkdir. Each resolves its location through the
 * `ferry` registry, so any system whose plugin is installed works (and one that is not installed
 * says which package to add).
 */
import { pipeline } from "node:stream/promises";
import { ferry, guardRm, type ResolvedLocation } from "@ferry/core";
import {
  describeUnaddressable,
  type Entry,
  errors,
  FerryError,
  relativeKey,
  withPath,
} from "@ferry/plugin-kit";
import { type Command, InvalidArgumentError } from "commander";
import { action, withCommonOptions } from "../context.ts";
import { formatBytes, formatTime } from "../format.ts";

/** The entry at a location, or NotFound naming it. The root of a storage always exists. */
async function statLocation(target: ResolvedLocation, signal: AbortSignal): Promise<Entry> {
  if (target.path === "") return { path: "", kind: "directory", size: 0 };
  return target.storage.stat(target.path, { signal });
}

function entryRecord(entry: Entry, name: string, target: ResolvedLocation): Record<string, unknown> {
  return {
    name,
    url: withPath(target.location, entry.path).url,
    kind: entry.kind,
    size: entry.size,
    ...(entry.mtime ? { mtime: entry.mtime.toISOString() } : {}),
    ...(entry.md5 ? { md5: entry.md5 } : {}),
    ...(entry.etag ? { etag: entry.etag } : {}),
    ...(entry.contentType ? { contentType: entry.contentType } : {}),
  };
}

interface LsOptions {
  recursive?: boolean;
  long?: boolean;
  humanReadable?: boolean;
}

/** ls, cat, stat, du, rm and mkdir on `program`. */
export function registerStorageCommands(program: Command): void {
  registerLs(program);
  registerCat(program);
  registerStat(program);
  registerDu(program);
  registerRm(program);
  registerMkdir(program);
}

function registerLs(program: Command): void {
  withCommonOptions(
    program
      .command("ls")
      .description("list a directory (or one file)")
      .argument("<location>", "path or URL")
      .option("-R, --recursive", "list every file below, with paths relative to the location")
      .option("-l, --long", "show size and modified time")
      .option("-h, --human-readable", "with --long, sizes in KiB, MiB, GiB (powers of 1024)"),
  ).action(
    action(async ({ output, signal }, options: LsOptions, location: string) => {
      const target = await ferry.resolve(location);
      const self = await statLocation(target, signal);
      const unaddressable: string[] = [];
      const onUnaddressable = (name: string) => unaddressable.push(name);
      const entries =
        self.kind === "file"
          ? [self]
          : await collect(
              target.storage.list(target.path, {
                recursive: options.recursive === true,
                signal,
                onUnaddressable,
              }),
            );
      if (unaddressable.length > 0)
        output.note(describeUnaddressable(unaddressable, target.location.url, "are not listed"));
      for (const entry of entries) {
        const relative =
          self.kind === "file"
            ? entry.path.split("/").pop()!
            : (relativeKey(target.path, entry.path) ?? entry.path);
        const name = entry.kind === "directory" ? `${relative}/` : relative;
        const plain = options.long
          ? `${(options.humanReadable ? formatBytes(entry.size) : String(entry.size)).padStart(12)}  ${formatTime(entry.mtime)}  ${name}`
          : name;
        output.emit("entry", entryRecord(entry, relative, target), plain);
      }
      return undefined;
    }),
  );
}

function registerCat(program: Command): void {
  withCommonOptions(
    program
      .command("cat")
      .description("write files' content to stdout")
      .argument("<locations...>", "files to print, in order")
      .option("--offset <bytes>", "start at this byte", parseNonNegative)
      .option("--count <bytes>", "print at most this many bytes", parseNonNegative),
  ).action(
    action(async ({ output, signal }, options: { offset?: number; count?: number }, locations: string[]) => {
      for (const location of locations) {
        const target = await ferry.resolve(location);
        const range =
          options.offset !== undefined || options.count !== undefined
            ? {
                offset: options.offset ?? 0,
                ...(options.count !== undefined ? { length: options.count } : {}),
              }
            : undefined;
        const stream = await target.storage.read(target.path, { signal, ...(range ? { range } : {}) });
        if (output.json) {
          // Bytes are not JSON: each chunk is a `data` event, base64, with its offset in the file.
          let offset = range?.offset ?? 0;
          for await (const chunk of stream as AsyncIterable<Buffer>) {
            signal.throwIfAborted();
            output.emitBytes(target.location.url, offset, chunk);
            offset += chunk.byteLength;
          }
        } else {
          await pipeline(stream, process.stdout, { end: false, signal });
        }
      }
      return undefined;
    }),
  );
}

function registerStat(program: Command): void {
  withCommonOptions(
    program
      .command("stat")
      .description("show one file's or directory's details")
      .argument("<location>", "path or URL"),
  ).action(
    action(async ({ output, signal }, _options: object, location: string) => {
      const target = await ferry.resolve(location);
      const entry = await statLocation(target, signal);
      const lines = [
        `url:      ${target.location.url}`,
        `kind:     ${entry.kind}`,
        `size:     ${entry.size} (${formatBytes(entry.size)})`,
        ...(entry.mtime ? [`modified: ${entry.mtime.toISOString()}`] : []),
        ...(entry.md5 ? [`md5:      ${entry.md5}`] : []),
        ...(entry.etag ? [`etag:     ${entry.etag}`] : []),
        ...(entry.contentType ? [`type:     ${entry.contentType}`] : []),
      ];
      output.emit("stat", entryRecord(entry, entry.path.split("/").pop() ?? "", target), lines.join("\n"));
      return undefined;
    }),
  );
}

function registerDu(program: Command): void {
  withCommonOptions(
    program
      .command("du")
      .description("count the files and bytes below a location")
      .argument("<location>", "path or URL"),
  ).action(
    action(async ({ output, signal }, _options: object, location: string) => {
      const target = await ferry.resolve(location);
      const self = await statLocation(target, signal);
      let files = 0;
      let bytes = 0;
      const entries =
        self.kind === "file" ? [self] : target.storage.list(target.path, { recursive: true, signal });
      for await (const entry of entries) {
        if (entry.kind !== "file") continue;
        files += 1;
        bytes += entry.size;
      }
      output.emit(
        "usage",
        { url: target.location.url, files, bytes },
        `${files} files, ${formatBytes(bytes)} (${bytes} bytes)  ${target.location.url}`,
      );
      return undefined;
    }),
  );
}

function registerRm(program: Command): void {
  withCommonOptions(
    program
      .command("rm")
      .description("remove files (and, with -r, directories)")
      .argument("<locations...>", "paths or URLs")
      .option("-r, --recursive", "remove directories and everything in them")
      .option("-f, --force", "a location that does not exist is not an error")
      .option(
        "--protected",
        "also remove a protected directory: a working or home directory, a bucket root, the login's home on an SSH host, or a directory holding one",
      ),
  ).action(
    action(
      async (
        { output, signal },
        options: { recursive?: boolean; force?: boolean; protected?: boolean },
        locations: string[],
      ) => {
        for (const location of locations) {
          const target = await ferry.resolve(location);
          let entry: Entry;
          try {
            entry = await statLocation(target, signal);
          } catch (error) {
            if (options.force && FerryError.isInstance(error, "NotFound")) continue;
            throw error;
          }
          if (entry.kind === "directory") {
            if (!options.recursive) {
              throw errors.invalidInput(
                `${target.location.url} is a directory; use rm -r to remove it and everything in it`,
                {
                  system: target.location.system,
                  path: target.path,
                },
              );
            }
            await guardRm(target.location, ferry, target.storage, options.protected, "rm -r --protected");
            await target.storage.deleteDirectory(target.path, { signal });
          } else {
            await target.storage.delete(target.path, { signal });
          }
          output.emit(
            "removed",
            { url: target.location.url, kind: entry.kind },
            `removed ${target.location.url}`,
          );
        }
        return undefined;
      },
    ),
  );
}

function registerMkdir(program: Command): void {
  withCommonOptions(
    program
      .command("mkdir")
      .description("create a directory (and its parents)")
      .argument("<location>", "path or URL"),
  ).action(
    action(async ({ output, signal }, _options: object, location: string) => {
      const target = await ferry.resolve(location);
      // Like rclone: a bucket or container that does not exist is created, whatever the path below it.
      const createdRoot = await target.storage.createRoot({ signal });
      if (target.path === "") {
        const event = createdRoot ? "created" : "exists";
        output.emit(event, { url: target.location.url }, `${event} ${target.location.url}`);
        return undefined;
      }
      if (target.storage.capabilities.mkdir === false) {
        output.note(
          `${target.location.system} has no directories of its own: ${target.location.url} exists once a file is written below it`,
        );
      } else {
        await target.storage.mkdir(target.path, { signal });
      }
      output.emit("created", { url: target.location.url }, `created ${target.location.url}`);
      return undefined;
    }),
  );
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

export function parseNonNegative(value: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 0)
    throw new InvalidArgumentError("expected a non-negative whole number");
  return number;
}
