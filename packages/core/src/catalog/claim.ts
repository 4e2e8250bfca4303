/**
 * Claiming a run id on storage that cannot create a file only if it is absent (an S3-compatible
 * server that ignores If-None-Match). A run id is taken by writing its run log; before that, each
 * starter writes a claim of its own, `<catalog>/.claims/<run-id>/<written ms>.<token>`, and then, in
 * this order, lists the claims and checks the run folder:
 *
 * - the run folder has something in it: the id is taken (AlreadyExists);
 * - no other live claim: this starter has the id. It writes the run log and only then removes its claim;
 * - otherwise starters met: each withdraws its claim, waits a random, growing while, and tries again.
 *
 * Why at most one starter gets the id, on a store where a write is visible to every listing and read
 * that starts after it (read-after-write consistency, as S3 has had since December 2020, and local
 * disk, SFTP, GCS and Azure): say A and B both won. Each kept its claim from before its listing until
 * after its run log was written. Say A listed first. B's claim was written after A's listing (A saw
 * none), so B's listing came after A's claim was written; B saw no claim, so A's had already been
 * removed, so A's run log had already been written, and B's check of the run folder, after its
 * listing, saw it. A contradiction. A claim older than CLAIM_TTL_MS (a starter that died) is ignored
 * and removed: the guarantee needs starters' clocks within that of each other and a winner to write
 * its run log within it (it does so at once). Starters that keep meeting give up after MAX_ROUNDS
 * with ConditionNotMet; nothing is written then.
 */
import { randomBytes, randomInt } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Storage } from "@ferry/plugin-kit";
import { errors, joinKey } from "@ferry/plugin-kit";

/** Folder of the claims, directly under the catalog root: not a run id (those start with a letter or digit). */
export const CLAIMS_FOLDER = ".claims";
export const CLAIM_TTL_MS = 60_000;
const MAX_ROUNDS = 60;
const CLAIM_FILE = /^(\d+)\.([0-9a-f]+)$/;

export interface ClaimTarget {
  storage: Storage;
  /** Key of the claims folder of this run id. */
  claims: string;
  /** Whether the run folder already has anything in it. */
  taken(): Promise<boolean>;
  /** The run folder as shown to users, for messages. */
  display: string;
}

/** A claim that won: `release()` removes it, once the run log is written. */
export interface HeldClaim {
  release(): Promise<void>;
}

async function liveRivals(storage: Storage, claims: string, mine: string): Promise<number> {
  const now = Date.now();
  const stale: string[] = [];
  let rivals = 0;
  for await (const entry of storage.list(claims)) {
    const name = entry.path.slice(entry.path.lastIndexOf("/") + 1);
    const match = CLAIM_FILE.exec(name);
    if (!match || entry.path === mine) continue;
    if (now - Number(match[1]) > CLAIM_TTL_MS) stale.push(entry.path);
    else rivals += 1;
  }
  if (stale.length > 0) await storage.delete(stale).catch(() => undefined);
  return rivals;
}

/** Claim the id; undefined when it is taken (the caller says AlreadyExists). */
export async function claimRunId(target: ClaimTarget): Promise<HeldClaim | undefined> {
  const { storage, claims } = target;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const mine = joinKey(claims, `${Date.now()}.${randomBytes(8).toString("hex")}`);
    await storage.write(mine, "", { contentType: "text/plain" });
    let won = false;
    try {
      const rivals = await liveRivals(storage, claims, mine);
      if (await target.taken()) return undefined;
      if (rivals === 0) {
        won = true;
        return { release: () => storage.delete(mine).catch(() => undefined) };
      }
    } finally {
      if (!won) await storage.delete(mine).catch(() => undefined);
    }
    // Met another starter: both step back for a random while, longer each round, then look again.
    await sleep(randomInt(1, 10 * 2 ** Math.min(round, 5)));
    if (await target.taken()) return undefined;
  }
  throw errors.conditionNotMet(
    `could not claim run id ${target.display}: other processes kept starting it at the same time; try again`,
    { path: target.display },
  );
}
