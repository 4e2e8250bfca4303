/**
 * The s3 URL grammar: `s3://bucket/key/prefix` and `{ system: "s3", path: "bucket/key" }`. Keys are
 * taken literally (no percent-decoding), as aws-cli does; bucket names follow S3's naming rules.
 */
import { type GenericLocation, type Location, type LocationGrammar, namedRoot } from "@ferry/plugin-kit";

const BUCKET = {
  noun: "bucket",
  pattern: /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/,
  rule: "3-63 characters, lower-case letters, digits, dots and hyphens",
};

export function parseS3Location(generic: GenericLocation): Location {
  const { root, path } = namedRoot(generic, BUCKET);
  return { system: "s3", root, bucket: root, path, url: `s3://${root}/${path}` };
}

/** The s3 plugin's `location` hook. */
export function s3Grammar(): LocationGrammar {
  return {
    parse: parseS3Location,
    rootNoun: "bucket",
    defaultRootSetting: { option: "defaultBucket", env: "FERRY_S3_BUCKET" },
    rcloneRemote: (location, key) => `:s3,env_auth=true:${location.root}/${key}`,
  };
}
