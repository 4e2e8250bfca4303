/**
 * Catalog patterns, relative to the working directory (put) or to a run folder (get):
 * exact file names, directories (everything below them, recursively), and globs with `*`, `?`,
 * `[...]`, `{a,b}` and `**` (tinyglobby / picomatch). Wildcards do not match names starting with a
 * dot unless the pattern spells the dot (`.env`, `.cache/*`), so `**` never wanders into `.git`,
 * `.venv` or the catalog; a directory named explicitly is captured whole, dotfiles included.
 * Absolute paths, `~` and `..` segments are refused: a pattern can never reach outside its root.
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import picomatch from "picomatch";
import { glob, isDynamicPattern } from "tinyglobby";
import { errors } from "../errors.ts";

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
  if (segments.includes("..")) {
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

async function kindOf(path: string): Promise<"file" | "directory" | undefined> {
  try {
    const stats = await stat(path);
    return stats.isFile() ? "file" : stats.isDirectory() ? "directory" : undefined;
  } catch {
    return undefined;
  }
}

async function filesBelow(cwd: string, dir: string, options: ExpandOptions): Promise<string[]> {
  const found = await glob("**", {
    cwd: join(cwd, dir),
    dot: true,
    onlyFiles: true,
    expandDirectories: false,
    ...signalOf(options),
  });
  return found.map((file) => `${dir}/${file}`);
}

/** Files (relative, `/`-separated) that a put pattern matches in `cwd`, sorted. Empty when none. */
export async function expandLocalPattern(
  cwd: string,
  pattern: string,
  options: ExpandOptions,
): Promise<string[]> {
  const found = new Set<string>();
  // A name that exists is taken literally, even when it contains glob characters: `report (1).pdf`.
  const literal = await kindOf(join(cwd, pattern));
  if (literal !== undefined || !isDynamicPattern(pattern)) {
    if (literal === "file") found.add(pattern);
    else if (literal === "directory")
      for (const file of await filesBelow(cwd, pattern, options)) found.add(file);
  } else {
    const matches = await glob(pattern, {
      cwd,
      dot: false,
      onlyFiles: false,
      expandDirectories: false,
      ignore: options.exclude.map((dir) => `${dir}/**`),
      ...signalOf(options),
    });
    for (const match of matches) {
      if (match.endsWith("/"))
        for (const file of await filesBelow(cwd, match.slice(0, -1), options)) found.add(file);
      else found.add(match);
    }
  }
  const isExcluded = excludedTest(options.exclude);
  return [...found].filter((file) => !isExcluded(file)).sort();
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
