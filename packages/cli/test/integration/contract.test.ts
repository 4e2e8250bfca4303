/**
 * The CLI's contract, table-driven: every command with good and bad input, with and without --json,
 * gives the documented exit code; every --json line parses and has the documented shape; an error is
 * one `ferry: Code: message` line on stderr (and an `error` event with --json).
 */
import { existsSync, readdirSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { table } from "@ferry/core";
import { type GcsBackend, startGcsServer } from "@ferry/test-harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  FERRY_BIN,
  type FerryRun,
  makeTemp,
  removeTemp,
  runFerry,
  runShell,
  writeFiles,
} from "../run-ferry.ts";

let work: string;

beforeAll(async () => {
  work = await makeTemp("contract");
  await writeFiles(work, {
    "data/a.txt": "alpha\n",
    "data/b.bin": "0123456789",
    "data/sub/c.txt": "charlie\n",
    "list.txt": "a.txt\n",
    "people.csv": "id,name\n1,ada\n2,grace\n",
  });
  await table({ id: [1, 2, 3], grade: ["a", "b", "c"] }, join(work, "grades")).write();
});

afterAll(() => removeTemp(work));

type FieldType = "string" | "number" | "boolean" | "object";

/** The fields each event documents in packages/cli/README.md, with their types. */
const SHAPES: Record<string, Record<string, FieldType>> = {
  entry: { name: "string" },
  data: { url: "string", offset: "number", base64: "string" },
  stat: { name: "string", url: "string", kind: "string", size: "number" },
  usage: { url: "string", files: "number", bytes: "number" },
  created: { url: "string" },
  removed: {},
  file: { action: "string", status: "string", path: "string", destination: "string", size: "number" },
  plan: { action: "string", path: "string", destination: "string", size: "number", reason: "string" },
  summary: {},
  note: { message: "string" },
  error: { code: "string", message: "string" },
  row: {},
  field: { name: "string" },
  count: { rows: "number" },
  converted: { rows: "number", from: "string", to: "string" },
  saved: { name: "string", version: "number" },
  run: {},
  got: { name: "string", md5: "string", size: "number" },
  problem: { name: "string" },
  verified: { runId: "string", ok: "boolean", checked: "number", problems: "number" },
  "would-remove": { runId: "string" },
};

interface Case {
  /** Arguments, before --json is added; `mode` tells runs apart where a command changes something. */
  args: (mode: "json" | "plain") => string[];
  code: number;
  /** Events the --json run must print (in this order, others may come between). */
  events?: string[];
  /** The error code named on stderr, for a failure. */
  error?: string;
  /** Text stderr must contain (the words of the interface). */
  says?: RegExp;
  /** Reads what other cases made (a saved name, a run): runs after them. */
  after?: true;
}

const same =
  (...args: string[]) =>
  () =>
    args;

