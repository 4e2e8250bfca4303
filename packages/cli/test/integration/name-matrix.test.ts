/**
 * Awkward names on every system: each name either round-trips exactly (written, listed under the same
 * name and read back byte for byte, with nothing else appearing) or fails loudly with a FerryError.
 * A name that comes back different, or a write that "succeeds" and leaves nothing or something else,
 * is the silent loss this test exists to catch.
 */

import { createStorage, local, parseLocation } from "@ferry/core";
import { FerryError, type Storage } from "@ferry/plugin-kit";
import { azure } from "@ferry/storage-azure";
import { gcs } from "@ferry/storage-gcs";
import { github } from "@ferry/storage-github";
import { s3 } from "@ferry/storage-s3";
import { sftp } from "@ferry/storage-sftp";
import { sshdSkipReason } from "@ferry/test-harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AllBackends, startAllBackends } from "../backends.ts";
import { makeTemp, removeTemp } from "../run-ferry.ts";

/** Names as a user's files carry them. `..` and `.` segments are refused by core for every system. */
const NAMES: Record<string, string> = {
  backslash: "back\\slash.txt",
  "dot-dot segment": "x/../escape.txt",
  "dot segment": "./dot.txt",
  "NFC é": "caf\u00e9.txt",
  "NFD é": "cafe\u0301.txt",
  tab: "tab\there.txt",
  "line feed": "line\nfeed.txt",
  "carriage return": "carriage\rreturn.txt",
  "bell (control)": "bell\u0007.txt",
  "255-byte name": `${"n".repeat(251)}.txt`,
  "300-byte name": `${"l".repeat(296)}.txt`,
  "1100-byte key": `${"k/".repeat(50)}${"k".repeat(996)}.txt`,
  "emoji (outside the BMP)": "\u{1F600}.txt",
};

/**
 * Emulator gaps (not the real services'), declared in the plugins' READMEs: these names are not tried
 * there, so the test does not rely on the emulator for what it cannot do.
 */
const EMULATOR_GAPS: Record<string, { names: string[]; reason: string }> = {
  s3: {
    names: ["255-byte name", "300-byte name", "1100-byte key"],
    reason:
      "s3rver keeps each key as a file: a segment over 255 bytes stops the server (S3 takes 1024-byte keys)",
  },
  "s3 listing": {
    names: ["carriage return"],
    reason: "s3rver ignores encoding-type=url and sends a CR raw inside XML, which XML reads as LF",
  },
  az: {
    names: ["tab", "line feed", "carriage return", "bell (control)"],
    reason: "azurite answers 500 to a listing with control characters in names",
  },
};

type Outcome = "round-trip" | `refused ${string}` | `silent: ${string}`;

interface Target {
  storage: Storage;
  /** Folder the names are written in ("" for a fresh bucket). */
  base: string;
}

async function listAll({ storage, base }: Target): Promise<string[]> {
  const paths: string[] = [];
  for await (const entry of storage.list(base, { recursive: true }))
    paths.push(base === "" ? entry.path : entry.path.slice(base.length + 1));
  return paths;
}

async function tryName(target: Target, name: string): Promise<Outcome> {
  const { storage, base } = target;
  const bytes = new TextEncoder().encode(`content of ${JSON.stringify(name)}`);
  const before = new Set(await listAll(target));
  const key = base === "" ? name : `${base}/${name}`;
  try {
    await storage.write(key, bytes);
  } catch (error) {
    if (FerryError.isInstance(error)) return `refused ${error.code}`;
    return `silent: a ${String((error as Error)?.name)} instead of a FerryError: ${String(error)}`;
  }
  const added = (await listAll(target)).filter((path) => !before.has(path));
  if (added.length !== 1 || added[0] !== name) return `silent: wrote ${JSON.stringify(added)}`;
  const back = await storage.readBytes(key);
  if (Buffer.compare(Buffer.from(back), Buffer.from(bytes)) !== 0) return "silent: different bytes";
  await storage.delete(key);
  return "round-trip";
}

