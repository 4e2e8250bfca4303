/**
 * Include/exclude globs, rclone-style: a pattern without `/` matches a base name at any depth
 * (`*.txt`), a pattern with `/` matches the path from the transfer's root (`logs/**`), and a
 * leading `/` anchors explicitly. Excludes win over includes; with no includes everything is in.
 */
import picomatch from "picomatch";

export type PathFilter = (relativePath: string) => boolean;

export function createFilter(
  include: readonly string[] = [],
  exclude: readonly string[] = [],
  files?: readonly string[],
): PathFilter {
  const compile = (patterns: readonly string[]) =>
    patterns.map((pattern) =>
      picomatch(pattern.replace(/^\/+/, ""), { dot: true, basename: !pattern.includes("/") }),
    );
  const includes = compile(include);
  const excludes = compile(exclude);
  const only = files === undefined ? undefined : new Set(files.map((file) => file.replace(/^\/+/, "")));
  return (path) => {
    if (only && !only.has(path)) return false;
    if (excludes.some((matches) => matches(path))) return false;
    return includes.length === 0 || includes.some((matches) => matches(path));
  };
}
