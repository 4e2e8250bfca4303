/**
 * The registry never saves a credential. Resources contribute only credential-free location URLs;
 * user metadata is the one place a secret could slip in, so it is checked here: a key that names a
 * secret, or a string value shaped like a well-known credential, is refused (InvalidInput) before
 * anything is written. The offending value is never echoed.
 */
import { errors } from "@ferry/plugin-kit";

/** Whole words that mark a key as a secret (`sortKey`, `api_key`, `sasToken`, `db-password`). */
const SECRET_WORDS = new Set([
  "password",
  "passwd",
  "passphrase",
  "pwd",
  "secret",
  "secrets",
  "token",
  "tokens",
  "key",
  "keys",
  "credential",
  "credentials",
  "creds",
  "sas",
  "auth",
  "authorization",
  "cookie",
  "signature",
]);

/**
 * Substrings of the key with separators removed (`connectionString`, `ACCOUNTKEY`, `apikey`). Kept to
 * compounds so that everyday keys such as `tokenizer` or `keyword` stay usable.
 */
const SECRET_FRAGMENTS = [
  "connectionstring",
  "password",
  "passwd",
  "credential",
  "apikey",
  "accesskey",
  "accountkey",
  "privatekey",
  "secretkey",
  "sharedkey",
  "clientsecret",
  "sastoken",
  "authtoken",
  "accesstoken",
  "refreshtoken",
  "sessiontoken",
];

/** String values shaped like credentials, whatever key they sit under. */
const SECRET_VALUES: readonly [RegExp, string][] = [
  [/\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/, "an AWS access key id"],
  [/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/, "a private key"],
  [/AccountKey=|SharedAccessSignature=|SharedAccessKey=/i, "an Azure connection string"],
  [/[?&]sig=[^&\s]+/, "a SAS token"],
  [/\bgh[pousr]_[A-Za-z0-9]{20,}|\bgithub_pat_[A-Za-z0-9_]{20,}/, "a GitHub token"],
  [/"private_key"\s*:/, "a service-account key"],
  [/^\s*Bearer\s+\S+/i, "a bearer token"],
  [/[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i, "a URL with a password"],
];

function words(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

export function isSecretKey(key: string): boolean {
  const compact = key.toLowerCase().replace(/[^a-z0-9]/g, "");
  return (
    words(key).some((word) => SECRET_WORDS.has(word)) ||
    SECRET_FRAGMENTS.some((fragment) => compact.includes(fragment))
  );
}

/** Throws InvalidInput naming the first key path that holds (or names) a secret. */
export function assertNoSecrets(metadata: unknown, path = "metadata"): void {
  if (typeof metadata === "string") {
    for (const [pattern, what] of SECRET_VALUES) {
      if (pattern.test(metadata)) {
        throw errors.invalidInput(
          `${path} looks like ${what}; ferry never saves credentials in the registry — configure them in the environment or the plugin's options`,
        );
      }
    }
    return;
  }
  if (Array.isArray(metadata)) {
    for (const [index, item] of metadata.entries()) assertNoSecrets(item, `${path}[${index}]`);
    return;
  }
  if (typeof metadata === "object" && metadata !== null) {
    for (const [key, value] of Object.entries(metadata)) {
      const child = `${path}.${key}`;
      if (isSecretKey(key)) {
        throw errors.invalidInput(
          `${child}: metadata keys that name a secret (password, secret, token, key, credential, sas, connectionString, ...) are refused; ferry never saves credentials in the registry — configure them in the environment or the plugin's options`,
        );
      }
      assertNoSecrets(value, child);
    }
  }
}

/** Metadata must be JSON: plain objects, arrays, strings, finite numbers, booleans and null. */
export function assertJsonValue(value: unknown, path = "metadata"): void {
  if (value === null || typeof value === "string" || typeof value === "boolean") return;
  if (typeof value === "number") {
    if (!Number.isFinite(value))
      throw errors.invalidInput(`${path} is ${value}; metadata numbers must be finite`);
    return;
  }
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) assertJsonValue(item, `${path}[${index}]`);
    return;
  }
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [key, item] of Object.entries(value)) assertJsonValue(item, `${path}.${key}`);
    return;
  }
  throw errors.invalidInput(
    `${path} is a ${typeof value === "object" ? (value.constructor?.name ?? "object") : typeof value}; metadata must be plain JSON`,
  );
}
