/**
 * Tests of the suite itself: it runs against a read-only storage, honours capability overrides and
 * the extra hook, refuses skip entries that name no case, and — the point of a conformance suite —
 * its cases fail against drivers that break the contract.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { createStorage, LocalDriver } from "@ferry/core";
import { type Capabilities, type Storage, type StorageDriver, toByteIterable } from "@ferry/plugin-kit";
import { afterEach, describe, expect, it } from "vitest";
import type { CaseContext, StorageFixture } from "../src/index.ts";
import { describeStorage, listPaths, overrideDriver, STORAGE_CASE_NAMES } from "../src/index.ts";
import { ALL_CASES } from "../src/storage/cases/index.ts";

const dirs: string[] = [];

async function freshDriver(): Promise<LocalDriver> {
  const dir = await mkdtemp(join(tmpdir(), "ferry-suite-"));
  dirs.push(dir);
  return new LocalDriver(dir);
}

const localFixture = async (): Promise<StorageFixture> => {
  const dir = await mkdtemp(join(tmpdir(), "ferry-suite-"));
  return {
    storage: createStorage(new LocalDriver(dir)),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
};

const READ_ONLY: Partial<Capabilities> = {
  write: false,
  conditionalWrite: false,
  copy: false,
  move: false,
  mkdir: false,
};

// A read-only view: only the cases that need no writing run, and the honesty case checks every write is refused.
describeStorage("local, read-only view", async () => {
  const driver = await freshDriver();
  return { storage: createStorage(overrideDriver(driver, { capabilities: READ_ONLY })) };
});

// Overrides hide declared capabilities from gating (copy, move, mkdir here) but not from the honesty cases.
describeStorage("local, with capability overrides and an extra case", localFixture, {
  capabilities: { copy: false, move: false, conditionalWrite: false },
  skip: {
    "concurrency: reads during overwrites never see a torn value":
      "skip entries are honoured (this one is not a gap)",
  },
  extra: ({ test }) => {
    test("extra: runs on a fresh fixture with the same gating", async ({ storage, capabilities }) => {
      expect(await listPaths(storage, "")).toEqual([]);
      expect(capabilities.copy).toBe(false);
      expect(storage.capabilities.copy).toBe("native");
    });
  },
});

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

describe("describeStorage options", () => {
  it("refuses a skip entry that names no case", () => {
    expect(() => describeStorage("typo", localFixture, { skip: { "write: no such case": "typo" } })).toThrow(
      /names no case/,
    );
  });

  it("has at least 90 uniquely named cases, each prefixed by its group", () => {
    expect(STORAGE_CASE_NAMES.length).toBeGreaterThanOrEqual(90);
    expect(new Set(STORAGE_CASE_NAMES).size).toBe(STORAGE_CASE_NAMES.length);
    for (const name of STORAGE_CASE_NAMES) expect(name).toMatch(/^[a-z ]+: \S/);
  });
});

/** Runs one case directly against a fresh local driver, altered by `alter`. */
async function runCase(name: string, alter: (driver: LocalDriver) => StorageDriver): Promise<void> {
  const storageCase = ALL_CASES.find((candidate) => candidate.name === name);
  if (!storageCase) throw new Error(`no case named ${name}`);
  const storage: Storage = createStorage(alter(await freshDriver()));
  const context: CaseContext = {
    storage,
    capabilities: storage.capabilities,
    declared: storage.capabilities,
    partSize: 4096,
    slow: false,
    another: async () => createStorage(await freshDriver()),
  };
  await storageCase.run(context);
}

/** The case passes on the intact driver and fails on the broken one. */
async function expectCaseCatches(
  name: string,
  breakDriver: (driver: LocalDriver) => StorageDriver,
): Promise<void> {
  await expect(
    runCase(name, (driver) => driver),
    `${name} on the intact driver`,
  ).resolves.toBeUndefined();
  await expect(runCase(name, breakDriver), `${name} on the broken driver`).rejects.toBeInstanceOf(Error);
}

describe("the cases fail against drivers that break the contract", () => {
  it("a create-only write that overwrites", async () => {
    const broken = (driver: LocalDriver) =>
      overrideDriver(driver, {
        write: (path, source, options) => driver.write(path, source, { ...options, ifNoneMatch: undefined }),
      });
    await expectCaseCatches(
      "conditional write: create-only on an existing key fails with ConditionNotMet",
      broken,
    );
    await expectCaseCatches("conditional write: of racing creates exactly one wins", broken);
  });

  it("a listing out of order while declaring lexicographic", async () => {
    const reversed = (driver: LocalDriver) =>
      overrideDriver(driver, {
        list: async function* (dir, options) {
          const entries = [];
          for await (const entry of driver.list(dir, options)) entries.push(entry);
          yield* entries.reverse();
        },
      });
    await expectCaseCatches("list: order is by UTF-8 bytes", reversed);
    await expectCaseCatches(
      "capabilities: a declared lexicographic order holds in the driver's own listing",
      reversed,
    );
  });

  it("a read that ignores the range", async () => {
    const broken = (driver: LocalDriver) =>
      overrideDriver(driver, {
        read: (path, options) => driver.read(path, { ...options, range: undefined }),
      });
    await expectCaseCatches("read: a range in the middle", broken);
    await expectCaseCatches("read: a suffix range gives the last bytes", broken);
  });

  it("a delete that fails on missing paths", async () => {
    const broken = (driver: LocalDriver) =>
      overrideDriver(driver, {
        delete: async (paths, options) => {
          for (const path of paths) await driver.stat(path);
          await driver.delete(paths, options);
        },
      });
    await expectCaseCatches("delete: a missing path is not an error", broken);
  });

  it("an md5 reported without declaring it", async () => {
    const broken = (driver: LocalDriver) =>
      overrideDriver(driver, {
        capabilities: { hashes: ["sha256"] },
        stat: async (path, options) => ({ ...(await driver.stat(path, options)), md5: "0".repeat(32) }),
      });
    await expectCaseCatches("capabilities: no md5 is reported unless md5 is a declared hash", broken);
  });

  it("a write that is visible before it completes", async () => {
    // Writes straight to the final name: a failing source leaves a partial object behind.
    const broken = (driver: LocalDriver) =>
      overrideDriver(driver, {
        write: async (path, source, options) => {
          const chunks: Uint8Array[] = [];
          for await (const chunk of source) {
            chunks.push(chunk);
            await driver.write(path, toByteIterable(chunks), {});
          }
          return driver.write(path, toByteIterable(chunks), options);
        },
      });
    await expectCaseCatches("write: a source failing midway leaves nothing", broken);
    await expectCaseCatches("write: an MD5 mismatch leaves the existing object unchanged", broken);
  });

  it("a read that buffers the whole object", async () => {
    const broken = (driver: LocalDriver) =>
      overrideDriver(driver, {
        read: async (path, options) => {
          const stream = await driver.read(path, options);
          const chunks: Buffer[] = [];
          for await (const chunk of stream) chunks.push(chunk as Buffer);
          return Readable.from([Buffer.concat(chunks)]);
        },
      });
    await expectCaseCatches(
      "read: the stream does not buffer the whole object ahead of the consumer",
      broken,
    );
  });

  it("an empty directory that a declared emptyDirectories storage loses", async () => {
    const broken = (driver: LocalDriver) => overrideDriver(driver, { mkdir: async () => undefined });
    await expectCaseCatches("directories: mkdir creates an empty directory that lists", broken);
  });
});
