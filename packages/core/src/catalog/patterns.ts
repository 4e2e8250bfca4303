/**
 * Catalog patterns, relative to the working directory (put) or to a run folder (get):
 * exact file names, directories (everything below them, recursively), and globs with `*`, `?`,
 * `[...]`, `{a,b}` and `**` (tinyglobby / picomatch). Wildcards do not match names starting with a
 * dot unless the pattern spells the dot (`.env`, `.cache/*`), so `**` never wanders into `.git`,
 * `.venv` or the catalog; a directory named explicitly is captured whole, dotfiles included.
 * Absolute paths, `~` and `..` segments (also inside `{a,b}` alternatives) are refused: a pattern can
 * never reach outside its root.
 *
 * Symbolic links are never followed and never captured: a link a wildcard or a named folder would
 * have matched is skipped (the caller notes it), and a name whose path goes through a link is
 * InvalidInput. So a link to a folder outside, or a link loop, cannot bring anything into a run.
 */
import { readdir } from "node:fs";
import { lstat } from "node:fs/promises";
import { join } from "node:path";
import { errors } from "@ferry/plugin-kit";
import picomatch from "picomatch";
import { type FileSystemAdapter, glob, isDynamicPattern } from "tinyglobby";

/** Validate and normalise one pattern (strips `./` and a trailing `/`). InvalidInput names the problem. */
export function checkPattern(pattern: unknown, stage: "put" | "get"): string {
  if (typeof pattern !== "string")
    throw errors.invalidInput(`catalog ${stage} patterns must be strings, got ${typeof pattern}`);
  const shown = JSON.stringify(pattern);
  if (pattern.trim() === "") throw errors.invalidInput(`catalog ${stage} pattern ${shown} is empty`);
  if (pattern.includes("\0"))
    throw errors.invalidInput(`catalog ${stage} pattern ${shown} contains a NUL byte`);
  if (pattern.startsWith("/") || pattern.startsWith("\\") || /^[A-Za-z]:[\\/]/.test(pattern)) {
    throw errors.invalidInput(
      `catalog ${stage} pattern ${shown} is absolute; patterns are relative to the working directory`,
    );
  }
  if (pattern === "~" || pattern.startsWith("~/")) {
    throw errors.invalidInput(
      `catalog ${stage} pattern ${shown} points at the home directory; patterns are relative to the working directory`,
    );
  }
  const segments = pattern.split(/[\\/]/);
  // `{../x,y}` expands to `../x`: the alternatives of a brace group count as segments too.
  if (pattern.split(/[\\/{},]/).includes("..")) {
    throw errors.invalidInput(
      `catalog ${stage} pattern ${shown} has a ".." segment; patterns may not leave the working directory`,
    );
  }
  const normalized = segments.filter((segment) => segment !== "" && segment !== ".").join("/");
  if (normalized === "")
    throw errors.invalidInput(
      `catalog ${stage} pattern ${shown} names the working directory itself; name files, folders or globs`,
    );
  return normalized;
}

export interface ExpandOptions {
  /** Directories (relative to the working directory) never captured: the catalog, run logs, the registry. */
  exclude: readonly string[];
  signal?: AbortSignal | undefined;
}

function signalOf(options: ExpandOptions): { signal?: AbortSignal } {
  return options.signal ? { signal: options.signal } : {};
}

/** A test for paths inside the excluded directories (built once per pattern: it runs once per file). */
function excludedTest(exclude: readonly string[]): (relative: string) => boolean {
  const prefixes = exclude.map((dir) => `${dir}/`);
  return (relative) => {
    for (let index = 0; index < exclude.length; index++) {
      if (relative.startsWith(prefixes[index]!) || relative === exclude[index]) return true;
    }
    return false;
  };
}

type LiteralKind = "file" | "directory" | { link: string };

/**
 * What `pattern` names when taken as a path, without following links: a file, a directory, the first
 * symbolic link on its way (relative path), or undefined (nothing, or something else).
 */
async function literalKind(cwd: string, pattern: string): Promise<LiteralKind | undefined> {
  const segments = pattern.split("/");
  for (let index = 1; index <= segments.length; index++) {
    const relative = segments.slice(0, index).join("/");
    let stats: Awaited<ReturnType<typeof lstat>>;
    try {
      stats = await lstat(join(cwd, relative));
    } catch {
      return undefined;
    }
    if (stats.isSymbolicLink()) return { link: relative };
    if (index === segments.length)
      return stats.isFile() ? "file" : stats.isDirectory() ? "directory" : undefined;
    if (!stats.isDirectory()) return undefined;
  }
  return undefined;
}

