/**
 * Tests of the suite itself: it runs against a read-only storage, honours capability overrides and
 * the extra hook, refuses skip entries that name no case, and — the point of a conformance suite —
 * its cases fail against drivers that break the contract.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Capabilities,
  createStorage,
  LocalDriver,
  type Storage,
  type StorageDriver,
  toByteIterable,
} from "@ferry/core";
import { afterEach, describe, expect, it } from "vitest";
import type { CaseContext, StorageFixture } from "../src/index.ts";
import { describeStorage, listPaths, STORAGE_CASE_NAMES } from "../src/index.ts";
import { ALL_CASES } from "../src/storage/cases/index.ts";

const dirs: string[] = [];

async function freshDriver(): Promise<LocalDriver> {
  const dir = await mkdtemp(join(tmpdir(), "ferry-suite-"));
  dirs.push(dir);
  return new LocalDriver(dir);
}

/** The local driver with some members replaced: `capabilities` and any operation. */
function tweak(
  driver: LocalDriver,
  overrides: Partial<Omit<StorageDriver, "capabilities">> & { capabilities?: Partial<Capabilities> },
): StorageDriver {
  const forwarded: StorageDriver = {
    system: driver.system,
    root: driver.root,
    capabilities: { ...driver.capabilities, ...overrides.capabilities },
    stat: (path, options) => driver.stat(path, options),
    list: (dir, options) => driver.list(dir, options),
    read: (path, options) => driver.read(path, options),
    write: (path, source, options) => driver.write(path, source, options),
    delete: (paths, options) => driver.delete(paths, options),
    copy: (from, to, options) => driver.copy(from, to, options),
    move: (from, to, options) => driver.move(from, to, options),
    mkdir: (path, options) => driver.mkdir(path, options),
    deleteDirectory: (path, options) => driver.deleteDirectory(path, options),
    checksum: (path, algorithm, options) => driver.checksum(path, algorithm, options),
  };
  const { capabilities: _, ...operations } = overrides;
  return { ...forwarded, ...operations };
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
  return { storage: createStorage(tweak(driver, { capabilities: READ_ONLY })) };
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

/** Runs one case directly against `driver`; resolves if it passes, rejects with its assertion if not. */
async function runCase(name: string, driver: StorageDriver): Promise<void> {
  const storageCase = ALL_CASES.find((candidate) => candidate.name === name);
  if (!storageCase) throw new Error(`no case named ${name}`);
  const storage: Storage = createStorage(driver);
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

describe("the cases fail against drivers that break the contract", () => {
  it("a create-only write that overwrites", async () => {
    const driver = await freshDriver();
    const broken = tweak(driver, {
      write: (path, source, options) => driver.write(path, source, { ...options, ifNoneMatch: undefined }),
    });
    await expect(
      runCase("conditional write: create-only on an existing key fails with ConditionNotMet", broken),
    ).rejects.toThrow();
    await expect(
      runCase("conditional write: of racing creates exactly one wins", tweak(await freshDriver(), {})),
    ).resolves.toBeUndefined();
  });

  it("a listing out of order while declaring lexicographic", async () => {
    const driver = await freshDriver();
    const reversed = tweak(driver, {
      list: async function* (dir, options) {
        const entries = [];
        for await (const entry of driver.list(dir, options)) entries.push(entry);
        yield* entries.reverse();
      },
    });
    await expect(runCase("list: order is by UTF-8 bytes", reversed)).rejects.toThrow();
    await expect(
      runCase("capabilities: a declared lexicographic order holds in the driver's own listing", reversed),
    ).rejects.toThrow();
  });

  it("a read that ignores the range", async () => {
    const driver = await freshDriver();
    const broken = tweak(driver, {
      read: (path, options) => driver.read(path, { ...options, range: undefined }),
    });
    await expect(runCase("read: a range in the middle", broken)).rejects.toThrow();
    await expect(runCase("read: a suffix range gives the last bytes", broken)).rejects.toThrow();
  });

  it("a delete that fails on missing paths", async () => {
    const driver = await freshDriver();
    const broken = tweak(driver, {
      delete: async (paths, options) => {
        for (const path of paths) await driver.stat(path);
        await driver.delete(paths, options);
      },
    });
    await expect(runCase("delete: a missing path is not an error", broken)).rejects.toThrow();
  });

  it("an md5 reported without declaring it", async () => {
    const driver = await freshDriver();
    const broken = tweak(driver, {
      capabilities: { hashes: ["sha256"] },
      stat: async (path, options) => ({ ...(await driver.stat(path, options)), md5: "0".repeat(32) }),
    });
    await expect(
      runCase("capabilities: no md5 is reported unless md5 is a declared hash", broken),
    ).rejects.toThrow();
  });

  it("a write that is visible before it completes", async () => {
    const driver = await freshDriver();
    // Writes straight to the final name: a failing source leaves a partial object behind.
    const broken = tweak(driver, {
      write: async (path, source, options) => {
        const chunks: Uint8Array[] = [];
        for await (const chunk of source) {
          chunks.push(chunk);
          await driver.write(path, toByteIterable(chunks), {});
        }
        return driver.write(path, toByteIterable(chunks), options);
      },
    });
    await expect(runCase("write: a source failing midway leaves nothing", broken)).rejects.toThrow();
    await expect(runCase("write: an object is invisible until its write completes", broken)).rejects.toThrow();
    await expect(
      runCase("write: an MD5 mismatch leaves the existing object unchanged", broken),
    ).rejects.toThrow();
  });

  it("an empty directory that a declared emptyDirectories storage loses", async () => {
    const driver = await freshDriver();
    const broken = tweak(driver, { mkdir: async () => undefined });
    await expect(
      runCase("directories: mkdir creates an empty directory that lists", broken),
    ).rejects.toThrow();
  });
});
