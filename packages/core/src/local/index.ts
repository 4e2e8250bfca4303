/**
 * Local file storage, the embedded default: nothing to install or start.
 * `local()` is the plugin serving `file://` URLs and plain paths (rooted at "/");
 * `localStorage(dir)` is a Storage rooted at one directory.
 */
import { resolve } from "node:path";
import type { Storage } from "@ferry/plugin-kit";
import { LocalDriver, type LocalDriverOptions, localCapabilities } from "@ferry/storage-local";
import type { Location } from "../location.ts";
import { createStorage } from "../managed.ts";
import type { StoragePlugin } from "../plugins.ts";
import { fileGrammar } from "./location.ts";

export { LocalDriver, type LocalDriverOptions, localCapabilities } from "@ferry/storage-local";

export interface LocalOptions extends LocalDriverOptions {}

/** The storage plugin for the local file system (scheme `file`). */
export function local(options: LocalOptions = {}): StoragePlugin {
  return {
    name: "local",
    schemes: ["file"],
    capabilities: localCapabilities,
    location: fileGrammar,
    create: (location: Location) => new LocalDriver(location.root === "" ? "/" : location.root, options),
  };
}

/** A Storage whose keys are relative to `rootDir` (resolved against the working directory). */
export function localStorage(rootDir: string, options: LocalOptions = {}): Storage {
  return createStorage(new LocalDriver(resolve(rootDir), options));
}
