/**
 * What lands is what was sent: a storage plugin's uploads and downloads through a proxy that flips,
 * drops or truncates bytes inside the body (where a marker in the content passes), against the real
 * backend. Corruption must end in Integrity, a cut connection in Transient (each after the transfer's
 * retries), and either way the destination holds the exact source bytes or nothing under the name.
 * The plugin's test file starts the backend and the proxy (test-harness `startFaultProxy`) and
 * hands them over; the storage it opens through the proxy must write LARGE in parts of FAULT_PART.
 */
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { copy } from "@ferry/core";
import type { FerryError, Storage } from "@ferry/plugin-kit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { bytes, expectFerryError, listPaths } from "./helpers.ts";

/** The part (block, chunk) size a plugin under test is given: a multiple of 256 KiB, as GCS needs. */
export const FAULT_PART = 256 * 1024;
/** Uploaded in one request (below every threshold). */
const SMALL = 4000;
/** Uploaded in three parts. */
const LARGE = 600 * 1024;
const MARKER = "FERRY-FAULT-MARKER";
/** Past the marker, so the fault lands on a body byte however the marker was split between reads. */
const PAST_MARKER = MARKER.length + 5;

/** The part of test-harness's fault proxy this suite uses. */
export interface FaultInjector {
  inject(fault: {
    kind: "flip" | "drop" | "truncate";
    direction: "upstream" | "downstream";
    marker: string;
    offset: number;
    times?: number;
  }): { readonly fired: number };
  clear(): void;
}

export interface FaultTarget {
  proxy: FaultInjector;
  /** A fresh bucket or container, reached through the proxy and directly. */
  fresh(): Promise<{ storage: Storage; direct: Storage }>;
  /** How an upload's answer states the MD5 of what was stored: a hex ETag, a base64 Content-MD5 or md5Hash. */
  statedMd5(hex: string): string;
  /** Large uploads resume where a cut left off (GCS resumable sessions), so a cut never fails them. */
  resumes?: boolean;
}

/** `size` deterministic bytes with the marker at `at`. */
export function markedBytes(size: number, seed: number, at = Math.floor(size / 2)): Buffer {
  const body = Buffer.from(bytes(size, seed));
  body.write(MARKER, at, "latin1");
  return body;
}

const md5 = (data: Uint8Array) => createHash("md5").update(data).digest("hex");
const errorsOf = (summary: { errors: Array<{ error: unknown }> }) =>
  summary.errors.map(({ error }) => String(error));
const codesOf = (summary: { errors: Array<{ error: unknown }> }) =>
  summary.errors.map(({ error }) => (error as FerryError).code);

export function describeTransferFaults(name: string, target: () => FaultTarget): void {
  describe(`${name} through a faulty network`, () => {
    const suite = new FaultyNetwork(target);
    describeWriteFaults(suite);
    describeCopyUploadFaults(suite);
    describe("downloads", () => describeDownloadFaults(suite));
  });
}

/** A fresh storage behind the proxy before each test, a scratch directory with SMALL and LARGE files. */
class FaultyNetwork {
  readonly small = markedBytes(SMALL, 11);
  readonly large = markedBytes(LARGE, 12, Math.floor(LARGE * 0.7));
  scratch = "";
  storage!: Storage;
  direct!: Storage;
  proxy!: FaultInjector;

  readonly target: () => FaultTarget;

  constructor(target: () => FaultTarget) {
    this.target = target;
    beforeEach(async () => {
      this.proxy = target().proxy;
      this.proxy.clear();
      ({ storage: this.storage, direct: this.direct } = await target().fresh());
      this.scratch = await mkdtemp(join(tmpdir(), "ferry-faults-"));
      await writeFile(join(this.scratch, "small.bin"), this.small);
      await writeFile(join(this.scratch, "large.bin"), this.large);
    });
    afterEach(async () => {
      this.proxy.clear();
      await rm(this.scratch, { recursive: true, force: true });
    });
  }

  /** A fault just past the marker, for the next `times` bodies that carry it. */
  at(kind: "flip" | "drop" | "truncate", direction: "upstream" | "downstream", times = 1) {
    return this.proxy.inject({ kind, direction, marker: MARKER, offset: PAST_MARKER, times });
  }
}

/** storage.write: a corrupted body or a lying answer fails with Integrity and stores nothing. */
function describeWriteFaults(suite: FaultyNetwork): void {
  it.each([
    ["one request", suite.small],
    ["parts", suite.large],
  ])(
    "write in %s: a byte flipped on the way up fails with Integrity, naming the file, and stores nothing",
    async (_, body) => {
      const flip = suite.at("flip", "upstream");
      const error = await expectFerryError(
        suite.storage.write("upload.bin", body, { size: body.byteLength }),
        "Integrity",
      );
      expect(flip.fired).toBe(1);
      expect(error.message).toContain("upload.bin");
      expect(error.message).not.toContain("\n");
      expect(error.retryable).toBe(true);
      expect(await listPaths(suite.direct, "", { recursive: true })).toEqual([]);
    },
  );

  it.each([
    ["of a known size", { size: SMALL }],
    ["of unknown size", {}],
  ])(
    "write %s: an answer that states another MD5 than was sent fails with Integrity and leaves nothing",
    async (_, options) => {
      // Stored intact, but the answer says otherwise: ferry cannot tell which is wrong, so it must
      // not vouch for the object. A digit flipped with the mask 0x01 stays a digit (hex or base64).
      const stated = suite.target().statedMd5(md5(suite.small));
      const digit = stated.search(/[0-9]/);
      expect(digit).toBeGreaterThanOrEqual(0);
      const flip = suite.proxy.inject({
        kind: "flip",
        direction: "downstream",
        marker: stated,
        offset: digit,
      });
      const error = await expectFerryError(
        suite.storage.write("answer.bin", suite.small, options),
        "Integrity",
      );
      expect(flip.fired).toBe(1);
      expect(error.message).toContain("answer.bin");
      expect(await listPaths(suite.direct, "", { recursive: true })).toEqual([]);
    },
  );
}

