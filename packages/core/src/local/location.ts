/**
 * The local file system's grammar: absolute and relative paths, `~`, `file:///abs` and
 * `{ system: "file", path }`, all rooted at "/". Built in, so core reads it without loading a plugin.
 */
import { homedir } from "node:os";
import { isAbsolute, resolve as resolvePath } from "node:path";
import type { GenericLocation, LocationGrammar } from "@ferry/plugin-kit";
import type { Location } from "../location.ts";

/** A local path (relative ones against `cwd`, default the working directory) as a file location. */
export function fileLocation(input: string, cwd: string = process.cwd()): Location {
  let path = input;
  if (path === "~" || path.startsWith("~/")) path = homedir() + path.slice(1);
  const absolute = isAbsolute(path) ? path : resolvePath(cwd, path);
  const key = resolvePath(absolute).split("/").filter(Boolean).join("/");
  return { system: "file", root: "/", path: key, url: `file:///${key}` };
}

/** The `location` hook of the `local()` plugin. */
export const fileGrammar: LocationGrammar = {
  rootNoun: "directory",
  describeRoot: () => "the file-system root",
  parse: (generic: GenericLocation) =>
    fileLocation(
      generic.form === "url"
        ? decodeURIComponent(`/${generic.rest}`)
        : generic.rest === ""
          ? "."
          : generic.rest,
    ),
};
