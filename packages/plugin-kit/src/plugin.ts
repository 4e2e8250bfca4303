/**
 * What a storage plugin is: a factory's result that names the schemes it serves, the capabilities
 * its storages declare, its URL grammar, and how to make a storage for one root. Users register it
 * with `ferry.use(plugin)`, or core loads its package by scheme.
 */
import type { Location, LocationGrammar } from "./location.ts";
import type { Capabilities, Storage, StorageDriver } from "./storage.ts";
import type { TableFlavour } from "./table-contract.ts";

export interface StoragePlugin {
  /** Short name, e.g. "s3". */
  readonly name: string;
  /** URL schemes / system names it serves (canonical names: "s3", "gs", "az", "sftp", "github"). */
  readonly schemes: readonly string[];
  /** The capabilities its storages declare (a storage may narrow them per instance). */
  readonly capabilities: Capabilities;
  /**
   * The bucket / container / host used when a location names only the system, as in
   * `folder.to("s3")`: from the plugin's options or environment. Absent: the caller must name one.
   */
  readonly defaultRoot?: string | undefined;
  /**
   * The plugin's URL grammar (its `location.ts`): reads the full location — root, bucket, host,
   * owner/repo/ref, ... — from core's generic parse, validates names, gives the canonical URL, says
   * what a root is called and where a default one is set, and names the location for tools on
   * another machine (rclone). Absent: `scheme://root/key`. See `LocationGrammar` in @ferry/plugin-kit.
   */
  readonly location?: LocationGrammar | undefined;
  /**
   * A storage for `location.root` (bucket, container, host, repo@ref). Called once per root and cached. */
  create(location: Location): StorageDriver | Storage | Promise<StorageDriver | Storage>;
}

export type Plugin = StoragePlugin | TableFlavour;

/**
 * A plugin's `defaultRoot` from its option, else its environment variable (blank counts as unset),
 * so `folder.to("s3")` has a bucket to go to.
 */
export function defaultRoot(option: string | undefined, env: string | undefined): string | undefined {
  const value = (option ?? env)?.trim().replace(/^\/+|\/+$/g, "");
  return value ? value : undefined;
}
