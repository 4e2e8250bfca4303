/**
 * Keys: the one path grammar every storage sees. Decided once here (research/conformance.md B):
 * `/` separates segments; leading slashes and repeated slashes collapse (OpenDAL RFC 0112, flydrive);
 * `.` and `..` segments are refused, so no key can escape its root; NUL is refused; backslash is literal.
 */
import { errors } from "./errors.ts";

export interface KeyOptions {
  /** Allow "" (the root) — for directory operations. */
  allowRoot?: boolean;
  system?: string;
}

export function normalizeKey(path: string, options: KeyOptions = {}): string {
  if (typeof path !== "string") {
    throw errors.invalidInput(`a path must be a string, got ${typeof path}`, { system: options.system });
  }
  if (path.includes("\0")) {
    throw errors.invalidInput(`path contains a NUL byte: ${JSON.stringify(path)}`, {
      system: options.system,
      path,
    });
  }
  const segments = path.split("/").filter((segment) => segment !== "");
  for (const segment of segments) {
    if (segment === "." || segment === "..") {
      throw errors.invalidInput(
        `path ${JSON.stringify(path)} has a "${segment}" segment; paths may not leave their root`,
        { system: options.system, path },
      );
    }
  }
  const key = segments.join("/");
  if (key === "" && !options.allowRoot) {
    throw errors.invalidInput("path is empty: name a file", { system: options.system, path });
  }
  return key;
}

export function joinKey(...parts: readonly string[]): string {
  // Two keys already in normal form (the usual call: a folder and a path below it) join as they are.
  if (parts.length === 2) {
    const [dir, path] = parts as [string, string];
    if (isNormal(dir) && isNormal(path)) return dir === "" ? path : path === "" ? dir : `${dir}/${path}`;
  }
  return parts
    .flatMap((part) => part.split("/"))
    .filter((segment) => segment !== "")
    .join("/");
}

/** No leading, trailing or repeated `/` (what normalizeKey's split, filter and join would change). */
const isNormal = (part: string) => !part.startsWith("/") && !part.endsWith("/") && !part.includes("//");

/**
 * Whether a name a system listed can be a ferry key as it is: no empty, `.` or `..` segment (so no
 * leading, trailing or doubled `/`). Such names cannot become a safe local path, and normalizing them
 * would name another object; listings report them (`onUnaddressable`) instead.
 */
export function isAddressableKey(name: string): boolean {
  return name.split("/").every((segment) => segment !== "" && segment !== "." && segment !== "..");
}

/** One line naming the keys a listing left out, with a count: for notes and warnings. */
export function describeUnaddressable(names: readonly string[], where: string, outcome: string): string {
  const shown = names.slice(0, 20).map((name) => JSON.stringify(name));
  const more = names.length > shown.length ? `, and ${names.length - shown.length} more` : "";
  return `${names.length} key${names.length === 1 ? "" : "s"} below ${where} cannot be mapped to a safe path (".", ".." or empty segments) and ${outcome}: ${shown.join(", ")}${more}`;
}

/** Last segment of a key. */
export function baseName(key: string): string {
  const index = key.lastIndexOf("/");
  return index === -1 ? key : key.slice(index + 1);
}

/** Everything before the last segment ("" for top-level keys). */
export function parentKey(key: string): string {
  const index = key.lastIndexOf("/");
  return index === -1 ? "" : key.slice(0, index);
}

/** `key` relative to `dir`, or undefined when it is not below it. */
export function relativeKey(dir: string, key: string): string | undefined {
  if (dir === "") return key;
  if (key === dir) return "";
  return key.startsWith(`${dir}/`) ? key.slice(dir.length + 1) : undefined;
}

const encoder = new TextEncoder();

/** Order by UTF-8 bytes, the order S3, GCS and Azure list in (differs from JS string order above U+FFFF). */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  const common = Math.min(a.length, b.length);
  for (let index = 0; index < common; index++) {
    const x = a.charCodeAt(index);
    const y = b.charCodeAt(index);
    if (x === y) continue;
    // UTF-16 code units order as code points (and so as UTF-8 bytes) unless one is half of a
    // surrogate pair (a character above U+FFFF, which sorts after U+E000–U+FFFF in UTF-8).
    if (isSurrogate(x) || isSurrogate(y)) return Buffer.compare(encoder.encode(a), encoder.encode(b));
    return x < y ? -1 : 1;
  }
  return a.length < b.length ? -1 : 1;
}

const isSurrogate = (unit: number) => unit >= 0xd800 && unit <= 0xdfff;
