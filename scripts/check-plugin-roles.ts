/**
 * Every storage plugin has the same file per role (OpenDAL's model), so that the code for one role
 * is found in the same place in every plugin: `src/` holds only the role files below, each doing
 * only its role, and at most ONE subfolder for what is particular to the system (a protocol, a fast
 * path). Run: `node scripts/check-plugin-roles.ts` (also run by the test suite, for the plugins in
 * ROLE_PLUGINS; a plugin joins the list once it has the roles).
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** Role files every storage plugin has. */
export const REQUIRED_ROLES = [
  "index.ts", // the factory and the public exports
  "options.ts", // options type, defaults, environment variables, validation of options
  "capabilities.ts", // the capabilities and limits it declares
  "client.ts", // the SDK / connection: creating, caching and closing it
  "driver.ts", // the StorageDriver class, delegating to the files below
  "read.ts", // reads (ranged streams)
  "write.ts", // writes (single and multipart/chunked uploads, checks of the answer)
  "list.ts", // listing (pages, recursion, entries)
  "errors.ts", // the system's errors mapped to FerryError
] as const;

/** Role files a storage plugin may have besides. */
export const OPTIONAL_ROLES = ["location.ts", "cleanup.ts"] as const;

/** Storage plugins that follow the roles. */
export const ROLE_PLUGINS = ["plugins/storage/sftp", "plugins/storage/github"] as const;

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

if (import.meta.url === `file://${process.argv[1]}`) {
  const problems = ROLE_PLUGINS.flatMap((dir) => checkRoles(process.cwd(), dir));
  for (const problem of problems) console.error(problem);
  console.log(
    problems.length === 0
      ? `all ${ROLE_PLUGINS.length} plugins have one file per role`
      : `${problems.length} problem(s)`,
  );
  process.exit(problems.length === 0 ? 0 : 1);
}
