/**
 * `ferry cat --json` hands back a file's bytes exactly: the redaction every printed line goes through
 * applies to the location, never to the data (whose base64 can look like a key id).
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { jsonLines, makeTemp, removeTemp, runFerry } from "../run-ferry.ts";

let work: string;
beforeAll(async () => {
  work = await makeTemp("cat-json");
});
afterAll(async () => {
  await removeTemp(work);
});

it("cat --json returns bytes whose base64 has the shape of an AWS key id, unchanged", async () => {
  // 21 bytes whose base64 holds "AKIAIOSFODNN7EXAMPLE" as a word of its own (between "/"s).
  const encoded = "AAA/AKIAIOSFODNN7EXAMPLE/AAA";
  const expected = Buffer.from(encoded, "base64");
  expect(expected.toString("base64")).toBe(encoded);
  const file = join(work, "data.bin");
  await writeFile(file, expected);
  const run = await runFerry(["cat", "--json", file]);
  expect(run.code, run.stderr).toBe(0);
  const chunks = jsonLines(run.stdout).filter((line) => line.event === "data");
  const bytes = Buffer.concat(chunks.map((line) => Buffer.from(String(line.base64), "base64")));
  expect(bytes.equals(expected)).toBe(true);
});
