/**
 * Every plugin package has the same file set and the same package.json conventions, so that a new
 * plugin is a copy of an old one. Run: `node scripts/check-plugin-files.ts` (also run by the test suite).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const REQUIRED_FILES = [
  "src/index.ts",
  "README.md",
  "package.json",
  "tsconfig.json",
  "test/conformance.test.ts",
  "CHANGELOG.md",
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

export function checkPlugin(root: string, dir: string): string[] {
  const problems: string[] = [];
  for (const file of REQUIRED_FILES) {
    if (!existsSync(join(root, dir, file))) problems.push(`${dir}: missing ${file}`);
  }
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
