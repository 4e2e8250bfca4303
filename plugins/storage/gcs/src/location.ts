/**
 * The gs URL grammar: `gs://bucket/prefix` (also written `gcs://`) and `{ system: "gs", path:
 * "bucket/key" }`. Keys are taken literally (no percent-decoding), as gsutil does. Bucket names:
 * ferry accepts the common subset of GCS's rules (no underscores, at most 63 characters).
 */
import { type GenericLocation, type Location, type LocationGrammar, namedRoot } from "@ferry/plugin-kit";

const BUCKET = {
  noun: "bucket",
  pattern: /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/,
  rule: "3-63 characters, lower-case letters, digits, dots and hyphens",
};

export function parseGsLocation(generic: GenericLocation): Location {
  const { root, path } = namedRoot(generic, BUCKET);
  return { system: "gs", root, bucket: root, path, url: `gs://${root}/${path}` };
}

/** The gcs plugin's `location` hook. */
export function gsGrammar(): LocationGrammar {
  return {
    parse: parseGsLocation,
    rootNoun: "bucket",
    defaultRootSetting: { option: "defaultBucket", env: "FERRY_GS_BUCKET" },
    rcloneRemote: (location, key) => `:gcs,env_auth=true:${location.root}/${key}`,
  };
}
