/**
 * The workspace's packages as they are published: each publishable package (not private) is copied
 * to a staging folder beside nothing but the shared tsconfig, built there to dist/ with its own
 * tsconfig.build.json, and packed with `pnpm pack` (which rewrites `workspace:` ranges to versions).
 * The checkout itself never gets a dist/ folder: tests and the CLI's bin run the sources there.
 */
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from "node:fs";
import { basename, join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface PackedPackage {
  readonly name: string;
  readonly version: string;
  /** The package's folder in the checkout, relative to the workspace root (`plugins/storage/s3`). */
  readonly folder: string;
  /** The `.tgz` that `pnpm pack` wrote. */
  readonly tarball: string;
}

/** The folders of the packages a release publishes: packages/* and plugins/*\/*, less private ones. */
export function publishableFolders(root: string): string[] {
  const folders: string[] = [];
  const add = (parent: string) => {
    for (const entry of readdirSync(join(root, parent), { withFileTypes: true })) {
      const folder = `${parent}/${entry.name}`;
      const manifest = join(root, folder, "package.json");
      if (!entry.isDirectory() || !existsSync(manifest)) continue;
      if (JSON.parse(readFileSync(manifest, "utf8")).private !== true) folders.push(folder);
    }
  };
  add("packages");
  for (const kind of readdirSync(join(root, "plugins"), { withFileTypes: true })) {
    if (kind.isDirectory()) add(`plugins/${kind.name}`);
  }
  return folders.sort();
}

/** Runs `work` over `items`, at most `limit` at a time; the first failure rejects once all have settled. */
export async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>) {
  const queue = [...items];
  const failures: unknown[] = [];
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
        await work(item).catch((error: unknown) => failures.push(error));
      }
    }),
  );
  if (failures.length > 0)
    throw failures.length === 1 ? failures[0] : new AggregateError(failures, String(failures.join("\n")));
}

function outputOf(error: unknown): string {
  const {
    stdout = "",
    stderr = "",
    message = String(error),
  } = error as {
    stdout?: string;
    stderr?: string;
    message?: string;
  };
  return `${stdout}${stderr}`.trim() || message;
}

/**
 * Build and pack every publishable package of the workspace at `root` into `into/tarballs`
 * (`into/stage` holds the built copies). Dependencies between workspace packages resolve to their
 * sources (the `@ferry/source` condition in the shared tsconfig), so the order does not matter.
 */
export async function packWorkspace(
  root: string,
  into: string,
  options: { concurrency?: number } = {},
): Promise<PackedPackage[]> {
  const stage = join(into, "stage");
  const tarballs = join(into, "tarballs");
  mkdirSync(stage, { recursive: true });
  mkdirSync(tarballs, { recursive: true });
  cpSync(join(root, "tsconfig.base.json"), join(stage, "tsconfig.base.json"));
  symlinkSync(join(root, "node_modules"), join(stage, "node_modules"));
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const packed: PackedPackage[] = [];
  await eachLimited(publishableFolders(root), options.concurrency ?? 2, async (folder) => {
    const manifest = JSON.parse(readFileSync(join(root, folder, "package.json"), "utf8"));
    const staged = join(stage, folder);
    cpSync(join(root, folder), staged, {
      recursive: true,
      filter: (source) =>
        !["node_modules", "dist", "test"].includes(basename(source)) && !source.endsWith(".tsbuildinfo"),
    });
    symlinkSync(join(root, folder, "node_modules"), join(staged, "node_modules"));
    try {
      await run(process.execPath, [tsc, "-p", join(staged, "tsconfig.build.json")], { cwd: staged });
    } catch (error) {
      throw new Error(
        `${manifest.name}: the dist build (tsc -p tsconfig.build.json) failed:\n${outputOf(error)}`,
      );
    }
    try {
      await run("pnpm", ["pack", "--pack-destination", tarballs], { cwd: staged });
    } catch (error) {
      throw new Error(`${manifest.name}: pnpm pack failed:\n${outputOf(error)}`);
    }
    const tarball = join(
      tarballs,
      `${manifest.name.replace(/^@/, "").replace("/", "-")}-${manifest.version}.tgz`,
    );
    if (!existsSync(tarball)) throw new Error(`${manifest.name}: pnpm pack wrote no ${basename(tarball)}`);
    packed.push({ name: manifest.name, version: manifest.version, folder, tarball });
  });
  return packed.sort((a, b) => a.name.localeCompare(b.name));
}
