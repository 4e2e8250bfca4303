/**
 * `describeStorage(name, factory, options)`: the storage conformance suite as vitest cases.
 * Each case gets a fresh fixture from `factory` (an empty, isolated root) and disposes of it after,
 * whatever the outcome. Cases are gated only by the storage's declared capabilities (plus the
 * `capabilities` overrides for emulator gaps); declared gaps in `skip` are skipped with their reason.
 */

import { createStorage } from "@ferry/core";
import type { Capabilities, Storage } from "@ferry/plugin-kit";
import { describe, it } from "vitest";
import { ALL_CASES } from "./cases/index.ts";
import { unmetReason } from "./requirements.ts";
import type {
  CaseContext,
  DescribeStorageOptions,
  Requirement,
  StorageCase,
  StorageFactory,
  StorageFixture,
} from "./types.ts";

const DEFAULT_PART_SIZE = 64 * 1024;

export function describeStorage(
  name: string,
  factory: StorageFactory,
  options: DescribeStorageOptions = {},
): void {
  const cases: StorageCase[] = [...ALL_CASES];
  options.extra?.({
    test: (caseName, run, needs) => cases.push({ name: caseName, run, ...(needs ? { needs } : {}) }),
    factory,
    options,
  });
  checkNames(cases, options.skip ?? {});
  const timeout = options.slow ? 300_000 : 60_000;
  // Capabilities are static per storage, so the first fixture tells us; later cases that cannot
  // run are skipped before creating a fixture.
  let known: Capabilities | undefined;

  describe(`storage conformance: ${name}`, () => {
    for (const storageCase of cases) {
      it(
        storageCase.name,
        async (test) => {
          const gap = options.skip?.[storageCase.name];
          if (gap !== undefined) {
            console.info(`[${name}] skipped "${storageCase.name}": ${gap}`);
            test.skip(`declared gap: ${gap}`);
          }
          const needs: readonly Requirement[] = storageCase.needs ?? ["write"];
          if (known) {
            const reason = unmetReason(needs, effective(known, options));
            if (reason) test.skip(reason);
          }
          const fixtures: StorageFixture[] = [];
          const open = async (): Promise<Storage> => {
            const fixture = await factory();
            fixtures.push(fixture);
            return createStorage(fixture.storage);
          };
          try {
            const storage = await open();
            known ??= storage.capabilities;
            const capabilities = effective(storage.capabilities, options);
            const reason = unmetReason(needs, capabilities);
            if (reason) test.skip(reason);
            const context: CaseContext = {
              storage,
              capabilities,
              declared: storage.capabilities,
              partSize: options.partSize ?? storage.capabilities.limits.partSizeMin ?? DEFAULT_PART_SIZE,
              slow: options.slow ?? false,
              another: open,
            };
            await storageCase.run(context);
          } finally {
            for (const fixture of fixtures.reverse()) {
              await fixture.storage.close();
              await fixture.cleanup?.();
            }
          }
        },
        timeout,
      );
    }
  });
}

function effective(declared: Capabilities, options: DescribeStorageOptions): Capabilities {
  if (!options.capabilities) return declared;
  return {
    ...declared,
    ...options.capabilities,
    limits: { ...declared.limits, ...options.capabilities.limits },
  };
}

/** Duplicate case names, or a `skip` entry naming no case (a typo would silently run it), are errors. */
function checkNames(cases: readonly StorageCase[], skip: Record<string, string>): void {
  const names = new Set<string>();
  for (const { name } of cases) {
    if (names.has(name)) throw new Error(`describeStorage: two cases are named "${name}"`);
    names.add(name);
  }
  for (const name of Object.keys(skip)) {
    if (!names.has(name))
      throw new Error(`describeStorage: skip names no case: "${name}" (see STORAGE_CASE_NAMES)`);
  }
}

/** Every built-in case name, in order (for gap lists and for checking `skip`). */
export const STORAGE_CASE_NAMES: readonly string[] = ALL_CASES.map((storageCase) => storageCase.name);
