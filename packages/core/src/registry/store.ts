/**
 * The registry's layout on any Storage, and the only code that writes it:
 *
 *   <registry>/<name>/_versions/000001.json   one file per save, never rewritten
 *   <registry>/<name>/_claims/<n>/...         transient, only on storages without conditional writes
 *
 * The current version of a name is its highest-numbered file, so a save is one create of a new
 * file and there is no second "current" pointer that could disagree with it. `_versions` cannot be
 * a name segment (segments start with a letter or digit), so nested names never collide with it.
 *
 * Two processes saving the same name at once:
 * - storage with `conditionalWrite` that holds (`conditionalWritesHold`: declared and, for an
 *   S3-compatible server, seen to refuse an overwrite): version n+1 is created with `ifNoneMatch: "*"`; the loser gets
 *   ConditionNotMet and retries as n+2. No update is lost, nothing is overwritten.
 * - storage without it: the writer records a claim for n+1 under `_claims/`, then lists the claims
 *   and checks that version n+1 does not exist yet. It writes only when it sees no other live claim
 *   and no version file. When claims meet, the one whose save started first waits (briefly) for the
 *   others to withdraw, and they retry after a short random pause; a writer that cannot get its turn
 *   within MAX_ATTEMPTS fails with ConditionNotMet and nothing is written. A claim is removed only
 *   after its version is written, so a rival always sees either the claim or the version. This relies
 *   on the storage listing what was just written (true of local disk, SFTP, S3, GCS and Azure today).
 *   Claims last written more than CLAIM_TTL_MS ago (a writer that crashed) are ignored and cleaned up.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import {
  conditionalWritesHold,
  errors,
  FerryError,
  joinKey,
  parentKey,
  type Storage,
} from "@ferry/plugin-kit";
import { childLocation, formatLocation, type Location } from "../location.ts";
import { parseEntry, type RegistryEntry, serializeEntry } from "./entry.ts";

const VERSIONS = "_versions";
const CLAIMS = "_claims";
const VERSION_FILE = /^(\d+)\.json$/;
/** `_claims/<version>/<priority ms>.<written ms>.<token>.json` */
const CLAIM_FILE = /^(\d+)\.(\d+)\.([0-9a-f]+)\.json$/;
export const MAX_ATTEMPTS = 200;
export const CLAIM_TTL_MS = 60_000;

/** Claims sort by when their save started (oldest first), ties broken by token. */
function claimOrder(priority: number, token: string): string {
  return `${String(priority).padStart(15, "0")}.${token}`;
}

function versionFileName(version: number): string {
  return `${String(version).padStart(6, "0")}.json`;
}

export class VersionStore {
  readonly storage: Storage;
  /** Key of the registry root within the storage. */
  readonly base: string;
  readonly location: Location;

  constructor(storage: Storage, location: Location) {
    this.storage = storage;
    this.location = location;
    this.base = location.path;
  }

