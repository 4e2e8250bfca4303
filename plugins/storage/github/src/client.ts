/** The octokit client, loaded on first use (importing this plugin costs nothing until a request is made). */
import { debugLog, idleFetch, idleTimeoutMs } from "@ferry/plugin-kit";
import type { Octokit } from "@octokit/rest";
import { apiBaseUrl, environmentToken, type GithubOptions } from "./options.ts";

const debug = debugLog("ferry:github");
// octokit's request-log plugin prints every failed request with console.error; route it to
// NODE_DEBUG=ferry:github instead, since ferry reports failures as typed errors.
const log = { debug, info: debug, warn: debug, error: debug };

export type ClientSource = () => Promise<Octokit>;

/** One client per plugin instance, created lazily and shared by every repository it serves. */
export function lazyClient(options: GithubOptions): ClientSource {
  let client: Promise<Octokit> | undefined;
  return () => {
    client ??= (async () => {
      if (options.octokit) return options.octokit;
      const { Octokit: OctokitClass } = await import("@octokit/rest");
      const token = options.token ?? environmentToken();
      return new OctokitClass({
        baseUrl: apiBaseUrl(options),
        log,
        userAgent: "ferry-storage-github",
        request: { fetch: idleFetch(() => idleTimeoutMs(options.timeout), "github") },
        ...(token ? { auth: token } : {}),
      });
    })();
    return client;
  };
}

/** octokit's `request` option for an optional AbortSignal. */
export function withSignal(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal ? { signal } : {};
}
