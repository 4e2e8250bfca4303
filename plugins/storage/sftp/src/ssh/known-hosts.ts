/**
 * known_hosts checking as OpenSSH does it: plain and hashed (`|1|salt|hmac`) host patterns,
 * `[host]:port` for non-standard ports, `*`/`?` wildcards, `!` negation, `@revoked` keys.
 * `@cert-authority` lines are skipped (host certificates are not supported).
 */
import { createHmac } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { wording } from "@ferry/plugin-kit";

export type HostKeyCheck = "strict" | "accept-new" | "off";

interface KnownKey {
  type: string;
  key: Buffer;
  revoked: boolean;
  line: number;
}

/** What OpenSSH writes and looks up: `host` on port 22, `[host]:port` otherwise. */
export function hostPattern(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${escaped}$`, "i");
}

function hostsMatch(field: string, name: string): boolean {
  if (field.startsWith("|1|")) {
    const [, , salt, hash] = field.split("|");
    if (!salt || !hash) return false;
    return createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash;
  }
  let matched = false;
  for (const pattern of field.split(",")) {
    const negated = pattern.startsWith("!");
    if (globToRegExp(negated ? pattern.slice(1) : pattern).test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** Keys recorded for `name` (a hostPattern) in the file; empty when the file or host is absent. */
export function knownKeys(file: string, name: string): KnownKey[] {
  if (!existsSync(file)) return [];
  const keys: KnownKey[] = [];
  readFileSync(file, "utf8")
    .split("\n")
    .forEach((raw, index) => {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) return;
      const fields = line.split(/\s+/);
      let revoked = false;
      if (fields[0]?.startsWith("@")) {
        if (fields[0] === "@revoked") revoked = true;
        else return;
        fields.shift();
      }
      const [hosts, type, key] = fields;
      if (!hosts || !type || !key || !hostsMatch(hosts, name)) return;
      keys.push({ type, key: Buffer.from(key, "base64"), revoked, line: index + 1 });
    });
  return keys;
}

/** The key type inside an SSH wire-format public key blob (`ssh-ed25519`, `ssh-rsa`, ...). */
export function keyType(blob: Buffer): string {
  const length = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + length).toString("latin1");
}

/** Host key algorithms to offer so the server presents a key type we have on record. */
export function algorithmsFor(types: readonly string[]): string[] {
  return [...new Set(types)].flatMap((type) =>
    type === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [type],
  );
}

export type Verdict =
  | { ok: true; added?: boolean }
  | { ok: false; reason: "unknown" | "mismatch" | "revoked"; message: string };

/** Decide whether `presented` (wire-format blob) is acceptable for host:port under `policy`. */
export function verifyHostKey(args: {
  file: string;
  host: string;
  port: number;
  presented: Buffer;
  policy: HostKeyCheck;
}): Verdict {
  const { file, host, port, presented, policy } = args;
  if (policy === "off") return { ok: true };
  const name = hostPattern(host, port);
  const known = knownKeys(file, name);
  const same = known.filter((entry) => entry.key.equals(presented));
  if (same.some((entry) => entry.revoked)) {
    return { ok: false, reason: "revoked", message: `the host key of ${name} is marked @revoked in ${file}` };
  }
  if (same.length > 0) return { ok: true };
  const type = keyType(presented);
  const sameType = known.filter((entry) => !entry.revoked && entry.type === type);
  if (sameType.length > 0) {
    return {
      ok: false,
      reason: "mismatch",
      message:
        `HOST KEY MISMATCH for ${name}: the server presented a different ${type} key than the one recorded in ` +
        `${file} (line ${sameType[0]!.line}). Someone may be intercepting the connection, or the host was reinstalled. ` +
        `If you trust the new key, remove the old line (ssh-keygen -R '${name}' -f ${file}).`,
    };
  }
  if (policy === "accept-new") {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    appendFileSync(file, `${name} ${type} ${presented.toString("base64")}\n`, { mode: 0o600 });
    return { ok: true, added: true };
  }
  return {
    ok: false,
    reason: "unknown",
    message:
      `the host key of ${name} is not in ${file}: add it (ssh-keyscan -p ${port} ${host} >> ${file}, after checking ` +
      `its fingerprint), or ${wording({ library: 'pass hostKeyCheck: "accept-new"', cli: "set StrictHostKeyChecking accept-new for this host in ~/.ssh/config" })} to record it on first connection`,
  };
}
