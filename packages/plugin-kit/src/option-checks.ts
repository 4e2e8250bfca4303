/**
 * Checks of plugin options, for plugin authors. A malformed value is InvalidInput in one line naming
 * the option as the user gave it (`sftp(): concurrency must be a positive integer, got 0`), or the
 * environment variable it came from, never replaced by a default in silence. Each check returns
 * undefined for an absent value, so the caller's default applies with `??`.
 */
import { errors } from "./errors.ts";

/** The value as the user would recognise it: strings quoted, numbers as they are. */
function shown(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/** A whole number ≥ 1. `label` names the option (`sftp(): concurrency`). */
export function positiveIntegerOption(label: string, value: unknown, system: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "number" && Number.isSafeInteger(value) && value > 0) return value;
  throw errors.invalidInput(`${label} must be a positive integer, got ${shown(value)}`, { system });
}

/** A whole number of milliseconds ≥ 0. */
export function millisecondsOption(label: string, value: unknown, system: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return value;
  throw errors.invalidInput(
    `${label} must be a whole number of milliseconds (0 or more), got ${shown(value)}`,
    {
      system,
    },
  );
}

/** One of a few words. */
export function oneOfOption<T extends string>(
  label: string,
  value: unknown,
  allowed: readonly T[],
  system: string,
): T | undefined {
  if (value === undefined) return undefined;
  if ((allowed as readonly unknown[]).includes(value)) return value as T;
  const words = allowed.map((word) => JSON.stringify(word));
  const list = words.length > 1 ? `${words.slice(0, -1).join(", ")} or ${words.at(-1)}` : words.join("");
  throw errors.invalidInput(`${label} must be ${list}, got ${shown(value)}`, { system });
}

/** An absolute http:// or https:// URL. */
export function httpUrlOption(label: string, value: unknown, system: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string" && URL.canParse(value) && /^https?:$/.test(new URL(value).protocol))
    return value;
  throw errors.invalidInput(`${label} must be an http(s) URL, got ${shown(value)}`, { system });
}