let backends: AllBackends;
let s3rver: AllBackends["s3rver"];
let azurite: AllBackends["azurite"];
let gcsServer: AllBackends["gcsServer"];
let githubServer: AllBackends["githubServer"];
let sshd: AllBackends["sshd"];
let dir: string;
const SKIP_SSHD = sshdSkipReason();

beforeAll(async () => {
  backends = await startAllBackends();
  ({ s3rver, azurite, gcsServer, githubServer, sshd } = backends);
  dir = await makeTemp("names");
}, 120_000);

afterAll(async () => {
  await backends?.stop();
  await removeTemp(dir);
});

const SYSTEMS: Record<string, () => Promise<Target>> = {
  local: async () => {
    const location = parseLocation(dir);
    return { storage: createStorage(await local().create(location)), base: location.path };
  },
  s3: async () => {
    const bucket = await s3rver.createBucket();
    const plugin = s3({ endpoint: s3rver.endpoint, region: s3rver.region, credentials: s3rver.credentials });
    return { storage: createStorage(await plugin.create(parseLocation(`s3://${bucket}`))), base: "" };
  },
  gs: async () => {
    const bucket = gcsServer.createBucket();
    const plugin = gcs({ apiEndpoint: gcsServer.endpoint, projectId: gcsServer.projectId });
    return { storage: createStorage(await plugin.create(parseLocation(`gs://${bucket}`))), base: "" };
  },
  az: async () => {
    const container = await azurite.createContainer();
    const plugin = azure({ connectionString: azurite.connectionString });
    return { storage: createStorage(await plugin.create(parseLocation(`az://${container}`))), base: "" };
  },
  github: async () => {
    await githubServer.createRepo("names", "matrix");
    const plugin = github({ baseUrl: githubServer.baseUrl, token: githubServer.token });
    return { storage: createStorage(await plugin.create(parseLocation("github://names/matrix"))), base: "" };
  },
  sftp: async () => {
    if (!sshd) throw new Error(SKIP_SSHD);
    const root = sshd.makeRoot();
    const plugin = sftp({
      privateKeyPath: sshd.privateKeyPath,
      knownHosts: sshd.knownHostsPath,
      agent: false,
    });
    const location = parseLocation(`sftp://${sshd.user}@${sshd.host}:${sshd.port}${root}`);
    return { storage: createStorage(await plugin.create(location)), base: location.path };
  },
};

describe("awkward names round-trip exactly or fail loudly", () => {
  for (const [system, open] of Object.entries(SYSTEMS)) {
    it(system, async (context) => {
      if (system === "sftp" && SKIP_SSHD) context.skip(SKIP_SSHD);
      const target = await open();
      const outcomes: Record<string, Outcome> = {};
      try {
        const gaps = Object.entries(EMULATOR_GAPS).filter(([key]) => key.split(" ")[0] === system);
        for (const [label, name] of Object.entries(NAMES)) {
          if (gaps.some(([, gap]) => gap.names.includes(label))) continue;
          outcomes[label] = await tryName(target, name);
        }
      } finally {
        await target.storage.close();
      }
      if (process.env.NAME_MATRIX) console.log(system, outcomes);
      const silent = Object.entries(outcomes).filter(([, outcome]) => outcome.startsWith("silent"));
      expect(silent, JSON.stringify(outcomes, null, 1)).toEqual([]);
      expect(outcomes["dot-dot segment"]).toBe("refused InvalidInput");
      expect(outcomes["dot segment"]).toBe("refused InvalidInput");
      // NFC and NFD are different names everywhere ferry writes: neither may be folded into the other.
      expect([outcomes["NFC é"], outcomes["NFD é"]]).toEqual(["round-trip", "round-trip"]);
    }, 120_000);
  }
});