  #dir(name: string, folder: string): string {
    return joinKey(this.base, name, folder);
  }

  /** A display path of a registry file, for error messages. */
  describe(key: string): string {
    return formatLocation(childLocation(this.location, key.slice(this.base.length)));
  }

  versionKey(name: string, version: number): string {
    return joinKey(this.#dir(name, VERSIONS), versionFileName(version));
  }

  /** Saved version numbers of a name, ascending (empty when it does not exist). */
  async versions(name: string): Promise<number[]> {
    const found: number[] = [];
    for await (const entry of this.storage.list(this.#dir(name, VERSIONS))) {
      const match =
        entry.kind === "file" ? VERSION_FILE.exec(entry.path.slice(entry.path.lastIndexOf("/") + 1)) : null;
      if (match) found.push(Number(match[1]));
    }
    return found.sort((a, b) => a - b);
  }

  async read(name: string, version: number): Promise<RegistryEntry> {
    const key = this.versionKey(name, version);
    let bytes: Uint8Array;
    try {
      bytes = await this.storage.readBytes(key);
    } catch (error) {
      if (FerryError.isInstance(error, "NotFound")) {
        throw errors.notFound(`version ${version} of ${name} does not exist in the registry`, {
          path: this.describe(key),
          cause: error,
        });
      }
      throw error;
    }
    const entry = parseEntry(bytes, this.describe(key));
    if (entry.version !== version) {
      throw errors.invalidInput(
        `registry file ${this.describe(key)} says it is version ${entry.version}, but it is stored as version ${version}`,
        {
          path: this.describe(key),
        },
      );
    }
    return entry;
  }

  /**
   * Save the next version. `build` gets the version number and the previous entry (undefined for
   * the first save, or when the previous one cannot be read) and returns the entry to write.
   */
  async append(
    name: string,
    build: (version: number, previous: RegistryEntry | undefined) => RegistryEntry,
  ): Promise<RegistryEntry> {
    // Declared and, where the storage can check its server, seen to hold (an S3-compatible server
    // may ignore If-None-Match): otherwise the claim protocol below.
    const conditional = await conditionalWritesHold(this.storage, this.versionKey(name, 1));
    const priority = Date.now();
    let lastConflict: number | undefined;
    let meetings = 0;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const existing = await this.versions(name);
      const last = existing.at(-1);
      const previous = last === undefined ? undefined : await this.read(name, last).catch(() => undefined);
      const version = (last ?? 0) + 1;
      const entry = build(version, previous);
      const body = serializeEntry(entry);
      const key = this.versionKey(name, version);
      if (conditional) {
        try {
          await this.storage.write(key, body, { ifNoneMatch: "*", contentType: "application/json" });
          return entry;
        } catch (error) {
          const lostRace =
            FerryError.isInstance(error, "ConditionNotMet") || FerryError.isInstance(error, "AlreadyExists");
          // Losing the same version twice means the listing does not show what blocks the write:
          // not a race with another writer, so retrying would never end.
          if (!lostRace || version === lastConflict) throw error;
          lastConflict = version;
          continue;
        }
      }
      const outcome = await this.#claimAndWrite(name, version, body, priority);
      if (outcome === "written") return entry;
      if (outcome === "rival") await this.#stepBack(name, version, ++meetings);
    }
    throw errors.conditionNotMet(
      `could not save ${name}: other writers kept saving it at the same time (${MAX_ATTEMPTS} attempts); try again`,
      { path: this.describe(joinKey(this.base, name)) },
    );
  }

  /**
   * After meeting an older claim for `version`: stay away (no claim of ours in its way) until that
   * version is written, then try the next. Re-claiming at once kept the oldest claimant from ever
   * seeing itself alone: 8 concurrent saves on s3rver took 23 s, most of it in such meetings.
   */
  async #stepBack(name: string, version: number, meetings: number): Promise<void> {
    const until = Date.now() + 2_000;
    await sleep(1 + Math.random() * Math.min(4 * 2 ** meetings, 200));
    while (Date.now() < until && !(await this.storage.exists(this.versionKey(name, version))))
      await sleep(5 + Math.random() * 20);
  }

  async #claimAndWrite(
    name: string,
    version: number,
    body: string,
    priority: number,
  ): Promise<"written" | "taken" | "rival"> {
    // Claims for one version live in their own folder, so a writer lists only its rivals.
    const claims = joinKey(this.#dir(name, CLAIMS), String(version));
    const token = randomBytes(8).toString("hex");
    const mine = claimOrder(priority, token);
    const claimKey = joinKey(claims, `${priority}.${Date.now()}.${token}.json`);
    await this.storage.write(claimKey, "", { contentType: "application/json" });
    try {
      const deadline = Date.now() + CLAIM_TTL_MS / 2;
      for (;;) {
        const rivals = await this.#rivalClaims(claims, token);
        if (await this.storage.exists(this.versionKey(name, version))) return "taken";
        if (rivals.length === 0) {
          await this.storage.write(this.versionKey(name, version), body, { contentType: "application/json" });
          return "written";
        }
        // The claim that has waited longest goes first; every other claimant withdraws. A rival that
        // has not seen this claim yet may already be writing, so even the first in line writes only
        // once no rival claim is left.
        if (rivals.some((rival) => rival < mine)) return "rival";
        if (Date.now() > deadline) return "rival";
        await sleep(2 + Math.random() * 8);
      }
    } finally {
      await this.storage.delete(claimKey).catch(() => undefined);
    }
  }

  /** Live claims in a version's claim folder other than ours, as sortable order keys; stale ones are cleaned up. */
  async #rivalClaims(claims: string, token: string): Promise<string[]> {
    const now = Date.now();
    const stale: string[] = [];
    const rivals: string[] = [];
    for await (const entry of this.storage.list(claims)) {
      const match = CLAIM_FILE.exec(entry.path.slice(entry.path.lastIndexOf("/") + 1));
      if (!match || match[3] === token) continue;
      if (now - Number(match[2]) > CLAIM_TTL_MS) stale.push(entry.path);
      else rivals.push(claimOrder(Number(match[1]), match[3]!));
    }
    if (stale.length > 0) await this.storage.delete(stale).catch(() => undefined);
    return rivals;
  }

  /** Write a version file as it is (used by rename); refuses to replace an existing one. */
  async put(name: string, entry: RegistryEntry): Promise<void> {
    const key = this.versionKey(name, entry.version);
    const body = serializeEntry(entry);
    if (await conditionalWritesHold(this.storage, key)) {
      await this.storage.write(key, body, { ifNoneMatch: "*", contentType: "application/json" });
      return;
    }
    if (await this.storage.exists(key)) {
      throw errors.conditionNotMet(
        `registry file ${this.describe(key)} appeared while it was being written`,
        { path: this.describe(key) },
      );
    }
    await this.storage.write(key, body, { contentType: "application/json" });
  }

  /** Delete every file of a name (its versions and any claims), leaving nested names alone. */
  async remove(name: string): Promise<void> {
    const keys: string[] = [];
    for (const folder of [VERSIONS, CLAIMS]) {
      for await (const entry of this.storage.list(this.#dir(name, folder)))
        if (entry.kind === "file") keys.push(entry.path);
    }
    // Oldest first: until the last file goes, readers still see the current version.
    keys.sort();
    if (keys.length > 0) await this.storage.delete(keys);
  }

  /** Names (keys within the registry) that start with `prefix`, sorted. */
  async names(prefix: string): Promise<string[]> {
    const dir = joinKey(this.base, prefix.endsWith("/") ? prefix : parentKey(prefix));
    const found = new Set<string>();
    const baseLength = this.base === "" ? 0 : this.base.length + 1;
    for await (const entry of this.storage.list(dir, { recursive: true })) {
      const relative = entry.path.slice(baseLength);
      const marker = relative.lastIndexOf(`/${VERSIONS}/`);
      if (marker === -1 || !VERSION_FILE.test(relative.slice(marker + VERSIONS.length + 2))) continue;
      const name = relative.slice(0, marker);
      if (name.startsWith(prefix)) found.add(name);
    }
    return [...found].sort();
  }
}
