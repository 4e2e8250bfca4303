/**
 * A message that tells the user what to change names it in the words of the interface they use: an
 * option for a library caller (`hostKeyCheck: "accept-new"`), a flag, config key or environment
 * variable for someone typing `ferry` commands. The CLI calls `useCliWording()` once at start. The
 * choice lives on globalThis, so plugins resolved against another copy of @ferry/core follow it too.
 */
const KEY = Symbol.for("ferry.wording");

export interface Wording {
  /** For code calling the library: option names, function calls. */
  library: string;
  /** For the `ferry` command: flags, config keys, environment variables. */
  cli: string;
}

/** From now on, messages in this process use their CLI wording. */
export function useCliWording(): void {
  (globalThis as Record<symbol, unknown>)[KEY] = "cli";
}

/** The spelling for whoever reads this process's messages. */
export function wording(words: Wording): string {
  return (globalThis as Record<symbol, unknown>)[KEY] === "cli" ? words.cli : words.library;
}