/** A file system for the glob that remembers every symbolic link it lists (the glob itself skips them). */
function linkRecorder(cwd: string, links: Set<string>): FileSystemAdapter {
  const base = join(cwd, "/");
  return {
    readdir: ((
      path: string,
      options: { withFileTypes: true },
      callback: (error: NodeJS.ErrnoException | null, entries: import("node:fs").Dirent[]) => void,
    ) =>
      readdir(path, options, (error, entries) => {
        if (!error) {
          const dir = join(path, "/");
          const relativeDir = dir.startsWith(base) ? dir.slice(base.length) : dir;
          for (const entry of entries) if (entry.isSymbolicLink()) links.add(`${relativeDir}${entry.name}`);
        }
        callback(error, entries);
      })) as NonNullable<FileSystemAdapter["readdir"]>,
  };
}

async function filesBelow(
  cwd: string,
  dir: string,
  options: ExpandOptions,
  links: Set<string>,
): Promise<string[]> {
  const found = await glob("**", {
    cwd: join(cwd, dir),
    dot: true,
    onlyFiles: true,
    expandDirectories: false,
    followSymbolicLinks: false,
    fs: linkRecorder(cwd, links),
    ...signalOf(options),
  });
  return found.map((file) => `${dir}/${file}`);
}

/** Whether a glob pattern could match `path` or something below it (the links it would have gone into). */
function reaches(pattern: string): (path: string) => boolean {
  const whole = picomatch(pattern, { dot: false });
  const segments = pattern.split("/");
  return (path) => {
    if (whole(path)) return true;
    const depth = path.split("/").length;
    const leading = segments.slice(0, depth);
    if (leading.includes("**"))
      return picomatch(leading.slice(0, leading.indexOf("**")).concat("**").join("/"), { dot: false })(path);
    return leading.length === depth && picomatch(leading.join("/"), { dot: false })(path);
  };
}

export interface Expansion {
  /** Files (relative, `/`-separated) the pattern matches, sorted. Empty when none. */
  files: string[];
  /** Symbolic links the pattern would have matched or gone into: skipped, sorted. */
  links: string[];
}

function escapes(relative: string): boolean {
  return relative.split("/").some((segment) => segment === ".." || segment === "");
}

/** What a put pattern matches in `cwd`, never following a symbolic link. */
export async function expandLocalPattern(
  cwd: string,
  pattern: string,
  options: ExpandOptions,
): Promise<Expansion> {
  const found = new Set<string>();
  const links = new Set<string>();
  // A name that exists is taken literally, even when it contains glob characters: `report (1).pdf`.
  const literal = await literalKind(cwd, pattern);
  if (typeof literal === "object") {
    throw errors.invalidInput(
      `catalog put ${JSON.stringify(pattern)}: ${join(cwd, literal.link)} is a symbolic link; links are never followed or captured`,
      { path: join(cwd, literal.link) },
    );
  }
  if (literal !== undefined || !isDynamicPattern(pattern)) {
    if (literal === "file") found.add(pattern);
    else if (literal === "directory")
      for (const file of await filesBelow(cwd, pattern, options, links)) found.add(file);
  } else {
    const seen = new Set<string>();
    const matches = await glob(pattern, {
      cwd,
      dot: false,
      onlyFiles: false,
      expandDirectories: false,
      followSymbolicLinks: false,
      fs: linkRecorder(cwd, seen),
      ignore: options.exclude.map((dir) => `${dir}/**`),
      ...signalOf(options),
    });
    for (const match of matches) {
      if (escapes(match.replace(/\/$/, ""))) {
        throw errors.invalidInput(
          `catalog put ${JSON.stringify(pattern)} matches ${match}, outside the working directory`,
          { path: cwd },
        );
      }
      if (match.endsWith("/"))
        for (const file of await filesBelow(cwd, match.slice(0, -1), options, links)) found.add(file);
      else found.add(match);
    }
    const reached = reaches(pattern);
    for (const link of seen) if (reached(link)) links.add(link);
  }
  const isExcluded = excludedTest(options.exclude);
  return {
    files: [...found].filter((file) => !isExcluded(file)).sort(),
    links: [...links].filter((link) => !isExcluded(link)).sort(),
  };
}

/** A matcher for get patterns over keys relative to a run folder: a key matches when it, or a folder above it, does. */
export function keyMatcher(pattern: string): (key: string) => boolean {
  if (!isDynamicPattern(pattern)) return (key) => key === pattern || key.startsWith(`${pattern}/`);
  const test = picomatch(pattern, { dot: false });
  return (key) => {
    if (test(key)) return true;
    for (let index = key.indexOf("/"); index !== -1; index = key.indexOf("/", index + 1)) {
      if (test(key.slice(0, index))) return true;
    }
    return false;
  };
}
