/**
 * `sync --delete` where a file became a folder of the same name, or a folder became a file: on local
 * disk (as on SFTP and in a git tree) the two cannot stand side by side, so the extra in the way must
 * go before the copy, and folders the deletions emptied must go too.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { local, PluginRegistry, sync } from "@ferry/core";
import { afterEach, beforeEach, expect, it } from "vitest";

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), "ferry-swaps-"));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

const registry = () => new PluginRegistry({ lazy: false }).use(local());
const put = (path: string, text: string) => {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
};

it("sync --delete turns a file into a folder and a folder into a file at the destination", async () => {
  const source = join(work, "src");
  const destination = join(work, "dst");
  put(join(source, "x"), "x was a file");
  put(join(source, "d/inner/y"), "d was a folder");
  await sync(source, destination, { registry: registry(), delete: true });

  rmSync(join(source, "x"));
  put(join(source, "x/now-inside"), "x is a folder");
  rmSync(join(source, "d"), { recursive: true });
  put(join(source, "d"), "d is a file");
  const summary = await sync(source, destination, { registry: registry(), delete: true });

  expect(summary.errors).toEqual([]);
  expect([summary.copied, summary.deleted]).toEqual([2, 2]);
  expect(readFileSync(join(destination, "x/now-inside"), "utf8")).toBe("x is a folder");
  expect(readFileSync(join(destination, "d"), "utf8")).toBe("d is a file");
});

it("sync --delete removes the folders its deletions emptied, so a file can take the name later", async () => {
  const source = join(work, "src");
  const destination = join(work, "dst");
  put(join(source, "keep"), "k");
  put(join(source, "gone/deep/f"), "f");
  await sync(source, destination, { registry: registry(), delete: true });
  rmSync(join(source, "gone"), { recursive: true });
  await sync(source, destination, { registry: registry(), delete: true });
  expect(existsSync(join(destination, "gone"))).toBe(false);

  put(join(source, "gone"), "a file now");
  const summary = await sync(source, destination, { registry: registry(), delete: true });
  expect(summary.errors).toEqual([]);
  expect(readFileSync(join(destination, "gone"), "utf8")).toBe("a file now");
});