/** copy() up: faults once are retried to exact objects; faults every time fail typed and leave nothing. */
function describeCopyUploadFaults(suite: FaultyNetwork): void {
  it("copy(): a flip once per file is retried, and the objects hold exactly the source bytes", async () => {
    const flip = suite.at("flip", "upstream", 2);
    const summary = await copy(
      suite.scratch,
      { storage: suite.storage, path: "" },
      { retryDelayMs: 1, transfers: 1 },
    );
    expect(errorsOf(summary)).toEqual([]);
    expect(flip.fired).toBe(2);
    for (const [key, body] of [
      ["small.bin", suite.small],
      ["large.bin", suite.large],
    ] as const) {
      expect(Buffer.from(await suite.direct.readBytes(key))).toEqual(body);
      const stated = (await suite.direct.stat(key)).md5;
      expect(stated === undefined || stated === md5(body), `${key}: stat says ${stated}`).toBe(true);
    }
  });

  it("copy(): a flip on every attempt fails each file with Integrity and leaves nothing", async () => {
    suite.at("flip", "upstream", Infinity);
    const summary = await copy(
      suite.scratch,
      { storage: suite.storage, path: "" },
      { retries: 2, retryDelayMs: 1 },
    );
    expect(summary.errors.map(({ path }) => path).sort()).toEqual(["large.bin", "small.bin"]);
    expect(codesOf(summary)).toEqual(["Integrity", "Integrity"]);
    expect(await listPaths(suite.direct, "", { recursive: true })).toEqual([]);
  });

  it.each(["drop", "truncate"] as const)(
    "copy(): a connection cut (%s) mid-body is retried; cut on every attempt, it fails Transient and leaves nothing",
    async (kind) => {
      await rm(join(suite.scratch, "small.bin"));
      suite.at(kind, "upstream");
      expect(
        errorsOf(await copy(suite.scratch, { storage: suite.storage, path: "" }, { retryDelayMs: 1 })),
      ).toEqual([]);
      expect(Buffer.from(await suite.direct.readBytes("large.bin"))).toEqual(suite.large);
      await suite.direct.delete("large.bin");

      suite.at(kind, "upstream", Infinity);
      const always = await copy(
        suite.scratch,
        { storage: suite.storage, path: "" },
        { retries: 2, retryDelayMs: 1 },
      );
      if (suite.target().resumes) {
        // The session keeps the bytes before the cut, and the next request resumes past the marker.
        expect(errorsOf(always)).toEqual([]);
        expect(Buffer.from(await suite.direct.readBytes("large.bin"))).toEqual(suite.large);
        return;
      }
      expect(codesOf(always)).toEqual(["Transient"]);
      expect(await listPaths(suite.direct, "", { recursive: true })).toEqual([]);
    },
  );
}

/** copy() down: faults once are retried to exact files; faults every time fail typed and place nothing. */
function describeDownloadFaults(suite: FaultyNetwork): void {
  beforeEach(async () => {
    await suite.direct.write("remote/small.bin", suite.small);
    await suite.direct.write("remote/large.bin", suite.large);
  });

  it("a byte flipped on the way down on every attempt fails with Integrity and places nothing", async () => {
    suite.at("flip", "downstream", Infinity);
    const local = join(suite.scratch, "down");
    const summary = await copy({ storage: suite.storage, path: "remote" }, local, {
      retries: 1,
      retryDelayMs: 1,
    });
    expect(summary.errors.map(({ path }) => path).sort()).toEqual(["large.bin", "small.bin"]);
    expect(codesOf(summary)).toEqual(["Integrity", "Integrity"]);
    expect(await readdir(local).catch(() => [])).toEqual([]);
  });

  it("a byte flipped once per file on the way down is retried and the files are exact", async () => {
    const flip = suite.at("flip", "downstream", 2);
    const local = join(suite.scratch, "down");
    const summary = await copy({ storage: suite.storage, path: "remote" }, local, {
      retryDelayMs: 1,
      transfers: 1,
    });
    expect(errorsOf(summary)).toEqual([]);
    expect(flip.fired).toBe(2);
    expect((await readdir(local)).sort()).toEqual(["large.bin", "small.bin"]);
    expect(await readFile(join(local, "small.bin"))).toEqual(suite.small);
    expect(await readFile(join(local, "large.bin"))).toEqual(suite.large);
  });

  it.each(["drop", "truncate"] as const)(
    "a connection cut (%s) on the way down on every attempt fails Transient and places nothing",
    async (kind) => {
      suite.at(kind, "downstream", Infinity);
      const local = join(suite.scratch, "down");
      const summary = await copy({ storage: suite.storage, path: "remote/large.bin" }, `${local}/`, {
        retries: 1,
        retryDelayMs: 1,
      });
      expect(codesOf(summary)).toEqual(["Transient"]);
      expect(await readdir(local).catch(() => [])).toEqual([]);
    },
  );
}
