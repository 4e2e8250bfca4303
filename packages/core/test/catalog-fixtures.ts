/** Shared setup of the catalog tests: a temporary workspace and the seed's files. */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import type { JobContext, RunLog } from "../src/index.ts";

export const md5 = (text: string | Uint8Array) => createHash("md5").update(text).digest("hex");
export const RUN_ID = /^[a-z]+-[a-z]+-\d{4}$/;
export const DF_CSV = "a,b\n1,2\n3,4\n";
export const DATA_TXT = "hello catalog\n";
export const quiet = { quiet: true } as const;

/** A temporary directory for the test file, removed afterwards; `workdir()` makes a fresh working directory in it. */
export function useWorkspace(): { workdir: () => Promise<string> } {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "ferry-catalog-"));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });
  return { workdir: () => mkdtemp(join(work, "wd-")) };
}

export async function writeAt(cwd: string, files: Record<string, string | Uint8Array>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(cwd, name, ".."), { recursive: true });
    await writeFile(join(cwd, name), content);
  }
}

/** The seed's write_files: df.csv and data_folder/data.txt in the working directory. */
export async function writeFiles({ cwd }: JobContext): Promise<void> {
  process.stdout.write("writing df.csv and data_folder/data.txt\n");
  await writeAt(cwd, { "df.csv": DF_CSV, "data_folder/data.txt": DATA_TXT });
}

/** Files below `dir`, relative and sorted. */
export async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
    .sort();
}

export async function runLogOf(cwd: string, runId: string): Promise<RunLog> {
  return JSON.parse(await readFile(join(cwd, ".catalog", runId, `${runId}.json`), "utf8")) as RunLog;
}
