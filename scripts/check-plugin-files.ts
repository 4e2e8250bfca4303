/**
 * Every plugin package has the same file set and the same package.json conventions, so that a new
 * plugin is a copy of an old one; and every storage plugin has the same file per role (OpenDAL's
 * model), so that the code for one role is found in the same place in every plugin: `src/` holds only
 * the role files below, each doing only its role, and at most ONE subfolder for what is particular to
 * the system (a protocol, a fast path). Run: `node scripts/check-plugin-files.ts` (also run by the
 * test suite).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const REQUIRED_FILES = [
  "src/index.ts",
  "README.md",
  "package.json",
  "tsconfig.json",
  "CHANGELOG.md",
] as const;

/** Where a plugin runs the shared conformance suite. */
export const CONFORMANCE_TESTS = [
  "test/conformance.test.ts",
  "test/integration/conformance.test.ts",
] as const;

export function pluginDirs(root: string): string[] {
  const dirs: string[] = [];
  for (const category of ["storage", "table"]) {
    const base = join(root, "plugins", category);
    if (!existsSync(base)) continue;
    for (const name of readdirSync(base).sort()) dirs.push(join("plugins", category, name));
  }
  return dirs;
}

/** Role files every storage plugin has. */
export const REQUIRED_ROLES = [
  "index.ts", // the factory and the public exports
  "options.ts", // options type, defaults, environment variables, validation of options
  "location.ts", // its URL grammar: the plugin's \`location\` hook
  "capabilities.ts", // the capabilities and limits it declares
  "client.ts", // the SDK / connection: creating, caching and closing it
  "driver.ts", // the StorageDriver class, delegating to the files below
  "read.ts", // reads (ranged streams)
  "write.ts", // writes (single and multipart/chunked uploads, checks of the answer)
  "list.ts", // listing (pages, recursion, entries)
  "errors.ts", // the system's errors mapped to FerryError
] as const;

/** Role files a storage plugin may have besides. */
export const OPTIONAL_ROLES = ["cleanup.ts"] as const;

export function checkRoles(root: string, dir: string): string[] {
  const src = join(root, dir, "src");
  if (!existsSync(src)) return [`${dir}: missing src/`];
  const problems: string[] = [];
  const entries = readdirSync(src, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
  const allowed = new Set<string>([...REQUIRED_ROLES, ...OPTIONAL_ROLES]);
  for (const role of REQUIRED_ROLES) {
    if (!entries.some((entry) => entry.isFile() && entry.name === role))
      problems.push(`${dir}: missing src/${role}`);
  }
  for (const entry of entries) {
    if (entry.isFile() && !allowed.has(entry.name))
      problems.push(`${dir}: src/${entry.name} is not a role file (move it into the plugin's one subfolder)`);
  }
  const folders = entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  if (folders.length > 1)
    problems.push(`${dir}: src/ has ${folders.length} subfolders (${folders.join(", ")}); at most one`);
  return problems;
}

export function checkPlugin(root: string, dir: string): string[] {
  const problems: string[] = [];
  for (const file of REQUIRED_FILES) {
    if (!existsSync(join(root, dir, file))) problems.push(`${dir}: missing ${file}`);
  }
  // The shared suite: a unit test for a flavour, an integration test (against its server) for a storage.
  if (!CONFORMANCE_TESTS.some((file) => existsSync(join(root, dir, file))))
    problems.push(`${dir}: missing ${CONFORMANCE_TESTS.join(" or ")}`);
  const packageFile = join(root, dir, "package.json");
  if (!existsSync(packageFile)) return problems;
  const pkg = JSON.parse(readFileSync(packageFile, "utf8")) as Record<string, unknown>;
  const [, category, name] = dir.split("/");
  const expectedName = `@ferry/${category}-${name}`;
  if (pkg.name !== expectedName)
    problems.push(`${dir}: package name ${String(pkg.name)}, expected ${expectedName}`);
  if (pkg.type !== "module") problems.push(`${dir}: "type" must be "module" (ESM only)`);
  if (pkg.sideEffects !== false) problems.push(`${dir}: "sideEffects" must be false`);
  const engines = pkg.engines as Record<string, string> | undefined;
  if (!engines?.node?.startsWith(">=22")) problems.push(`${dir}: engines.node must be ">=22…"`);
  const peers = pkg.peerDependencies as Record<string, string> | undefined;
  if (!peers?.["@ferry/core"]) problems.push(`${dir}: @ferry/core must be a peer dependency`);
  if (!peers?.["@ferry/plugin-kit"]) problems.push(`${dir}: @ferry/plugin-kit must be a peer dependency`);
  if (category === "storage") problems.push(...checkRoles(root, dir));
  const dependencies = pkg.dependencies as Record<string, string> | undefined;
  if (dependencies?.["@ferry/core"]) problems.push(`${dir}: @ferry/core must not be a direct dependency`);
  const exportsField = (pkg.exports as Record<string, Record<string, string>> | undefined)?.["."];
  if (!exportsField?.types || !exportsField.import)
    problems.push(`${dir}: exports["."] needs "types" and "import"`);
  const files = pkg.files as string[] | undefined;
  if (!files?.includes("dist")) problems.push(`${dir}: "files" must allow-list dist`);
  return problems;
}

export function checkAll(root: string): string[] {
  return pluginDirs(root).flatMap((dir) => checkPlugin(root, dir));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const problems = checkAll(process.cwd());
  for (const problem of problems) console.error(problem);
  console.log(
    problems.length === 0
      ? `all ${pluginDirs(process.cwd()).length} plugins have the standard file set`
      : `${problems.length} problem(s)`,
  );
  process.exit(problems.length === 0 ? 0 : 1);
}
