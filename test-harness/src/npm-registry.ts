/**
 * A real npm registry on 127.0.0.1: verdaccio 6 as a child process, its storage in a temporary
 * directory removed at stop. `@ferry/*` packages live only here (published by the test, never looked
 * up elsewhere); every other package is fetched through an uplink to the registry npm is configured
 * with, as a user's install would fetch it.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { promisify } from "node:util";
import { type Backend, freePort, HOST, spawnBackend, stopAndRemove, waitUntil } from "./lifecycle.ts";

export interface NpmRegistry extends Backend {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string;
  /** The `.npmrc` lines that point npm and pnpm at this registry, with a token allowed to publish. */
  npmrc(): string;
  /** `npm publish <tarball>` to this registry, as a maintainer releases a package. */
  publish(tarball: string): Promise<void>;
}

const require = createRequire(import.meta.url);

function verdaccioBin(): string {
  return join(dirname(require.resolve("verdaccio/package.json")), "bin", "verdaccio");
}

/** The registry npm itself is configured with (its default unless the machine says otherwise). */
function configuredRegistry(): string {
  const fromEnv = process.env.npm_config_registry ?? process.env.NPM_CONFIG_REGISTRY;
  if (fromEnv) return fromEnv;
  return execFileSync("npm", ["config", "get", "registry"], { encoding: "utf8" }).trim();
}

export async function startNpmRegistry(options: { uplink?: string } = {}): Promise<NpmRegistry> {
  const directory = await mkdtemp(join(tmpdir(), "ferry-registry-"));
  const config = join(directory, "config.yaml");
  await writeFile(config, verdaccioConfig(directory, options.uplink ?? configuredRegistry()));
  const port = await freePort();
  const url = `http://${HOST}:${port}/`;
  const child = spawnBackend("verdaccio", process.execPath, [
    verdaccioBin(),
    "--config",
    config,
    "--listen",
    `${HOST}:${port}`,
  ]);
  let token = "";
  const registry: NpmRegistry = {
    name: "verdaccio",
    url,
    logs: () => child.logs(),
    npmrc: () => `registry=${url}\n//${HOST}:${port}/:_authToken=${token}\n`,
    publish: (tarball) => publishTo(url, directory, registry.npmrc(), tarball),
    stop: stopAndRemove(child, directory),
  };
  try {
    await waitUntil(
      async () => {
        if (child.process.exitCode !== null) throw new Error(`verdaccio exited early:\n${child.logs()}`);
        return (await fetch(`${url}-/ping`)).ok;
      },
      { what: "verdaccio" },
    );
    token = await signUp(url);
  } catch (error) {
    await registry.stop();
    throw error;
  }
  return registry;
}

/** verdaccio's config.yaml: storage and users in `directory`, every package but ours proxied to `uplink`. */
function verdaccioConfig(directory: string, uplink: string): string {
  return [
    `storage: ${JSON.stringify(join(directory, "storage"))}`,
    "auth:",
    "  htpasswd:",
    `    file: ${JSON.stringify(join(directory, "htpasswd"))}`,
    "    max_users: 10",
    "uplinks:",
    "  public:",
    `    url: ${JSON.stringify(uplink)}`,
    "    timeout: 60s",
    "    maxage: 60m",
    "packages:",
    // Never proxied: a package of ours must come from what the test published, not from elsewhere.
    "  '@ferry/*':",
    "    access: $all",
    "    publish: $authenticated",
    "  '**':",
    "    access: $all",
    "    publish: $authenticated",
    "    proxy: public",
    "web:",
    "  enable: false",
    "log: { type: stdout, format: pretty, level: warn }",
    "max_body_size: 100mb",
    "",
  ].join("\n");
}

/** `npm publish` of `tarball` to the registry at `url`, with `npmrc` as the user's config. */
async function publishTo(url: string, directory: string, npmrc: string, tarball: string): Promise<void> {
  const userconfig = join(directory, "publish.npmrc");
  await writeFile(userconfig, npmrc);
  try {
    await promisify(execFile)("npm", ["publish", tarball, "--userconfig", userconfig, "--registry", url], {
      cwd: directory,
    });
  } catch (error) {
    const { stderr = "" } = error as { stderr?: string };
    throw new Error(`npm publish ${basename(tarball)} failed: ${stderr.trim() || String(error)}`);
  }
}

/** The registry's own sign-up (what `npm adduser` sends): the token of a user who may publish. */
async function signUp(url: string): Promise<string> {
  const response = await fetch(`${url}-/user/org.couchdb.user:ferry`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "ferry", password: "ferry-test-registry" }),
  });
  if (!response.ok)
    throw new Error(`verdaccio refused to add a user: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { token: string }).token;
}
