/**
 * `ferry cp` on a real terminal: tmux at 60 and 120 columns, files failing while large ones are still
 * copying. The screen afterwards must read top to bottom — each failure whole, the summary, the exit
 * status, the prompt — with no bar left behind; every bar drawn meanwhile fits the width.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { TransferProgress } from "@ferry/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { progressLine } from "../../src/progress.ts";
import { FERRY_BIN, makeTemp, removeTemp, writeFiles } from "../run-ferry.ts";

const tmuxMissing = spawnSync("tmux", ["-V"]).status !== 0;
const SOCKET = `ferry-cli-test-${process.pid}`;
const BAR = /[█░]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: an escape sequence ends a drawn bar
const DRAWN_BAR = /[█░]+ [^\u001b\r\n]*/g;

function tmux(...args: string[]): string {
  const result = spawnSync("tmux", ["-L", SOCKET, "-f", "/dev/null", ...args], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`tmux ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

/** The pane's text, wrapped lines joined back, trailing blanks dropped. */
function screen(session: string): string[] {
  const lines = tmux("capture-pane", "-p", "-J", "-t", session)
    .split("\n")
    .map((line) => line.trimEnd());
  while (lines.at(-1) === "") lines.pop();
  return lines;
}

async function waitForExit(session: string): Promise<string[]> {
  for (let attempt = 0; attempt < 600; attempt++) {
    const lines = screen(session);
    if (lines.some((line) => line.startsWith("EXIT="))) return lines;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`ferry did not finish in the terminal:\n${screen(session).join("\n")}`);
}

/** Bars as drawn: each run of bar characters and the figures after it, up to the next control sequence. */
function drawnBars(raw: string): string[] {
  return [...raw.matchAll(DRAWN_BAR)].map((match) => match[0]);
}

let work: string;

describe.skipIf(tmuxMissing)("cp on a terminal (tmux): failures above a bar that keeps its place", () => {
  beforeAll(async () => {
    work = await makeTemp("terminal");
    await mkdir(join(work, "src"), { recursive: true });
    const big = Buffer.alloc(128 * 1024 * 1024, 1);
    await writeFile(join(work, "src/big-1.bin"), big);
    await writeFile(join(work, "src/big-2.bin"), big);
    const names = [1, 2, 3].map((n) => `src/bad/a-file-with-a-rather-long-name-number-${n}.txt`);
    await writeFiles(work, Object.fromEntries(names.map((name) => [name, "x\n"])));
  });

  afterAll(async () => {
    spawnSync("tmux", ["-L", SOCKET, "kill-server"]);
    await removeTemp(work);
  });

  for (const columns of [60, 120]) {
    it(`at ${columns} columns`, async () => {
      const session = `cp${columns}`;
      const destination = join(work, `dst-${columns}`);
      // A file where the source has a folder: the three files below it fail, the large ones copy.
      await writeFiles(destination, { bad: "not a folder" });
      const raw = join(work, `raw-${columns}.log`);
      const script = join(work, `cp-${columns}.sh`);
      await writeFile(
        script,
        `cd ${JSON.stringify(work)} && ${JSON.stringify(process.execPath)} ${JSON.stringify(FERRY_BIN)} cp --multi-thread-streams 1 src ${JSON.stringify(destination)}; echo EXIT=$?\n`,
      );
      tmux("new-session", "-d", "-s", session, "-x", String(columns), "-y", "30", "env PS1='$ ' sh");
      try {
        tmux("pipe-pane", "-o", "-t", session, `cat >> ${JSON.stringify(raw)}`);
        tmux("send-keys", "-t", session, `sh ${script}`, "Enter");
        const lines = await waitForExit(session);

        const start = lines.findIndex((line) => line.startsWith("failed  "));
        const failed = lines.slice(start, start + 3);
        expect(failed.sort()).toEqual(
          [1, 2, 3].map(
            (n) =>
              `failed  bad/a-file-with-a-rather-long-name-number-${n}.txt: InvalidInput: a parent of ${destination}/bad/a-file-with-a-rather-long-name-number-${n}.txt is a file, not a directory`,
          ),
        );
        expect(lines[start + 3]).toMatch(/^copied 2, skipped 0, deleted 0, failed 3: 256 MiB in /);
        expect(lines.slice(start + 4)).toEqual(["ferry: InvalidInput: 3 files failed", "EXIT=2", "$"]);
        expect(lines.filter((line) => BAR.test(line))).toEqual([]);

        const bars = drawnBars(readFileSync(raw, "utf8"));
        expect(bars.length).toBeGreaterThan(0);
        for (const bar of bars) expect(bar.length, bar).toBeLessThan(columns);
      } finally {
        tmux("kill-session", "-t", session);
      }
    });
  }
});

describe("the progress line", () => {
  const progress = (over: Partial<TransferProgress>): TransferProgress => ({
    filesDone: 3,
    filesTotal: 10,
    bytesDone: 300 * 1024 ** 3,
    bytesTotal: 1000 * 1024 ** 3,
    bytesPerSecond: 123.4 * 1024 ** 2,
    etaSeconds: 5_000,
    elapsedSeconds: 2_000,
    ...over,
  });

  it("fits the terminal, from 40 columns up, keeping the figures at 60", () => {
    for (const columns of [40, 60, 80, 120, 200]) {
      const line = progressLine(progress({}), columns);
      expect(line.length, line).toBeLessThan(columns);
    }
    const typical = progress({ bytesDone: 1.2 * 1024 ** 3, bytesTotal: 3 * 1024 ** 3, etaSeconds: 150 });
    expect(progressLine(typical, 60)).toMatch(
      /^[█░]{6,} 40% 3\/10 files 1\.2\/3\.0 GiB 123 MiB\/s ETA 2 min 30 s$/,
    );
    expect(progressLine(typical, 60).length).toBeLessThan(60);
  });

  it("says it is finishing once every byte is sent but files are not done, or the estimate ran out", () => {
    const sent = progressLine(progress({ bytesDone: 1000 * 1024 ** 3, filesDone: 9, etaSeconds: 0 }), 80);
    expect(sent).toMatch(/ 100% 9\/10 files .* finishing 1 file…$/);
    expect(sent).not.toContain("ETA");
    expect(progressLine(progress({ etaSeconds: 0.12 }), 80, 3)).toMatch(/finishing 7 files…$/);
    expect(progressLine(progress({ etaSeconds: 4 }), 80, 1)).toMatch(/ETA 3\.00 s$/);
  });
});
