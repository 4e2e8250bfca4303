export type { GithubServerSettings, Principal } from "./context.ts";
export { EMPTY_TREE_SHA, GitRepository, ZERO_SHA } from "./git.ts";
export { type CommitSpec, type FileContent, HostedRepository, type LogEntry } from "./repository.ts";
export {
  type CreateRepoOptions,
  type GithubBackend,
  type GithubServerOptions,
  startGithubServer,
  type TokenOptions,
} from "./server.ts";
