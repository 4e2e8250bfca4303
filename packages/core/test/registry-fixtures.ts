/** Shared setup of the registry tests. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FerryError } from "@ferry/plugin-kit";
import { afterAll, beforeAll, expect } from "vitest";
import { parseLocation, type Registrable } from "../src/index.ts";

/** A resource that is nothing but a location, for tests of the registry itself. */
export function resourceAt(url: string, type: "folder" | "table" | "blob" = "folder"): Registrable {
  return { registryDescription: () => ({ type, location: parseLocation(url) }) };
}

export async function expectError(
  promise: Promise<unknown>,
  code: string,
  message?: RegExp,
): Promise<FerryError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(FerryError.isInstance(error), `expected a FerryError ${code}, got ${String(error)}`).toBe(true);
  expect((error as FerryError).code).toBe(code);
  if (message) expect((error as FerryError).message).toMatch(message);
  return error as FerryError;
}

/** A temporary directory for the test file, removed afterwards; `project()` makes a fresh project directory in it. */
export function useProjects(): { project: () => Promise<string> } {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "ferry-registry-"));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });
  return { project: () => mkdtemp(join(work, "project-")) };
}
