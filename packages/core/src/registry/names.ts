/**
 * Registry names. Grammar (checked before anything touches storage):
 *
 *   name    := [scope "/"] segment ("/" segment)*
 *   scope   := "~"  (the project's local registry) | "@" (the shared registry)
 *   segment := [A-Za-z0-9] [A-Za-z0-9._-]*
 *
 * at most 200 characters after the scope. A segment starts with a letter or digit, so `.`, `..`,
 * hidden names and the registry's own `_versions` folders can never be spelled. A bare name (no
 * scope) goes to the scope configured as `registry.defaultScope` ("local" unless set).
 */
import { errors } from "@ferry/plugin-kit";

export type RegistryScope = "local" | "shared";

export interface RegistryName {
  scope: RegistryScope;
  /** The name inside its registry, e.g. `team/bert_tokenized`. */
  key: string;
  /** The canonical spelling, with its scope: `~/team/bert_tokenized` or `@/team/bert_tokenized`. */
  full: string;
}

export const MAX_NAME_LENGTH = 200;
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function scopePrefix(scope: RegistryScope): "~" | "@" {
  return scope === "local" ? "~" : "@";
}

/** Parse and validate a name; InvalidInput says exactly what is wrong with it. */
export function parseName(name: unknown, defaultScope: RegistryScope = "local"): RegistryName {
  if (typeof name !== "string")
    throw errors.invalidInput(`a registry name must be a string, got ${typeof name}`);
  let scope = defaultScope;
  let key = name;
  if (name.startsWith("~/")) {
    scope = "local";
    key = name.slice(2);
  } else if (name.startsWith("@/")) {
    scope = "shared";
    key = name.slice(2);
  } else if (name === "~" || name === "@") {
    throw errors.invalidInput(
      `registry name ${JSON.stringify(name)} has a scope but no name (write ${name}/my_data)`,
    );
  }
  const problem = keyProblem(key);
  if (problem) {
    throw errors.invalidInput(
      `invalid registry name ${JSON.stringify(name)}: ${problem}. Names are ~/ or @/ followed by /-separated segments of letters, digits, ".", "_" and "-", each starting with a letter or digit, at most ${MAX_NAME_LENGTH} characters`,
      { path: name },
    );
  }
  return { scope, key, full: `${scopePrefix(scope)}/${key}` };
}

function keyProblem(key: string): string | undefined {
  if (key === "") return "it is empty";
  if (key.length > MAX_NAME_LENGTH) return `it is ${key.length} characters long`;
  if (key.startsWith("/")) return "it starts with a slash";
  if (key.endsWith("/")) return "it ends with a slash";
  for (const segment of key.split("/")) {
    if (segment === "") return "it has an empty segment (//)";
    if (segment === "." || segment === "..") return `it has a "${segment}" segment`;
    if (!SEGMENT.test(segment))
      return `segment ${JSON.stringify(segment)} has a character outside [A-Za-z0-9._-] or does not start with a letter or digit`;
  }
  return undefined;
}

/**
 * A list prefix: a name, a partial name (`~/team/ber`), or just a scope (`~`, `@`, `~/`, `@/`).
 * Returns the scope and the key prefix to filter on.
 */
export function parsePrefix(
  prefix: string | undefined,
  defaultScope: RegistryScope,
): { scope: RegistryScope; key: string } {
  if (prefix === undefined || prefix === "") return { scope: defaultScope, key: "" };
  if (prefix === "~" || prefix === "~/") return { scope: "local", key: "" };
  if (prefix === "@" || prefix === "@/") return { scope: "shared", key: "" };
  const scope: RegistryScope = prefix.startsWith("@/")
    ? "shared"
    : prefix.startsWith("~/")
      ? "local"
      : defaultScope;
  const key = prefix.startsWith("@/") || prefix.startsWith("~/") ? prefix.slice(2) : prefix;
  if (
    key.startsWith("/") ||
    !/^[A-Za-z0-9._/-]*$/.test(key) ||
    key.split("/").some((segment) => segment === "." || segment === "..")
  ) {
    throw errors.invalidInput(
      `invalid registry prefix ${JSON.stringify(prefix)}: use a name or the start of one`,
    );
  }
  return { scope, key };
}
