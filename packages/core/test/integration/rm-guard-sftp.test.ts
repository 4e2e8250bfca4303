/**
 * `rm()` and `mv()` refuse a remote login's home directory named by its absolute path
 * (`sftp://me@host/home/me`), and any folder holding it, as they refuse a local home; nothing is
 * removed. The test's sshd starts SFTP sessions in a scratch directory (internal-sftp -d), which is
 * the home as every SFTP client sees it, so a guard that failed would remove only that directory.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type SshdBackend, sshdSkipReason, startSshd } from "@ferry/test-harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Folder, type PluginRegistry, Table, table } from "../../src/index.ts";
import { sftpPlugins } from "../sftp-fixture.ts";

const skip = sshdSkipReason();
let sshd: SshdBackend;
let plugins: PluginRegistry;
let scratch: string;
let home: string;
let host: string;

beforeAll(async () => {
  if (skip) return;
  scratch = await mkdtemp(join(tmpdir(), "ferry-rm-guard-"));
  home = join(scratch, "parent", "home");
  mkdirSync(join(home, "runs"), { recursive: true });
  writeFileSync(join(home, ".profile"), "keep me");
  sshd = await startSshd({ startDirectory: home });
  host = `sftp://${sshd.user}@${sshd.host}:${sshd.port}`;
  plugins = sftpPlugins(sshd);
});

afterAll(async () => {
  await plugins?.close();
  await sshd?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

async function refusal(run: () => Promise<unknown>): Promise<{ code?: string; message: string }> {
  return run().then(
    () => ({ message: "not refused" }),
    (error: { code?: string; message: string }) => error,
  );
}

describe.skipIf(skip)("the login's home on an SSH host", () => {
  it("rm() of the home by its absolute path, or of a folder holding it, is refused and removes nothing", async () => {
    for (const path of [home, join(scratch, "parent"), scratch]) {
      const error = await refusal(() => new Folder(`${host}${path}`, { registry: plugins }).rm());
      expect(error.code, path).toBe("InvalidInput");
      expect(error.message.split("\n")).toHaveLength(1);
      expect(error.message).toMatch(
        path === home
          ? /it is the login's home directory on sftp:\/\/.*; pass rm\(\{ force: true \}\) to remove it anyway/
          : /it is a folder holding the login's home directory on sftp:\/\/.*\(.*home\)/,
      );
      expect(existsSync(join(home, ".profile")), path).toBe(true);
    }
    const asTable = await refusal(() => Table.from(`${host}${home}`, { registry: plugins }).rm());
    expect(asTable.message).toMatch(/it is the login's home directory/);
    const moved = await refusal(() =>
      new Folder(`${host}${home}`, { registry: plugins }).mv(`${host}${scratch}/elsewhere`),
    );
    expect(moved.message).toMatch(/it is the login's home directory.*mv\(target, path, \{ force: true \}\)/);
    expect(existsSync(join(home, ".profile"))).toBe(true);
  });

  it("a folder inside the home is removed as before, and the home-relative spelling still names the root", async () => {
    const inside = new Folder(`${host}${home}/runs/run-1`, { registry: plugins });
    await inside.put({ "a.txt": "a" });
    await inside.rm();
    expect(existsSync(join(home, "runs", "run-1"))).toBe(false);
    await table({ x: [1, 2] }, `${host}${home}/runs/t`, { registry: plugins }).write();
    await Table.from(`${host}${home}/runs/t`, { registry: plugins }).rm();
    expect(existsSync(join(home, "runs", "t"))).toBe(false);
    const root = await refusal(() => new Folder(`${host}/~`, { registry: plugins }).rm());
    expect(root.code).toBe("InvalidInput");
    expect(existsSync(join(home, ".profile"))).toBe(true);
  });

  it("named entries inside the home are removed; { force: true } removes a folder holding it", async () => {
    await new Folder(`${host}${home}`, { registry: plugins }).rm(["runs"]);
    expect(existsSync(join(home, "runs"))).toBe(false);
    expect(existsSync(join(home, ".profile"))).toBe(true);
    await new Folder(`${host}${scratch}`, { registry: plugins }).rm({ force: true });
    expect(existsSync(scratch)).toBe(false);
  });
});
