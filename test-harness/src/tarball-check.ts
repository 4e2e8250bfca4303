/**
 * What a user gets from a packed package: checks of an unpacked tarball's contents, each problem
 * named with the package and what is wrong.
 */
import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { join, posix, relative } from "node:path";
import { build } from "esbuild";

/** Whether `range` (exact, `^` or `~`, as `pnpm pack` writes our own) accepts `version`. */
function takes(range: string, version: string): boolean {
  const match = /^([\^~]?)(\d+)\.(\d+)\.(\d+)$/.exec(range.trim());
  const have = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  if (!match || !have) return false;
  const [, kind, ...wanted] = match;
  const [a, b, c] = wanted.map(Number) as [number, number, number];
  const [x, y, z] = have.slice(1).map(Number) as [number, number, number];
  if (kind === "") return a === x && b === y && c === z;
  if (kind === "~" || a === 0) return a === x && b === y && z >= c;
  return a === x && (y > b || (y === b && z >= c));
}

/** Every file below `dir`, `/`-separated and relative to it. */
export function filesBelow(dir: string, prefix = ""): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((entry) => {
    const path = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    return entry.isDirectory() ? filesBelow(dir, path) : [path];
  });
}

/**
 * Everything wrong with one unpacked tarball (`package/` stripped), each line naming the package:
 * no README; a test file or build state shipped; a file outside the package.json `files` list, or an
 * entry of it that matches nothing; a text file naming one of `machinePaths` (the build machine's);
 * a source map pointing outside the tarball; an `exports`/`bin`/`main`/`types` target that is not in
 * it; a dependency range that is not a version (`workspace:` …) or that does not take the version of
 * ours published beside it (`published`: name → version); an import in dist/ of a package that is not
 * a dependency, peer or optional dependency (a devDependency is not installed for users); a relative
 * import of a file the tarball lacks.
 */
export async function tarballProblems(
  unpacked: string,
  options: { published: ReadonlyMap<string, string>; machinePaths: readonly string[] },
): Promise<string[]> {
  const manifest: Manifest = JSON.parse(readFileSync(join(unpacked, "package.json"), "utf8"));
  const files = filesBelow(unpacked).sort();
  const found = [
    ...misplacedFiles(files),
    ...filesListProblems(manifest, files),
    ...textProblems(unpacked, files, options.machinePaths),
    ...missingTargets(manifest, files),
    ...rangeProblems(manifest, options.published),
    ...(await importProblems(unpacked, manifest, files)),
  ];
  return found.map((what) => `${manifest.name}: ${what}`);
}

/** The parts of package.json the checks read. */
interface Manifest {
  name: string;
  files?: string[];
  exports?: unknown;
  bin?: unknown;
  main?: unknown;
  types?: unknown;
  [field: string]: unknown;
}

/** No README; a test file or build state shipped. */
function misplacedFiles(files: readonly string[]): string[] {
  const problems: string[] = [];
  if (!files.some((file) => /^readme(\.md)?$/i.test(file))) problems.push("no README in the tarball");
  for (const file of files) {
    if (/(^|\/)(test|tests|__tests__|fixtures)\//.test(file) || /\.(test|spec)\.[cm]?[jt]sx?$/.test(file))
      problems.push(`ships a test file: ${file}`);
    if (file.endsWith(".tsbuildinfo")) problems.push(`ships build state: ${file}`);
  }
  return problems;
}

/**
 * The `files` allow-list: nothing outside it, and each entry matches something (a changelog comes
 * with the first release).
 */
function filesListProblems(manifest: Manifest, files: readonly string[]): string[] {
  const problems: string[] = [];
  const allowed: string[] = manifest.files ?? [];
  const always = /^(package\.json|readme(\.md)?|license(\.md|\.txt)?|changelog\.md)$/i;
  const underEntry = (file: string, entry: string) =>
    file === entry || file.startsWith(`${entry.replace(/\/$/, "")}/`);
  for (const file of files) {
    if (!always.test(file) && !allowed.some((entry) => underEntry(file, entry)))
      problems.push(`ships ${file}, which the package.json "files" list does not name`);
  }
  for (const entry of allowed) {
    if (entry !== "CHANGELOG.md" && !files.some((file) => underEntry(file, entry)))
      problems.push(`"files" names ${entry}, which is not in the tarball`);
  }
  return problems;
}

/**
 * Whether `text` holds `path` as a path of its own: not the tail of a URL (`scheme://root/key` is no
 * mention of a home `/root/`) or of a longer path (`/opt/root/`).
 */
function namesPath(text: string, path: string): boolean {
  const escaped = path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(?<![\\w/:.~-])${escaped}`).test(text);
}

/** Text that names the machine it was built on; a source map pointing outside the tarball. */
function textProblems(unpacked: string, files: readonly string[], machinePaths: readonly string[]): string[] {
  const problems: string[] = [];
  const has = new Set(files);
  for (const file of files) {
    if (!/\.(js|mjs|cjs|ts|mts|map|json|md)$/.test(file)) continue;
    const text = readFileSync(join(unpacked, file), "utf8");
    for (const path of machinePaths) {
      if (namesPath(text, path)) problems.push(`${file} contains the build machine's path ${path}`);
    }
    if (file.endsWith(".map")) {
      const map = JSON.parse(text) as { sources?: string[] };
      for (const source of map.sources ?? []) {
        const target = posix.normalize(posix.join(posix.dirname(file), source));
        if (source.startsWith("/") || !has.has(target))
          problems.push(`${file} points at ${source}, which is not in the tarball`);
      }
    }
  }
  return problems;
}