const CASES: Record<string, Case> = {
  "ls a directory": { args: same("ls", "data"), code: 0, events: ["entry", "entry", "entry"] },
  "ls -R --long": { args: same("ls", "-R", "--long", "data"), code: 0, events: ["entry"] },
  "ls a missing path": { args: same("ls", "missing"), code: 3, error: "NotFound" },
  "ls an unknown option": { args: same("ls", "--bogus", "data"), code: 2, error: "InvalidInput" },
  "ls without a location": { args: same("ls"), code: 2, error: "InvalidInput" },
  "cat a file": { args: same("cat", "data/a.txt"), code: 0, events: ["data"] },
  "cat a byte range": { args: same("cat", "--offset", "2", "--count", "3", "data/b.bin"), code: 0 },
  "cat a missing file": { args: same("cat", "missing"), code: 3, error: "NotFound" },
  "cat a bad --offset": {
    args: same("cat", "--offset", "x", "data/a.txt"),
    code: 2,
    error: "InvalidInput",
    says: /--offset/,
  },
  "stat a file": { args: same("stat", "data/b.bin"), code: 0, events: ["stat"] },
  "stat a missing path": { args: same("stat", "missing"), code: 3, error: "NotFound" },
  "du a directory": { args: same("du", "data"), code: 0, events: ["usage"] },
  "du a malformed URL": { args: same("du", "s3://"), code: 2, error: "InvalidInput" },
  "du a scheme without a plugin": { args: same("du", "nosuch://x/y"), code: 5, error: "PluginMissing" },
  "mkdir a new directory": { args: (mode) => ["mkdir", `made-${mode}/deep`], code: 0, events: ["created"] },
  "mkdir below a file": { args: same("mkdir", "data/a.txt/x"), code: 7, error: "AlreadyExists" },
  "mkdir where the file system refuses": {
    args: same("mkdir", "/proc/ferry-contract/x"),
    code: 4,
    error: "PermissionDenied",
    says: /\/proc\/ferry-contract/,
  },
  "rm a directory without -r": {
    args: same("rm", "data/sub"),
    code: 2,
    error: "InvalidInput",
    says: /rm -r/,
  },
  "rm a missing file": { args: same("rm", "missing"), code: 3, error: "NotFound" },
  "rm -f a missing file": { args: same("rm", "-f", "missing"), code: 0 },
  "cp a tree": { args: (mode) => ["cp", "data", `copy-${mode}`], code: 0, events: ["file", "summary"] },
  "cp --files-from": {
    args: (mode) => ["cp", "--files-from", "list.txt", "data", `listed-${mode}`],
    code: 0,
    events: ["file", "summary"],
  },
  "cp a missing source": { args: same("cp", "missing", "elsewhere"), code: 3, error: "NotFound" },
  "cp a missing --files-from file": {
    args: same("cp", "--files-from", "no-such-list.txt", "data", "elsewhere"),
    code: 3,
    error: "NotFound",
    says: /--files-from/,
  },
  "cp --transfers 0": {
    args: same("cp", "--transfers", "0", "data", "elsewhere"),
    code: 2,
    error: "InvalidInput",
    says: /--transfers/,
  },
  "cp where every file is refused": {
    args: same("cp", "data", "/sys/kernel/ferry-contract"),
    code: 4,
    events: ["file", "summary"],
    error: "PermissionDenied",
  },
  "sync --dry-run --delete": {
    args: same("sync", "--dry-run", "--delete", "data", "copy-json"),
    code: 0,
    events: ["summary"],
  },
  "sync --delete": {
    args: (mode) => ["sync", "--delete", "data", `copy-${mode}`],
    code: 0,
    events: ["summary"],
  },
  "table head": { args: same("table", "head", "-n", "2", "grades"), code: 0, events: ["row", "row"] },
  "table head a missing table": { args: same("table", "head", "missing"), code: 3, error: "NotFound" },
  "table head -n 0": { args: same("table", "head", "-n", "0", "grades"), code: 2, error: "InvalidInput" },
  "table schema": { args: same("table", "schema", "grades"), code: 0, events: ["field", "field"] },
  "table count": { args: same("table", "count", "grades"), code: 0, events: ["count"] },
  "table convert": {
    args: (mode) => ["table", "convert", "people.csv", `people-${mode}`],
    code: 0,
    events: ["converted"],
  },
  "table convert to a .parquet file": {
    args: same("table", "convert", "people.csv", "out.parquet"),
    code: 0,
    events: ["converted"],
  },
  "table convert to - as a table": {
    args: same("table", "convert", "people.csv", "-", "--to", "table"),
    code: 2,
    error: "InvalidInput",
  },
  "registry save": {
    args: same("registry", "save", "~/contract", "data", "--type", "folder"),
    code: 0,
    events: ["saved"],
  },
  "registry save a bad --type": {
    args: same("registry", "save", "~/x", "data", "--type", "chair"),
    code: 2,
    error: "InvalidInput",
  },
  "registry ls": { args: same("registry", "ls"), code: 0, after: true, events: ["entry"] },
  "registry show": { args: same("registry", "show", "~/contract"), code: 0, after: true, events: ["entry"] },
  "registry show a missing name": { args: same("registry", "show", "~/missing"), code: 3, error: "NotFound" },
  "registry history": {
    args: same("registry", "history", "~/contract"),
    code: 0,
    after: true,
    events: ["entry"],
  },
  "run a command": {
    args: (mode) => ["run", "--run-id", `ok-${mode}`, "--put", "data", "--", "echo made"],
    code: 0,
    events: ["summary"],
  },
  "run a command that fails with 3": {
    args: (mode) => ["run", "--run-id", `three-${mode}`, "--", "exit 3"],
    code: 3,
    events: ["summary"],
    says: /exited with 3/,
  },
  "run a command that does not exist": {
    args: (mode) => ["run", "--run-id", `missing-${mode}`, "--", "no-such-command-ferry"],
    code: 127,
    events: ["summary"],
    says: /exited with 127/,
  },
  "run a command killed by a signal": {
    args: (mode) => ["run", "--run-id", `killed-${mode}`, "--", "kill -TERM $$"],
    code: 143,
    events: ["summary"],
    says: /was killed by SIGTERM \(143\)/,
  },
  "run a pattern leaving the directory": {
    args: same("run", "--put", "../outside", "--", "true"),
    code: 2,
    error: "InvalidInput",
  },
  "catalog runs": { args: same("catalog", "runs"), code: 0, after: true, events: ["run"] },
  "catalog show": { args: same("catalog", "show", "ok-json"), code: 0, after: true, events: ["run"] },
  "catalog show a missing run": { args: same("catalog", "show", "no-such-run"), code: 3, error: "NotFound" },
  "catalog verify": {
    args: same("catalog", "verify", "ok-json"),
    code: 0,
    after: true,
    events: ["verified"],
  },
  "catalog gc --keep x": { args: same("catalog", "gc", "--keep", "x"), code: 2, error: "InvalidInput" },
  "catalog gc --dry-run": {
    args: same("catalog", "gc", "--keep", "100", "--dry-run"),
    code: 0,
    after: true,
  },
  "an unknown command": { args: same("frobnicate"), code: 2, error: "InvalidInput" },
};

