/**
 * `kill -9` of `ferry cp` into an SSH host at seeded moments: no file is ever visible cut short on the
 * host, and the next run finishes the copy and removes the temp files the killed runs left there.
 * (The host is this machine's sshd, so what it holds is read straight from its disk.)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  checkVisibleFiles,
  killRepeatedly,
  runFerryToEnd,
  tempLeftoversOnDisk,
  writeSourceTree,
} from "@ferry/test-harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { skipReason, useSshd } from "./helpers.ts";

const sshd = useSshd();
let local: string;
let source: Map<string, Buffer>;

beforeAll(() => {
  local = mkdtempSync(join(tmpdir(), "ferry-kill-sftp-"));
  source = writeSourceTree(join(local, "src"), {
    seed: 9,
    count: 150,
    maxBytes: 64 * 1024,
    largeBytes: 32 * 1024 ** 2,
  });
});

afterAll(() => rmSync(local, { recursive: true, force: true }));

describe.skipIf(skipReason)("kill -9 during ferry cp to an SSH host", () => {
  it("never shows a partial file; the rerun completes the copy and removes every temp file", async () => {
    const host = sshd();
    const root = host.makeRoot();
    const destination = join(root, "dst");
    const env = { FERRY_SSH_CONFIG: host.sshConfigPath };
    const args = ["cp", "--json", join(local, "src"), `sftp://${host.alias}${destination}`];
    const report = await killRepeatedly({
      args,
      env,
      kills: 4,
      seed: 11,
      maxDelayMs: 1500,
      writing: async () =>
        tempLeftoversOnDisk(root).length > 0 || checkVisibleFiles(destination, source).visible.length > 0,
      afterKill: async () => {
        expect(checkVisibleFiles(destination, source).wrong).toEqual([]);
      },
    });
    expect(report.killed).toBeGreaterThan(0);
    const left = tempLeftoversOnDisk(root);
    const rerun = await runFerryToEnd(args, env);
    expect(rerun.code, rerun.stderr).toBe(0);
    const after = checkVisibleFiles(destination, source);
    expect(after.wrong).toEqual([]);
    expect(after.visible).toEqual([...source.keys()].sort());
    expect(tempLeftoversOnDisk(root)).toEqual([]);
    if (left.length > 0) expect(rerun.stdout).toMatch(/removed \d+ leftover\(s\) of interrupted writes/);
  }, 120_000);
});
