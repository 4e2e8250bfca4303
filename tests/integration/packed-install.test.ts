/**
 * ferry as users install it: every publishable package is built to dist/, packed with `pnpm pack`,
 * published to a real npm registry on 127.0.0.1 (verdaccio; third-party packages come through its
 * uplink), and installed with `npm install @ferry/cli @ferry/storage-s3` in a fresh folder that has its
 * own .npmrc. From that folder: the `ferry` command (local and s3rver copies, bytes compared), a plain
 * Node ESM script using @ferry/core (which loads @ferry/parquet from the tarballs on first Table use),
 * the same script bundled with esbuild, and pnpm as a second spelling. Each tarball's contents are
 * checked as well; every failure names the package and what is wrong.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import {
  eachLimited,
  filesBelow,
  type NpmRegistry,
  type PackedPackage,
  packWorkspace,
  type S3Backend,
  s3ClientEnv,
  startNpmRegistry,
  startS3rver,
  tarballProblems,
} from "@ferry/test-harness";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const exec = promisify(execFile);

/** A small tree with a nested folder, a unicode name and a seeded binary file. */
const TREE: Record<string, Buffer> = {
  "a.txt": Buffer.from("alpha\n"),
  "sub/b.txt": Buffer.from("beta\n"),
  "sub/deeper/ünï.txt": Buffer.from("unicode name\n"),
  "bytes.bin": Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) % 256)),
};

const GRADES = { id: [1, 2, 3], grade: ["a", "b", "b"] };

/** What a user writes: copy a folder, write a Table and read it back (parquet is loaded on first use). */
const SCRIPT = `
import { folder, load, saveResource, Table, table } from "@ferry/core";

const [work] = process.argv.slice(2);
const copied = await folder(work + "/tree").to(work + "/script-copy");
console.log(JSON.stringify({ files: (await copied.ls({ recursive: true })).length }));
const written = await table(${JSON.stringify(GRADES)}, work + "/grades").write();
await saveResource(written, { name: "~/grades", cwd: work });
const back = await load("~/grades", { cwd: work });
console.log(JSON.stringify({ table: back instanceof Table, rows: await Table.from(work + "/grades").fetch() }));
`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function runIn(
  cwd: string,
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<Run> {
  try {
    const { stdout, stderr } = await exec(command, args, {
      cwd,
      env: { ...process.env, FORCE_COLOR: "0", ...env },
      maxBuffer: 64 * 1024 * 1024,
      timeout: 240_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout = "", stderr = "" } = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof code === "number" ? code : -1, stdout, stderr: stderr || String(error) };
  }
}

function expectOk(run: Run, what: string): void {
  if (run.code !== 0) throw new Error(`${what} exited ${run.code}:\n${run.stderr}\n${run.stdout}`);
}

function writeTree(dir: string): void {
  for (const [path, bytes] of Object.entries(TREE)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), bytes);
  }
}

/** The script ran cleanly on `dir`: the folder copied byte for byte, the Table read back as written. */
function expectScriptWorked(run: Run, dir: string, what: string): void {
  expectOk(run, what);
  expect(run.stderr, what).toBe("");
  const [copy, grades] = run.stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));
  expect(copy, what).toEqual({ files: Object.keys(TREE).length });
  expect(grades, what).toEqual({ table: true, rows: GRADES });
  expectSameTree(join(dir, "script-copy"));
}

function expectSameTree(dir: string): void {
  expect(filesBelow(dir).sort()).toEqual(Object.keys(TREE).sort());
  for (const [path, bytes] of Object.entries(TREE)) {
    expect(readFileSync(join(dir, path)).equals(bytes), `${path} differs`).toBe(true);
  }
}

/**
 * A fresh project folder whose .npmrc points at the registry and nowhere else. npm and pnpm keep their
 * usual caches (as on a user's machine): packages already there are not downloaded again.
 */
function freshProject(parent: string, name: string, registry: NpmRegistry): string {
  const dir = join(parent, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "package.json"),
    `${JSON.stringify({ name, private: true, type: "module" }, null, 2)}\n`,
  );
  writeFileSync(join(dir, ".npmrc"), `${registry.npmrc()}fund=false\naudit=false\nupdate-notifier=false\n`);
  writeTree(join(dir, "tree"));
  writeFileSync(join(dir, "script.mjs"), SCRIPT);
  return dir;
}

const CLI_ENGINES: string = JSON.parse(readFileSync(join(ROOT, "packages", "cli", "package.json"), "utf8"))
  .engines.node;

/**
 * The oldest Node that @ferry/cli's engines field allows (">=x.y" means x.y.0), installed from the
 * registry: Node itself is an npm package, node-<os>-<arch>, fetched through the registry's uplink.
 */