/** `--json` among ferry's own options: before a `ferry run` command's `--`. */
function withJson(args: string[]): string[] {
  const end = args.indexOf("--");
  return end === -1 ? [...args, "--json"] : [...args.slice(0, end), "--json", ...args.slice(end)];
}

function checkShapes(run: FerryRun, label: string): Record<string, unknown>[] {
  const lines = run.stdout.split("\n").filter((line) => line !== "");
  return lines.map((line) => {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new Error(`${label}: a --json line is not JSON: ${line.slice(0, 120)}`);
    }
    const event = record.event;
    expect(typeof event, `${label}: ${line}`).toBe("string");
    const shape = SHAPES[event as string];
    expect(shape, `${label}: undocumented event ${String(event)}`).toBeDefined();
    for (const [field, type] of Object.entries(shape!)) {
      expect(typeof record[field], `${label}: ${event}.${field} in ${line}`).toBe(type);
    }
    return record;
  });
}

function checkStderr(run: FerryRun, label: string, kase: Case): void {
  if (kase.error) {
    const lines = run.stderr.trimEnd().split("\n");
    expect(
      lines.filter((line) => line.startsWith(`ferry: ${kase.error}: `)).length,
      `${label}: ${run.stderr}`,
    ).toBe(1);
  }
  if (kase.says) expect(run.stderr, label).toMatch(kase.says);
}

