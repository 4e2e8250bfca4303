import { join } from "node:path";
import {
  checkVisibleFiles,
  killRepeatedly,
  killWhen,
  runFerryToEnd,
  type SourceTree,
  sourceTreeInTemp,
  tempLeftoversOnDisk,
} from "@ferry/test-harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { skipReason, useSshd } from "../helpers.ts";

const sshd = useSshd();
let tree: SourceTree;
let source: Map<string, Buffer>;

beforeAll(() => {
  tree = sourceTreeInTemp({
    seed: 9,
    count: 150,
    maxBytes: 64 * 1024,
    largeBytes: 32 * 1024 ** 2,
  });
  source = tree.files;
});

afterAll(() => tree?.remove());

describe.skipIf(skipReason)("kill -9 during ferry cp to an SSH host", () => {
  it("never shows a partial file; the rerun completes the copy and removes every temp file", async () => {
    const host = sshd();
    const root = host.makeRoot();
    const destination = join(root, "dst");
    const env = { FERRY_SSH_CONFIG: host.sshConfigPath };
    const args = ["cp", "--json", tree.dir, `sftp://${host.alias}${destination}`];
    // One kill certain (the large file in flight), then more at seeded moments.
    const largeInFlight = () => tempLeftoversOnDisk(root).some((path) => path.endsWith("-large.bin"));
    expect(await killWhen(args, env, largeInFlight)).toBe(true);
    expect(checkVisibleFiles(destination, source).wrong).toEqual([]);
    await killRepeatedly({
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
