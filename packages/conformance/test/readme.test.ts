import { readFile } from "node:fs/promises";
import { expect, it } from "vitest";
import { STORAGE_CASE_NAMES } from "../src/index.ts";

// Plugin READMEs cite case names in their gap lists, so the README's list must stay complete.
it("the README lists every storage case by its exact name", async () => {
  const readme = await readFile(new URL("../README.md", import.meta.url), "utf8");
  const listed = [...readme.matchAll(/^- (.+)$/gm)].map((match) => match[1]);
  const missing = STORAGE_CASE_NAMES.filter((name) => !listed.includes(name));
  expect(missing).toEqual([]);
  expect(readme).toContain(`${STORAGE_CASE_NAMES.length} vitest cases`);
});
