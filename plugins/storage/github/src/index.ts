/**
 * @ferry/storage-github: a GitHub repository at a ref as ferry storage. Reads a folder at a branch,
 * tag or commit through the git trees and blobs APIs; writes as one commit per batch through the
 * git data API, with a fast-forward check so a concurrent push is a ConditionNotMet, never a lost commit.
 *
 *   import { ferry } from "@ferry/core";
 *   import github from "@ferry/storage-github";
 *   ferry.use(github({ token: process.env.GITHUB_TOKEN }));
 */

import type { StoragePlugin } from "@ferry/plugin-kit";
import { completeLocation, errors, type Location, registerSecret } from "@ferry/plugin-kit";
import { GITHUB_CAPABILITIES } from "./capabilities.ts";
import { lazyClient } from "./client.ts";
import { GithubDriver } from "./driver.ts";
import { githubGrammar } from "./location.ts";
import { checkOptions, type GithubOptions } from "./options.ts";

export { GITHUB_CAPABILITIES } from "./capabilities.ts";
export { GithubDriver } from "./driver.ts";
export type { BatchOptions, BatchResult, GithubTransaction } from "./git/batch.ts";
export type { CommitSummary, GithubOptions, GitIdentity } from "./options.ts";

/** The GitHub storage plugin (scheme `github`, and https://github.com/... URLs: see location.ts). */
export function github(options: GithubOptions = {}): StoragePlugin {
  checkOptions(options);
  const client = lazyClient(options);
  const grammar = githubGrammar();
  registerSecret(options.token);
  return {
    name: "github",
    schemes: ["github"],
    capabilities: GITHUB_CAPABILITIES,
    location: grammar,
    create(written: Location) {
      const location = completeLocation(written, grammar);
      if (!location.owner || !location.repo) {
        throw errors.invalidInput(
          `a GitHub location needs an owner and a repository (github://owner/repo@ref/path): ${location.url}`,
          {
            system: "github",
          },
        );
      }
      return new GithubDriver(
        { owner: location.owner, repo: location.repo, ref: location.ref },
        client,
        options,
      );
    },
  };
}

/** The driver under a GitHub storage, for batches: `githubDriver(storage).batch(async (tx) => ...)`. */
export function githubDriver(storage: { driver: unknown }): GithubDriver {
  if (!(storage.driver instanceof GithubDriver))
    throw errors.invalidInput("not a GitHub storage", { system: "github" });
  return storage.driver;
}

export default github;
