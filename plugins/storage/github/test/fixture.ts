/** Shared setup for the plugin's own tests: the harness GitHub server and storages on its repositories. */
import { execFileSync } from "node:child_process";
import { createStorage, parseLocation } from "@ferry/core";
import { FerryError, type Storage } from "@ferry/plugin-kit";
import {
  type GithubBackend,
  type GithubServerOptions,
  type HostedRepository,
  printLogsOnFailure,
  startGithubServer,
} from "@ferry/test-harness";
import { afterAll, afterEach, beforeAll } from "vitest";
import { type GithubOptions, github } from "../src/index.ts";

let counter = 0;

/** A repository name no other test in this process uses. */
export function repoName(prefix = "repo"): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}

/** A storage on `github://owner/repo[@ref]`, configured against the harness server. */
export async function openStorage(
  backend: GithubBackend,
  url: string,
  options: GithubOptions = {},
): Promise<Storage> {
  const plugin = github({ baseUrl: backend.baseUrl, token: backend.token, ...options });
  return createStorage(await plugin.create(parseLocation(url)));
}

/** Commit count on a branch, read with git in the bare repository. */
export function commitCount(repo: HostedRepository, branch = repo.defaultBranch): number {
  return Number(
    execFileSync("git", ["--git-dir", repo.gitDir, "rev-list", "--count", branch], {
      encoding: "utf8",
    }).trim(),
  );
}

/** Files on a branch, read with git in the bare repository. */
export function filesAt(repo: HostedRepository, ref = repo.defaultBranch): string[] {
  const out = execFileSync("git", ["--git-dir", repo.gitDir, "ls-tree", "-r", "--name-only", "-z", ref], {
    encoding: "utf8",
  });
  return out.split("\0").filter(Boolean);
}

export async function listPaths(storage: Storage, dir = "", recursive = true): Promise<string[]> {
  const paths: string[] = [];
  for await (const entry of storage.list(dir, { recursive })) paths.push(entry.path);
  return paths;
}

export async function text(storage: Storage, path: string): Promise<string> {
  return new TextDecoder().decode(await storage.readBytes(path));
}

/** One GitHub server for the test file: started before, logs printed for a failed test, stopped after. */
export function useGithubServer(options?: GithubServerOptions): { readonly backend: GithubBackend } {
  const handle = {} as { backend: GithubBackend };
  beforeAll(async () => {
    handle.backend = await startGithubServer(options);
  });
  afterEach((context) => printLogsOnFailure(context, handle.backend));
  afterAll(() => handle.backend?.stop());
  return handle;
}

/** The FerryError a promise rejects with (fails the test if it resolves or throws something else). */
export async function failure(promise: Promise<unknown>): Promise<FerryError> {
  try {
    await promise;
  } catch (error) {
    if (FerryError.isInstance(error)) return error;
    throw error;
  }
  throw new Error("expected a FerryError");
}
