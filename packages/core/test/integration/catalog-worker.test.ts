import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { startCaptureWorker } from "../../src/catalog/capture-worker.ts";
import { SMALL_FILE_BYTES, SmallFileCapturer, type SmallFileTask } from "../../src/catalog/capturer.ts";
import { md5, useWorkspace, writeAt } from "../catalog-fixtures.ts";

const { workdir } = useWorkspace();

/** Outcomes without their timings, which differ from one capture to the next. */
function untimed(outcomes: readonly object[]): object[] {
  return outcomes.map(
    ({ startedAt: _, durationMs: __, ...rest }: { startedAt?: number; durationMs?: number }) => rest,
  );
}

describe("capture worker", () => {
  it("captures a batch (hashes, copies, large files, missing files) exactly as this thread does", async () => {
    const cwd = await workdir();
    const large = new Uint8Array(SMALL_FILE_BYTES + 1).fill(7);
    await writeAt(cwd, {
      "in/empty.txt": "",
      "in/a.txt": "alpha\n",
      "in/deep/b.bin": "beta\n",
      "in/large.bin": large,
    });
    const batch = (folder: string): SmallFileTask[] => [
      { source: join(cwd, "in/a.txt") },
      { source: join(cwd, "in/empty.txt"), target: join(cwd, folder, "empty.txt") },
      { source: join(cwd, "in/deep/b.bin"), target: join(cwd, folder, "deep/b.bin") },
      { source: join(cwd, "in/large.bin"), target: join(cwd, folder, "large.bin") },
      { source: join(cwd, "in/missing.txt") },
    ];

    const { worker, ready } = startCaptureWorker(".ferry-test-");
    try {
      await ready;
      const fromWorker = new Promise<object[]>((resolve) => worker.once("message", resolve));
      worker.postMessage(batch("by-worker"));
      const here = new SmallFileCapturer(".ferry-test-").captureAll(batch("by-this-thread"));

      expect(untimed(await fromWorker)).toEqual(untimed(here));
      expect(untimed(here)).toEqual([
        { kind: "done", md5: md5("alpha\n"), size: 6 },
        { kind: "done", md5: md5(""), size: 0 },
        { kind: "done", md5: md5("beta\n"), size: 5 },
        { kind: "large" },
        { kind: "failed", message: expect.stringContaining("ENOENT"), code: "ENOENT" },
      ]);
      for (const folder of ["by-worker", "by-this-thread"]) {
        expect(await readFile(join(cwd, folder, "deep/b.bin"), "utf8")).toBe("beta\n");
        expect(await readFile(join(cwd, folder, "empty.txt"), "utf8")).toBe("");
        await expect(readFile(join(cwd, folder, "large.bin"))).rejects.toThrow(/ENOENT/);
      }
    } finally {
      await worker.terminate();
    }
  });
});

describe("capture worker in an ES module program", () => {
  it("starts when the main program runs as an ES module (the worker's source uses no require)", () => {
    const source = fileURLToPath(new URL("../../src/catalog/capture-worker.ts", import.meta.url));
    const script = `const { startCaptureWorker } = await import(${JSON.stringify(source)});
const { worker, ready } = startCaptureWorker(".ferry-capture-");
await ready;
await worker.terminate();
process.stdout.write("ready");`;
    const output = execFileSync(
      process.execPath,
      ["--conditions=@ferry/source", "--input-type=module", "-e", script],
      {
        encoding: "utf8",
        timeout: 20_000,
      },
    );
    expect(output).toBe("ready");
  });
});