async function installOldestNode(
  work: string,
  registry: NpmRegistry,
): Promise<{ version: string; bin: string }> {
  const oldest = /^>=\s*(\d+)\.(\d+)(?:\.(\d+))?$/.exec(CLI_ENGINES);
  if (!oldest) throw new Error(`@ferry/cli: engines.node is "${CLI_ENGINES}", not a ">=x.y" range to test`);
  const version = `${oldest[1]}.${oldest[2]}.${oldest[3] ?? 0}`;
  const prefix = join(work, `node-${version}`);
  mkdirSync(prefix, { recursive: true });
  writeFileSync(join(prefix, ".npmrc"), registry.npmrc());
  const nodePackage = `node-${process.platform}-${process.arch}`;
  expectOk(
    await runIn(prefix, "npm", ["install", "--prefix", prefix, `${nodePackage}@${version}`]),
    `npm install ${nodePackage}@${version}`,
  );
  return { version, bin: join(prefix, "node_modules", nodePackage, "bin") };
}

describe("the published packages, installed in a fresh project", () => {
  let work: string;
  let registry: NpmRegistry | undefined;
  let registryError = "";
  let s3: S3Backend;
  let packed: PackedPackage[] = [];
  let project: string;
  let pnpmProject: string;
  let pnpmInstall: Promise<Run>;
  let oldestNode: Promise<{ version: string; bin: string }>;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "ferry-packed-"));
    try {
      registry = await startNpmRegistry();
    } catch (error) {
      registryError = String(error).split("\n")[0]!;
      return;
    }
    s3 = await startS3rver();
    // Installs that do not wait for each other run side by side: Node (for the oldest-Node check)
    // while the packages build, pnpm's project while npm's installs.
    oldestNode = installOldestNode(work, registry);
    oldestNode.catch(() => undefined); // reported by the test that awaits it
    packed = await packWorkspace(ROOT, join(work, "pack"), { concurrency: 4 });
    await eachLimited(packed, 4, (pkg) => registry!.publish(pkg.tarball));
    project = freshProject(work, "npm-project", registry);
    pnpmProject = freshProject(work, "pnpm-project", registry);
    pnpmInstall = runIn(pnpmProject, "pnpm", ["add", "@ferry/cli", "@ferry/core", "@ferry/storage-s3"]);
    expectOk(
      await runIn(project, "npm", ["install", "@ferry/cli", "@ferry/storage-s3"]),
      "npm install @ferry/cli @ferry/storage-s3",
    );
  }, 600_000);

  afterAll(async () => {
    await Promise.allSettled([oldestNode, pnpmInstall]);
    await s3?.stop();
    await registry?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const ready = (context: { skip: (note?: string) => void }) => {
    if (!registry) context.skip(`no npm registry on 127.0.0.1 (verdaccio did not start: ${registryError})`);
  };

  it("every publishable package was packed", (context) => {
    ready(context);
    expect(packed.map((pkg) => pkg.name)).toEqual(
      expect.arrayContaining([
        "@ferry/cli",
        "@ferry/core",
        "@ferry/parquet",
        "@ferry/plugin-kit",
        "@ferry/storage-local",
        "@ferry/storage-s3",
      ]),
    );
  });

  it("each tarball holds a README and what package.json names, no tests, no machine paths, no devDependency imports", async (context) => {
    ready(context);
    const machinePaths = [
      ...new Set([ROOT, realpathSync(ROOT), work, realpathSync(work), `${homedir()}/`]),
    ].filter((path) => path.length > 1);
    const published = new Map(packed.map((pkg) => [pkg.name, pkg.version]));
    const problems: string[] = [];
    for (const pkg of packed) {
      const unpacked = join(work, "unpacked", pkg.name.replace("/", "+"));
      mkdirSync(unpacked, { recursive: true });
      expectOk(
        await runIn(unpacked, "tar", ["-xzf", pkg.tarball, "--strip-components=1"]),
        `tar -xzf ${pkg.tarball}`,
      );
      problems.push(...(await tarballProblems(unpacked, { published, machinePaths })));
    }
    expect(problems).toEqual([]);
  }, 120_000);

  it("npx ferry --version prints the CLI's version", async (context) => {
    ready(context);
    const run = await runIn(project, "npx", ["ferry", "--version"]);
    expectOk(run, "npx ferry --version");
    expect(run.stdout.trim()).toBe(packed.find((pkg) => pkg.name === "@ferry/cli")!.version);
  }, 60_000);

  it("npx ferry cp copies a folder to another local folder byte for byte", async (context) => {
    ready(context);
    expectOk(await runIn(project, "npx", ["ferry", "cp", "tree", "copy"]), "npx ferry cp tree copy");
    expectSameTree(join(project, "copy"));
  }, 60_000);

  it("npx ferry cp copies a folder to s3rver and back, configured as the S3 README says", async (context) => {
    ready(context);
    const bucket = await s3.createBucket();
    const env = s3ClientEnv(s3);
    expectOk(
      await runIn(project, "npx", ["ferry", "cp", "tree", `s3://${bucket}/tree`], env),
      "npx ferry cp tree s3://",
    );
    for (const [path, bytes] of Object.entries(TREE)) {
      const key = path.split("/").map(encodeURIComponent).join("/");
      const response = await fetch(`${s3.endpoint}/${bucket}/tree/${key}`);
      expect(response.status, `s3://${bucket}/tree/${path}`).toBe(200);
      expect(
        Buffer.from(await response.arrayBuffer()).equals(bytes),
        `s3://${bucket}/tree/${path} differs`,
      ).toBe(true);
    }
    expectOk(
      await runIn(project, "npx", ["ferry", "cp", `s3://${bucket}/tree`, "back"], env),
      "npx ferry cp s3:// back",
    );
    expectSameTree(join(project, "back"));
  }, 90_000);

  it("a Node ESM script imports @ferry/core, copies a folder and writes and reads a Table", async (context) => {
    ready(context);
    expectScriptWorked(
      await runIn(project, process.execPath, ["script.mjs", project]),
      project,
      "node script.mjs",
    );
  }, 60_000);

  it("a TypeScript user's script typechecks against the installed declarations (skipLibCheck off)", async (context) => {
    ready(context);
    const dir = join(project, "typed");
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, "user.mts"),
      [
        'import { FerryError, folder, Table, table } from "@ferry/core";',
        'import { s3 } from "@ferry/storage-s3";',
        'const copied = await folder("tree").to("copy");',
        "const names: string[] = await copied.ls();",
        'const grades = await table({ id: [1, 2] }, "grades").write();',
        'const back: Table = Table.from("grades");',
        's3({ region: "us-east-1" });',
        "export { FerryError, names, grades, back };",
        "",
      ].join("\n"),
    );
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2023",
          strict: true,
          noEmit: true,
          skipLibCheck: false,
        },
        files: ["user.mts"],
      }),
    );
    const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
    const run = await runIn(dir, process.execPath, [tsc, "-p", "."]);
    expect(`${run.stdout}${run.stderr}`.trim(), "tsc on the installed declarations").toBe("");
    expect(run.code).toBe(0);
  }, 120_000);

  it("the same script bundled with esbuild runs from a folder without node_modules", async (context) => {
    ready(context);
    const elsewhere = join(work, "bundled");
    mkdirSync(elsewhere, { recursive: true });
    writeTree(join(elsewhere, "tree"));
    await build({
      entryPoints: [join(project, "script.mjs")],
      outfile: join(elsewhere, "script.bundle.mjs"),
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node22",
      absWorkingDir: project,
      logLevel: "silent",
      // CommonJS dependencies bundled into ESM call require() for Node builtins.
      banner: {
        js: "import { createRequire as __ferryRequire } from 'node:module'; const require = __ferryRequire(import.meta.url);",
      },
    });
    const run = await runIn(elsewhere, process.execPath, ["script.bundle.mjs", elsewhere]);
    expectScriptWorked(run, elsewhere, "node script.bundle.mjs");
  }, 60_000);

  it("the command and the script run on the oldest Node that the CLI's engines field allows", async (context) => {
    ready(context);
    const { version, bin } = await oldestNode;
    const cli = JSON.parse(
      readFileSync(join(project, "node_modules", "@ferry", "cli", "package.json"), "utf8"),
    );
    expect(cli.engines.node, "@ferry/cli: engines.node changed between the checkout and the tarball").toBe(
      CLI_ENGINES,
    );
    const env = { PATH: `${bin}:${process.env.PATH}` };
    const node = await runIn(project, "node", ["--version"], env);
    expect(node.stdout.trim()).toBe(`v${version}`);
    const run = await runIn(project, "npx", ["ferry", "--version"], env);
    expectOk(run, `npx ferry --version on Node ${version}`);
    expect(run.stdout.trim()).toBe(cli.version);
    expectOk(
      await runIn(project, "npx", ["ferry", "cp", "tree", "copy-oldest-node"], env),
      `npx ferry cp on Node ${version}`,
    );
    expectSameTree(join(project, "copy-oldest-node"));
    const elsewhere = join(work, `script-on-node-${version}`);
    writeTree(join(elsewhere, "tree"));
    expectScriptWorked(
      await runIn(project, "node", ["script.mjs", elsewhere], env),
      elsewhere,
      `node script.mjs on Node ${version}`,
    );
  }, 120_000);

  it("pnpm add installs the same packages, and the command and the script work there too", async (context) => {
    ready(context);
    const other = pnpmProject;
    expectOk(await pnpmInstall, "pnpm add @ferry/cli @ferry/core @ferry/storage-s3");
    const version = await runIn(other, "pnpm", ["exec", "ferry", "--version"]);
    expectOk(version, "pnpm exec ferry --version");
    expect(version.stdout.trim()).toBe(packed.find((pkg) => pkg.name === "@ferry/cli")!.version);
    expectOk(
      await runIn(other, "pnpm", ["exec", "ferry", "cp", "tree", "copy"]),
      "pnpm exec ferry cp tree copy",
    );
    expectSameTree(join(other, "copy"));
    expectScriptWorked(
      await runIn(other, process.execPath, ["script.mjs", other]),
      other,
      "node script.mjs (pnpm project)",
    );
  }, 240_000);
});
