/**
 * The azure URL grammar: `az://container/prefix` (also `azure://`), the account from the plugin's
 * options or the environment; `https://<account>.blob.core.windows.net/container/prefix`; and
 * `{ system: "az", path: "container/key", account }`. Container names follow Azure's rules.
 */

import {
  type GenericLocation,
  type Location,
  type LocationGrammar,
  normalizeKey,
  redactSecrets,
  refuse,
  rootAndRest,
  splitFirst,
  wording,
} from "@ferry/plugin-kit";

/** 3-63 characters: lower-case letters, digits and single hyphens, starting with a letter or digit. */
const CONTAINER = /^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/;

function containerLocation(container: string, key: string, input: string): Location {
  // az://account@container/path would look like credentials: the account comes from options/env.
  if (container.includes("@") || container.includes(":")) {
    refuse(
      `az:// URLs name a container (az://container/path); the account comes from ${wording({ library: "options or the environment", cli: "the environment" })}: ${redactSecrets(input)}`,
      input,
    );
  }
  if (!CONTAINER.test(container)) {
    refuse(
      `invalid container name "${container}": 3-63 characters, lower-case letters, digits and single hyphens`,
      input,
    );
  }
  const path = normalizeKey(key, { allowRoot: true, system: "az" });
  return { system: "az", root: container, container, path, url: `az://${container}/${path}` };
}

export function parseAzureLocation(generic: GenericLocation): Location {
  if (generic.form === "https") {
    const [container, key] = splitFirst(generic.rest);
    return { ...containerLocation(container, key, generic.input), account: generic.authority.split(".")[0]! };
  }
  const { authority, rest, input } = rootAndRest(generic);
  const location = containerLocation(authority, rest, input);
  const account = generic.fields.account;
  return typeof account === "string" ? { ...location, account } : location;
}

/** The azure plugin's `location` hook. */
export function azureGrammar(): LocationGrammar {
  return {
    parse: parseAzureLocation,
    rootNoun: "container",
    defaultRootSetting: { option: "defaultContainer", env: "FERRY_AZURE_CONTAINER" },
    rcloneRemote: (location, key) => `:azureblob,env_auth=true:${location.root}/${key}`,
  };
}
