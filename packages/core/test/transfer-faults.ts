/**
 * Fault injection for transfer tests: the real local driver, with one operation replaced so that it
 * fails the way a network storage can (a read that dies midway, a transient error, a wrong hash).
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { mkdir, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import type { Capabilities, Storage, StorageDriver } from "@ferry/plugin-kit";
import { createStorage, LocalDriver } from "../src/index.ts";

/**
 * A local storage rooted at `dir` whose driver methods can be swapped out. `system` names it as
 * another system, so the engine treats it as another machine rather than this one's disk;
 * `capabilities` overrides what it declares (e.g. `directories: "virtual"` to act as an object store).
 */
export function faultyStorage(
  dir: string,
  override: (inner: LocalDriver) => Partial<StorageDriver>,
  options: { system?: string; capabilities?: Partial<Capabilities> } = {},
): Storage {
  const inner = new LocalDriver(dir);
  const driver: StorageDriver = {
    system: options.system ?? inner.system,
    root: inner.root,
    capabilities: { ...inner.capabilities, ...options.capabilities },
    stat: (path, options) => inner.stat(path, options),
    list: (path, options) => inner.list(path, options),
    read: (path, options) => inner.read(path, options),
    write: (path, source, options) => inner.write(path, source, options),
    delete: (paths, options) => inner.delete(paths, options),
    deleteDirectory: (path, options) => inner.deleteDirectory(path, options),
    copy: (from, to, options) => inner.copy(from, to, options),
    mkdir: (path, options) => inner.mkdir(path, options),
    checksum: (path, algorithm, options) => inner.checksum(path, algorithm, options),
    ...override(inner),
  };
  return createStorage(driver);
}

/** A read stream that delivers `okBytes` of the real content and then fails with `error`. */
export function failingAfter(okBytes: number, error: Error, source: Readable): Readable {
  return Readable.from(
    (async function* () {
      let sent = 0;
      for await (const chunk of source as AsyncIterable<Buffer>) {
        const room = okBytes - sent;
        if (room <= 0) break;
        const part = chunk.subarray(0, room);
        sent += part.byteLength;
        yield part;
      }
      source.destroy();
      throw error;
    })(),
    { objectMode: false },
  );
}

/** A fresh temporary directory; remove it with `removeTemp`. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `ferry-${prefix}-`));
}

export function removeTemp(...dirs: string[]): void {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}

/** Write files (relative path → content) under `root`, optionally with a fixed modified time. */
export async function writeTree(
  root: string,
  files: Record<string, string | Uint8Array>,
  mtime?: Date,
): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const file = join(root, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, content);
    if (mtime) await utimes(file, mtime, mtime);
  }
}

/** Every file below `root` (relative paths, sorted), including hidden temp files. */
export function filesUnder(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, prefix: string) => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      const relative = prefix ? `${prefix}/${name}` : name;
      if (statSync(full).isDirectory()) walk(full, relative);
      else out.push(relative);
    }
  };
  walk(root, "");
  return out.sort();
}
