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
    let scratch: string;
    let storage: Storage;
    let direct: Storage;
    let proxy: FaultInjector;
    const small = markedBytes(SMALL, 11);
    const large = markedBytes(LARGE, 12, Math.floor(LARGE * 0.7));
    const at = (kind: "flip" | "drop" | "truncate", direction: "upstream" | "downstream", times = 1) =>
      proxy.inject({ kind, direction, marker: MARKER, offset: PAST_MARKER, times });

    beforeEach(async () => {
      proxy = target().proxy;
      proxy.clear();
      ({ storage, direct } = await target().fresh());
      scratch = await mkdtemp(join(tmpdir(), "ferry-faults-"));
      await writeFile(join(scratch, "small.bin"), small);
      await writeFile(join(scratch, "large.bin"), large);
    });
    afterEach(async () => {
      proxy.clear();
      await rm(scratch, { recursive: true, force: true });
    });

    it.each([
      ["one request", small],
      ["parts", large],
    ])(
      "write in %s: a byte flipped on the way up fails with Integrity, naming the file, and stores nothing",
      async (_, body) => {
        const flip = at("flip", "upstream");
        const error = await expectFerryError(
          storage.write("upload.bin", body, { size: body.byteLength }),
          "Integrity",
        );
        expect(flip.fired).toBe(1);
        expect(error.message).toContain("upload.bin");
        expect(error.message).not.toContain("\n");
        expect(error.retryable).toBe(true);
        expect(await listPaths(direct, "", { recursive: true })).toEqual([]);
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
        const stated = target().statedMd5(md5(small));
        const digit = stated.search(/[0-9]/);
        expect(digit).toBeGreaterThanOrEqual(0);
        const flip = proxy.inject({ kind: "flip", direction: "downstream", marker: stated, offset: digit });
        const error = await expectFerryError(storage.write("answer.bin", small, options), "Integrity");
        expect(flip.fired).toBe(1);
        expect(error.message).toContain("answer.bin");
        expect(await listPaths(direct, "", { recursive: true })).toEqual([]);
      },
    );

    it("copy(): a flip once per file is retried, and the objects hold exactly the source bytes", async () => {
      const flip = at("flip", "upstream", 2);
      const summary = await copy(scratch, { storage, path: "" }, { retryDelayMs: 1, transfers: 1 });
      expect(errorsOf(summary)).toEqual([]);
      expect(flip.fired).toBe(2);
      for (const [key, body] of [
        ["small.bin", small],
        ["large.bin", large],
      ] as const) {
        expect(Buffer.from(await direct.readBytes(key))).toEqual(body);
        const stated = (await direct.stat(key)).md5;
        expect(stated === undefined || stated === md5(body), `${key}: stat says ${stated}`).toBe(true);
      }
    });

    it("copy(): a flip on every attempt fails each file with Integrity and leaves nothing", async () => {
      at("flip", "upstream", Infinity);
      const summary = await copy(scratch, { storage, path: "" }, { retries: 2, retryDelayMs: 1 });
      expect(summary.errors.map(({ path }) => path).sort()).toEqual(["large.bin", "small.bin"]);
      expect(codesOf(summary)).toEqual(["Integrity", "Integrity"]);
      expect(await listPaths(direct, "", { recursive: true })).toEqual([]);
    });

    it.each(["drop", "truncate"] as const)(
      "copy(): a connection cut (%s) mid-body is retried; cut on every attempt, it fails Transient and leaves nothing",
      async (kind) => {
        await rm(join(scratch, "small.bin"));
        at(kind, "upstream");
        expect(errorsOf(await copy(scratch, { storage, path: "" }, { retryDelayMs: 1 }))).toEqual([]);
        expect(Buffer.from(await direct.readBytes("large.bin"))).toEqual(large);
        await direct.delete("large.bin");

        at(kind, "upstream", Infinity);
        const always = await copy(scratch, { storage, path: "" }, { retries: 2, retryDelayMs: 1 });
        if (target().resumes) {
          // The session keeps the bytes before the cut, and the next request resumes past the marker.
          expect(errorsOf(always)).toEqual([]);
          expect(Buffer.from(await direct.readBytes("large.bin"))).toEqual(large);
          return;
        }
        expect(codesOf(always)).toEqual(["Transient"]);
        expect(await listPaths(direct, "", { recursive: true })).toEqual([]);
      },
    );

    describe("downloads", () => {
      beforeEach(async () => {
        await direct.write("remote/small.bin", small);
        await direct.write("remote/large.bin", large);
      });

      it("a byte flipped on the way down on every attempt fails with Integrity and places nothing", async () => {
        at("flip", "downstream", Infinity);
        const local = join(scratch, "down");
        const summary = await copy({ storage, path: "remote" }, local, { retries: 1, retryDelayMs: 1 });
        expect(summary.errors.map(({ path }) => path).sort()).toEqual(["large.bin", "small.bin"]);
        expect(codesOf(summary)).toEqual(["Integrity", "Integrity"]);
        expect(await readdir(local).catch(() => [])).toEqual([]);
      });

      it("a byte flipped once per file on the way down is retried and the files are exact", async () => {
        const flip = at("flip", "downstream", 2);
        const local = join(scratch, "down");
        const summary = await copy({ storage, path: "remote" }, local, { retryDelayMs: 1, transfers: 1 });
        expect(errorsOf(summary)).toEqual([]);
        expect(flip.fired).toBe(2);
        expect((await readdir(local)).sort()).toEqual(["large.bin", "small.bin"]);
        expect(await readFile(join(local, "small.bin"))).toEqual(small);
        expect(await readFile(join(local, "large.bin"))).toEqual(large);
      });

      it.each(["drop", "truncate"] as const)(
        "a connection cut (%s) on the way down on every attempt fails Transient and places nothing",
        async (kind) => {
          at(kind, "downstream", Infinity);
          const local = join(scratch, "down");
          const summary = await copy({ storage, path: "remote/large.bin" }, `${local}/`, {
            retries: 1,
            retryDelayMs: 1,
          });
          expect(codesOf(summary)).toEqual(["Transient"]);
          expect(await readdir(local).catch(() => [])).toEqual([]);
        },
      );
    });
  });
}