/** Every target of `exports`, `bin`, `main` and `types` is a file of the tarball. */
function missingTargets(manifest: Manifest, files: readonly string[]): string[] {
  const has = new Set(files);
  const targets: string[] = [];
  const collect = (value: unknown) => {
    if (typeof value === "string") targets.push(value);
    else if (value && typeof value === "object") for (const inner of Object.values(value)) collect(inner);
  };
  collect(manifest.exports);
  collect(manifest.bin);
  collect(manifest.main);
  collect(manifest.types);
  return targets
    .filter((target) => !has.has(posix.normalize(target)))
    .map((target) => `${target} (named in package.json) is not in the tarball`);
}

/** Dependency ranges: real versions, and our own packages at the version being published. */
function rangeProblems(manifest: Manifest, published: ReadonlyMap<string, string>): string[] {
  const problems: string[] = [];
  for (const field of ["dependencies", "peerDependencies", "optionalDependencies", "devDependencies"]) {
    for (const [name, range] of Object.entries((manifest[field] ?? {}) as Record<string, string>)) {
      if (/^(workspace|link|file|catalog|portal):/.test(range))
        problems.push(`${field} ${name} is "${range}", not a version`);
      else if (published.has(name) && !takes(range, published.get(name)!))
        problems.push(
          `${field} ${name} is "${range}", which does not take the ${published.get(name)} published with it`,
        );
    }
  }
  return problems;
}

/**
 * What dist/ imports at run time is declared as a dependency (a devDependency is not installed for
 * users), and every relative import lands on a file of the tarball.
 */
async function importProblems(
  unpacked: string,
  manifest: Manifest,
  files: readonly string[],
): Promise<string[]> {
  const problems: string[] = [];
  const declared = new Set([
    manifest.name,
    ...Object.keys((manifest.dependencies ?? {}) as object),
    ...Object.keys((manifest.peerDependencies ?? {}) as object),
    ...Object.keys((manifest.optionalDependencies ?? {}) as object),
  ]);
  const builtins = new Set(builtinModules);
  const entryPoints = files
    .filter((file) => /^(dist|bin)\/.*\.(js|mjs|cjs)$/.test(file))
    .map((file) => join(unpacked, file));
  try {
    const result = await build({
      entryPoints,
      bundle: true,
      write: false,
      metafile: true,
      outdir: join(unpacked, "..", "esbuild-out"),
      platform: "node",
      format: "esm",
      packages: "external",
      logLevel: "silent",
    });
    for (const [input, { imports }] of Object.entries(result.metafile.inputs)) {
      for (const { path, external } of imports) {
        if (!external || path.startsWith("node:") || builtins.has(path)) continue;
        const name = path.startsWith("@") ? path.split("/").slice(0, 2).join("/") : path.split("/")[0]!;
        if (!declared.has(name))
          problems.push(
            `${relative(unpacked, input)} imports ${path}, which is not in dependencies, peerDependencies or optionalDependencies`,
          );
      }
    }
  } catch (error) {
    const { errors = [] } = error as { errors?: { text: string; location?: { file: string } | null }[] };
    for (const problem of errors) problems.push(`${problem.location?.file ?? "dist"}: ${problem.text}`);
    if (errors.length === 0) problems.push(`dist/ could not be read: ${String(error)}`);
  }
  return problems;
}