async function checkCase(name: string, kase: Case): Promise<void> {
  // Both runs at once (a command that changes something is given its own target per mode).
  const [json, plain] = await Promise.all([
    runFerry(withJson(kase.args("json")), { cwd: work }),
    runFerry(kase.args("plain"), { cwd: work }),
  ]);
  const records = checkShapes(json, `${name} --json`);
  expect(json.code, `${name} --json: ${json.stderr}`).toBe(kase.code);
  checkStderr(json, `${name} --json`, kase);
  if (kase.events) {
    let at = 0;
    for (const record of records) if (record.event === kase.events[at]) at += 1;
    expect(at, `${name}: events ${records.map((r) => r.event).join(", ")}`).toBe(kase.events.length);
  }
  if (kase.error) {
    const errorEvents = records.filter((record) => record.event === "error");
    const failures = records.filter((record) => record.event === "file" && record.status === "failed");
    expect(errorEvents.length + failures.length, `${name}: an error event`).toBeGreaterThan(0);
    for (const record of [...errorEvents, ...failures.map((r) => r.error as Record<string, unknown>)]) {
      expect(record.code).toBe(kase.error);
      if (typeof record.path === "string" && record.system === "file") expect(record.path).toMatch(/^\//);
    }
  }
  expect(plain.code, `${name}: ${plain.stderr}`).toBe(kase.code);
  checkStderr(plain, name, kase);
}

// Cases that stand alone run side by side; those that read what others made run after them, in order.
describe.concurrent("every command, with and without --json, gives its documented exit code", () => {
  for (const [name, kase] of Object.entries(CASES)) if (!kase.after) it(name, () => checkCase(name, kase));
});

describe("every command reading what others made gives its documented exit code", () => {
  for (const [name, kase] of Object.entries(CASES)) if (kase.after) it(name, () => checkCase(name, kase));
});

describe("--json shapes", () => {
  it("cat --json gives data events whose bytes are the file's", async () => {
    const run = await runFerry(["cat", "--json", "data/b.bin", "data/a.txt"], { cwd: work });
    const records = checkShapes(run, "cat");
    const text = records.map((r) => Buffer.from(r.base64 as string, "base64").toString()).join("");
    expect(text).toBe("0123456789alpha\n");
    expect(records[0]!.url).toBe(`file://${join(work, "data/b.bin")}`);
  });

  it("plan events carry each file's size, also for skipped and deleted files; destinations keep their leading /", async () => {
    await writeFiles(work, { "plan-dest/a.txt": "alpha\n", "plan-dest/extra.txt": "12345" });
    const run = await runFerry(["sync", "--json", "-n", "--delete", "--size-only", "data", "plan-dest"], {
      cwd: work,
    });
    const plan = checkShapes(run, "plan").filter((r) => r.event === "plan");
    const byPath = Object.fromEntries(plan.map((r) => [r.path, r]));
    expect(byPath["a.txt"]).toMatchObject({ action: "skip", size: 6 });
    expect(byPath["extra.txt"]).toMatchObject({ action: "delete", size: 5 });
    expect(byPath["b.bin"]).toMatchObject({
      action: "copy",
      size: 10,
      destination: join(work, "plan-dest/b.bin"),
    });
  });

  it("run --json keeps the command's output off stdout", async () => {
    const run = await runFerry(["run", "--json", "--run-id", "chatty", "--", "echo not-json; echo {"], {
      cwd: work,
    });
    expect(run.code).toBe(0);
    const records = checkShapes(run, "run");
    expect(records.map((r) => r.event)).toEqual(["summary"]);
    expect(run.stderr).toContain("not-json");
  });
});

let pipeRuns = 0;

/** Run `ferry ARGS | head …` through sh; resolves to ferry's own status, head's output and stderr. */
function throughHead(
  args: string,
  head: string,
): Promise<{ status: number; stdout: string; stderr: string }> {
  pipeRuns += 1;
  const statusFile = join(work, `status-${pipeRuns}`);
  const script = `(${JSON.stringify(process.execPath)} ${JSON.stringify(FERRY_BIN)} ${args}; echo $? > ${JSON.stringify(statusFile)}) | ${head}`;
  return runShell(script, { cwd: work }).then(async (run) => {
    const status = Number((await readFile(statusFile, "utf8")).trim());
    await rm(statusFile);
    return { status, stdout: run.stdout, stderr: run.stderr };
  });
}

describe("a closed stdout (| head) ends ferry quietly with status 141, as coreutils and rclone", () => {
  beforeAll(async () => {
    // More than a pipe holds (64 KiB), so ferry is still writing when head has gone.
    const files: Record<string, string> = {};
    for (let i = 0; i < 1500; i++) files[`many/${"n".repeat(90)}-${String(i).padStart(4, "0")}.txt`] = "x";
    await writeFiles(work, files);
    await writeFile(join(work, "big.bin"), Buffer.alloc(16 * 1024 * 1024, 7));
  });

  const PIPES: [string, string, string][] = [
    ["ls -R", "ls -R many", "head -1"],
    ["ls --json", "ls --json many", "head -1"],
    ["cat", "cat big.bin", "head -c 10"],
    ["cat --json", "cat --json big.bin", "head -c 10"],
    ["sync --dry-run", "sync -n many nowhere", "head -1"],
  ];
  for (const [name, args, head] of PIPES) {
    it(`ferry ${name} | ${head}`, async () => {
      const run = await throughHead(args, head);
      expect(run.stderr).toBe("");
      expect(run.status).toBe(141);
      expect(run.stdout.length).toBeGreaterThan(0);
    });
  }

  it("cp --json | head -1 stops the copy and leaves no temporary file behind", async () => {
    const run = await throughHead("cp --json --transfers 1 many many-copy", "head -1");
    expect(run.stderr).toBe("");
    expect(run.status).toBe(141);
    const left = existsSync(join(work, "many-copy")) ? readdirSync(join(work, "many-copy")) : [];
    expect(left.filter((name) => !name.endsWith(".txt"))).toEqual([]);
  });
});

describe("per-file failures of one kind give that kind's exit code (GCS on 127.0.0.1)", () => {
  let gcs: GcsBackend;
  let bucket: string;
  const env = () => ({ STORAGE_EMULATOR_HOST: gcs.endpoint, GOOGLE_CLOUD_PROJECT: gcs.projectId });

  beforeAll(async () => {
    gcs = await startGcsServer();
    bucket = gcs.createBucket();
    const seeded = await runFerry(["cp", "data", `gs://${bucket}/data`], { cwd: work, env: env() });
    expect(seeded.code, seeded.stderr).toBe(0);
  });
  afterAll(() => gcs?.stop());

  const download = (target: string) =>
    runFerry(["cp", "--json", "--retries", "0", `gs://${bucket}/data`, target], { cwd: work, env: env() });
  const upload = (name: string) =>
    runFerry(["cp", "--json", "--retries", "0", "data", `gs://${bucket}/${name}`], { cwd: work, env: env() });
  const failures = (run: FerryRun) =>
    checkShapes(run, "download")
      .filter((r) => r.event === "file" && r.status === "failed")
      .map((r) => (r.error as { code: string }).code);

  it("every download corrupted on the way: Integrity, 6", async () => {
    gcs.injectFault({ method: "GET", path: /alt=media/, corruptResponse: true, times: 1000 });
    try {
      const run = await download("corrupted");
      expect(failures(run)).toEqual(["Integrity", "Integrity", "Integrity"]);
      expect(run.code).toBe(6);
      expect(run.stderr).toMatch(/^ferry: Integrity: 3 files failed$/m);
    } finally {
      gcs.clearFaults();
    }
  });

  it("every upload refused with 503 past the retries: Transient, 8", async () => {
    gcs.injectFault({ method: "POST", path: /\/upload\//, status: 503, times: 1000 });
    try {
      const run = await upload("unavailable");
      expect(failures(run)).toEqual(["Transient", "Transient", "Transient"]);
      expect(run.code).toBe(8);
    } finally {
      gcs.clearFaults();
    }
  });

  it("failures of two kinds: 1", async () => {
    gcs.injectFault({ method: "POST", path: /name=mixed%2Fa\.txt/, status: 503, times: 1000 });
    gcs.injectFault({ method: "POST", path: /name=mixed%2Fb\.bin/, status: 403, times: 1000 });
    try {
      const run = await upload("mixed");
      expect(failures(run).sort()).toEqual(["PermissionDenied", "Transient"]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^ferry: Failed: 2 files failed \(.*PermissionDenied.*\)$/m);
    } finally {
      gcs.clearFaults();
    }
  });

  it("a GOOGLE_APPLICATION_CREDENTIALS file that does not exist: NotFound, 3, naming the variable", async () => {
    // Without the emulator the client reads the credentials first; the proxy keeps anything else on 127.0.0.1.
    const run = await runFerry(["ls", "--json", `gs://${bucket}/data`], {
      cwd: work,
      env: {
        GOOGLE_APPLICATION_CREDENTIALS: join(work, "no-such-key.json"),
        HTTPS_PROXY: "http://127.0.0.1:9",
        HTTP_PROXY: "http://127.0.0.1:9",
      },
    });
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/^ferry: NotFound: .*GOOGLE_APPLICATION_CREDENTIALS/);
    expect(checkShapes(run, "credentials").map((r) => r.event)).toEqual(["error"]);
  });
});
