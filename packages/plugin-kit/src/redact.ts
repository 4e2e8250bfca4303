/**
 * The one place secrets are taken out of text before ferry prints, logs or saves it: every
 * FerryError message and path, every CLI line, every plugin's error message. It removes
 *
 * - credentials written into a URL (`s3://KEY:secret@bucket`, `sftp://user:pa@ss@host`): the whole
 *   user-info part, up to the last `@` of the URL, when the text before the first `@` holds a `:`;
 * - signed-URL and token query parameters (SAS `sig`, `X-Amz-Signature`, `X-Goog-Credential`, ...);
 * - credential shapes (AWS key ids, Azure AccountKey, SharedKey and Bearer headers, GitHub tokens,
 *   PEM private keys);
 * - the literal values (and their URL-encoded forms) of the credentials ferry's plugins read from the
 *   environment, from the files those variables name, and any value a plugin registered.
 */
import { readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { debuglog, format } from "node:util";

export const REDACTED = "<redacted>";

export interface RedactOptions {
  /** Literal values (keys, tokens) never to appear, besides the ones ferry already knows. */
  secrets?: readonly string[];
  /** Values shorter than this are left alone (they would match ordinary text). Default 4. */
  minLength?: number;
  /** More patterns whose match is replaced; a first capture group (e.g. `Signature=`) is kept. */
  patterns?: readonly RegExp[];
}

const QUERY_PARAMETERS = [
  "sig",
  "signature",
  "x-amz-signature",
  "x-amz-credential",
  "x-amz-security-token",
  "x-goog-signature",
  "x-goog-credential",
  "googleaccessid",
  "access_token",
  "refresh_token",
  "id_token",
  "token",
  "client_secret",
  "password",
  "secret",
  "api_key",
  "apikey",
  "key",
  "code",
  "upload_id",
  "upload-id",
  "uploadid",
];

/** Patterns every text goes through; a first capture group is kept in front of `<redacted>`. */
const PATTERNS: readonly RegExp[] = [
  new RegExp(`([?&;](?:${QUERY_PARAMETERS.join("|")})=)[^&\\s"'#<>;]+`, "gi"),
  /\b(?:AKIA|ASIA|AROA|AIDA|AGPA|ANPA|AIPA)[0-9A-Z]{12,}\b/g,
  /(AccountKey=|SharedAccessSignature=|SharedAccessKey=)[^;\s"']+/gi,
  /(Credential=)[^,&\s"']+/gi,
  /(Signature=)[^,&\s"']+/gi,
  /(SharedKey(?:Lite)? [^:\s]+:)[^\s"',]+/g,
  /(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi,
  /(\btoken\s+)[A-Za-z0-9_.-]{20,}/gi,
  /\bgh[pousr]_[A-Za-z0-9]{20,}|\bgithub_pat_[A-Za-z0-9_]{20,}/g,
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g,
];

/** `scheme://` followed by the rest of the URL (up to white space or a quote). */
// The scheme starts at a word boundary and is at most 32 characters, so a long run of letters (a
// base64 payload, a hash) costs one step per character, not one scan of the rest per character.
const URL_WITH_AUTHORITY = /\b([A-Za-z][A-Za-z0-9+.-]{0,31}:\/\/)([^\s"'<>`]*)/g;

function redactUserInfo(text: string): string {
  return text.replace(URL_WITH_AUTHORITY, (whole, scheme: string, rest: string) => {
    const first = rest.indexOf("@");
    // A user name alone (sftp://alice@host, github://owner/repo@ref) is not a secret.
    if (first === -1 || !rest.slice(0, first).includes(":")) return whole;
    // A password may itself hold `@` or `/`: everything up to the last `@` goes.
    return `${scheme}${REDACTED}${rest.slice(rest.lastIndexOf("@"))}`;
  });
}

/** True when a URL in `text` carries a password (`scheme://user:password@host`). */
export function hasUrlCredentials(text: string): boolean {
  return redactUserInfo(text) !== text;
}

/** Environment variables whose values are credentials (ferry's plugins read them, or their SDKs do). */
const SECRET_VARIABLES = [
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_SECURITY_TOKEN",
  "AZURE_STORAGE_KEY",
  "AZURE_STORAGE_ACCESS_KEY",
  "AZURE_STORAGE_SAS_TOKEN",
  "AZURE_STORAGE_CONNECTION_STRING",
  "AZURE_CLIENT_SECRET",
  "GITHUB_TOKEN",
  "GH_TOKEN",
  "GOOGLE_OAUTH_ACCESS_TOKEN",
];

const registered = new Set<string>();

/**
 * Adds values never to print (a key or password passed in a plugin's options). Values shorter than
 * 8 characters are ignored: they would match ordinary text.
 */
export function registerSecret(...values: readonly (string | undefined)[]): void {
  for (const value of values) if (value !== undefined && value.length >= 8) registered.add(value);
}

const fileSecrets = new Map<string, { stamp: string; values: string[] }>();

/** Values in a credentials file (cached per file until it changes). */
function secretsInFile(path: string | undefined, extract: (text: string) => string[]): string[] {
  if (!path) return [];
  let stamp: string;
  try {
    const stat = statSync(path);
    stamp = `${stat.mtimeMs}:${stat.size}`;
  } catch {
    return [];
  }
  const cached = fileSecrets.get(path);
  if (cached?.stamp === stamp) return cached.values;
  let values: string[] = [];
  try {
    values = extract(readFileSync(path, "utf8"));
  } catch {
    values = [];
  }
  fileSecrets.set(path, { stamp, values });
  return values;
}

function iniSecrets(text: string): string[] {
  const values: string[] = [];
  for (const match of text.matchAll(
    /^\s*(?:aws_access_key_id|aws_secret_access_key|aws_session_token|aws_security_token)\s*=\s*(\S+)/gim,
  )) {
    values.push(match[1]!);
  }
  return values;
}

function serviceAccountSecrets(text: string): string[] {
  const json = JSON.parse(text) as Record<string, unknown>;
  const values: string[] = [];
  for (const field of ["private_key", "private_key_id", "client_secret", "refresh_token"]) {
    const value = json[field];
    if (typeof value === "string") {
      values.push(value);
      // A PEM key may be echoed one line at a time.
      if (field === "private_key")
        values.push(...value.split("\n").filter((line) => line.length >= 16 && !line.startsWith("-----")));
    }
  }
  return values;
}

function connectionStringSecrets(text: string | undefined): string[] {
  if (!text) return [];
  const values: string[] = [];
  for (const part of text.split(";")) {
    const eq = part.indexOf("=");
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim().toLowerCase();
    if (name === "accountkey" || name === "sharedaccesssignature" || name === "sharedaccesskey") {
      values.push(part.slice(eq + 1).trim());
    }
  }
  return values;
}

function sasSecrets(token: string | undefined): string[] {
  if (!token) return [];
  const sig = /(?:^|[?&])sig=([^&]+)/.exec(token)?.[1];
  return sig ? [sig, decodeURIComponentSafe(sig)] : [];
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Every credential value ferry knows of right now: environment, credential files, registered values. */
export function knownSecrets(env: NodeJS.ProcessEnv = process.env): string[] {
  const values: string[] = [...registered];
  for (const name of SECRET_VARIABLES) {
    const value = env[name];
    if (value) values.push(value);
  }
  values.push(...connectionStringSecrets(env.AZURE_STORAGE_CONNECTION_STRING));
  values.push(...sasSecrets(env.AZURE_STORAGE_SAS_TOKEN));
  const home = (() => {
    try {
      return homedir();
    } catch {
      return undefined;
    }
  })();
  values.push(
    ...secretsInFile(
      env.AWS_SHARED_CREDENTIALS_FILE ?? (home ? join(home, ".aws", "credentials") : undefined),
      iniSecrets,
    ),
    ...secretsInFile(env.AWS_CONFIG_FILE ?? (home ? join(home, ".aws", "config") : undefined), iniSecrets),
    ...secretsInFile(env.GOOGLE_APPLICATION_CREDENTIALS, serviceAccountSecrets),
  );
  const withForms = new Set<string>();
  for (const value of values) {
    if (value.length < 8) continue;
    withForms.add(value);
    withForms.add(encodeURIComponent(value));
    // JSON and util.inspect escape new lines and quotes.
    withForms.add(JSON.stringify(value).slice(1, -1));
  }
  // Longest first, so a value containing another is replaced whole.
  return [...withForms].sort((a, b) => b.length - a.length);
}

/** `text` with every known secret, every credential shape and every URL credential replaced by `<redacted>`. */
export function redactSecrets(text: string, options: RedactOptions = {}): string {
  if (text === "") return text;
  let out = text;
  const minLength = options.minLength ?? 4;
  const extra = (options.secrets ?? []).filter((secret) => secret.length >= minLength);
  for (const secret of [...extra, ...knownSecrets()]) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  out = redactUserInfo(out);
  for (const pattern of [...PATTERNS, ...(options.patterns ?? [])]) {
    out = out.replace(
      pattern,
      (_match, prefix?: unknown) => `${typeof prefix === "string" ? prefix : ""}${REDACTED}`,
    );
  }
  return out;
}

/**
 * Redacts, in place, the message, stack and string properties of every error in a `cause` chain
 * (an SDK error may quote a signed URL). Identity and every other property are kept.
 */
export function redactErrorChain(error: unknown, depth = 0): void {
  if (depth > 8 || typeof error !== "object" || error === null) return;
  const record = error as Record<string, unknown>;
  for (const key of ["message", "stack", "path", "url", "hostname", "config"]) {
    const value = record[key];
    if (typeof value !== "string") continue;
    const clean = redactSecrets(value);
    if (clean !== value) {
      try {
        Object.defineProperty(error, key, { value: clean, writable: true, configurable: true });
      } catch {
        // A frozen error keeps its text; nothing better can be done with it.
      }
    }
  }
  redactErrorChain(record.cause, depth + 1);
}

/**
 * `util.debuglog(section)` (enabled with `NODE_DEBUG=ferry:s3` and the like) whose lines go through
 * `redactSecrets`: plugins log with this, never with debuglog directly.
 */
export function debugLog(section: string): (message: string, ...args: unknown[]) => void {
  const log = debuglog(section);
  return (message, ...args) => {
    if (log.enabled) log("%s", redactSecrets(format(message, ...args)));
  };
}
