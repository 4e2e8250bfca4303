/**
 * Transfers, side by side: ferry against rclone (and `cp -r` for local → local) doing the same work
 * in one run against the same servers on 127.0.0.1 — s3rver, azurite and OpenSSH's sshd.
 *
 *   node bench/transfer.ts            full sizes (1,000 × 64 KiB, 1 × 512 MiB, 10,000-file sync, 1 GiB RSS)
 *   node bench/transfer.ts --quick    small sizes, a smoke run in well under a minute
 *   --only <text>   run only the rows whose name contains <text> (repeatable; "rss", "cluster" for the extras)
 *   --rounds <n>    run each row n times, alternating ferry and the other tool, and keep each one's best
 *
 * Prints a markdown table of times and ratios (ferry ÷ other; below 1.0 ferry is faster) and writes it to
 * bench/results/transfer.md. ferry runs in-process through `copy()` / `sync()` (its CLI start-up is
 * reported on its own line); rclone and cp run as the commands a user would type.
 */
import { execFile, spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { registerHooks } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

// Run from a checkout without a build: @ferry/* packages resolve to their TypeScript source.
registerHooks({
  resolve: (specifier, context, nextResolve) =>
    nextResolve(specifier, { ...context, conditions: [...context.conditions, "@ferry/source"] }),
});

const core = await import("@ferry/core");
const harness = await import("@ferry/test-harness");
const { s3 } = await import("@ferry/storage-s3");

const quick = process.argv.includes("--quick");
const optionValues = (flag: string) =>
  process.argv.flatMap((arg, index) => {
    const value = process.argv[index + 1];
    return arg === flag && value !== undefined ? [value] : [];
  });
const only = optionValues("--only").map((text) => text.toLowerCase());
const rounds = Math.max(1, Number(optionValues("--rounds").at(-1) ?? 1) || 1);
const wanted = (name: string) => only.length === 0 || only.some((text) => name.toLowerCase().includes(text));
const SIZES = quick
  ? {
      smallCount: 100,
      smallBytes: 64 * 1024,
      bigBytes: 32 * 1024 * 1024,
      syncCount: 1_000,
      rssBytes: 128 * 1024 * 1024,
    }
  : {
      smallCount: 1_000,
      smallBytes: 64 * 1024,
      bigBytes: 512 * 1024 * 1024,
      syncCount: 10_000,
      rssBytes: 1024 * 1024 * 1024,
    };

const COMMAND_TIMEOUT_MS = quick ? 120_000 : 900_000;
const here = fileURLToPath(new URL(".", import.meta.url));
const work = join(here, ".work", `transfer-${process.pid}`);
const ferryBin = join(here, "..", "packages", "cli", "bin", "ferry.js");
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(bytes < 1024 * 1024 ? 2 : 0)} MiB`;

interface Row {
  name: string;
  ferry: number | undefined;
  other: number | undefined;
  otherName: string;
  note?: string;
}
const rows: Row[] = [];
const extras: string[] = [];

function commandExists(name: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${name}`]).status === 0;
}

/** Seconds a command takes; throws with the end of its stderr when it fails or outlasts the timeout. */
function timeCommand(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { env, maxBuffer: 64 * 1024 * 1024, timeout: COMMAND_TIMEOUT_MS },
      (error, _stdout, stderr) => {
        if (!error) {
          resolve((performance.now() - started) / 1000);
          return;
        }
        const why = error.killed
          ? `killed after ${COMMAND_TIMEOUT_MS / 1000} s`
          : (stderr || error.message).trim().split("\n").at(-1);
        reject(new Error(`${command} failed: ${why}`));
      },
    );
  });
}

async function timeFerry(run: () => Promise<import("@ferry/core").TransferSummary>): Promise<number> {
  const started = performance.now();
  const summary = core.throwOnFailures(await run());
  if (summary.copied === 0 && summary.skipped === 0) throw new Error("ferry copied nothing");
  return (performance.now() - started) / 1000;
}

function makeTree(dir: string, count: number, size: number): void {
  mkdirSync(dir, { recursive: true });
  const block = Buffer.alloc(size);
  for (let index = 0; index < count; index += 1) {
    block.writeUInt32LE(index, 0); // distinct contents
    writeFileSync(join(dir, `f${String(index).padStart(5, "0")}.bin`), block);
  }
}

function makeBigFile(file: string, size: number): void {
  mkdirSync(dirname(file), { recursive: true });
  const chunk = Buffer.alloc(8 * 1024 * 1024, 7);
  const handle = openSync(file, "w");
  try {
    for (let written = 0; written < size; written += chunk.length)
      writeSync(handle, chunk, 0, Math.min(chunk.length, size - written));
  } finally {
    closeSync(handle);
  }
}

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
// Interrupted: remove the work files; exiting makes the harness kill every server it started.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    rmSync(work, { recursive: true, force: true });
    process.exit(signal === "SIGINT" ? 130 : 143);
  });
}
const small = join(work, "small");
const big = join(work, "big");
makeTree(small, SIZES.smallCount, SIZES.smallBytes);
makeBigFile(join(big, "big.bin"), SIZES.bigBytes);
const smallLabel = `${SIZES.smallCount.toLocaleString("en")} × ${SIZES.smallBytes / 1024} KiB`;
const bigLabel = `1 × ${mib(SIZES.bigBytes)}`;

const s3Server = await harness.startS3rver();
const bucket = await s3Server.createBucket();
const sshSkip = harness.sshdSkipReason();
const sshd = sshSkip ? undefined : await harness.startSshd();
const azureModule = await import("@ferry/storage-azure").catch(() => undefined);
const azurite = azureModule ? await harness.startAzurite() : undefined;
const container = azurite ? await azurite.createContainer() : undefined;

const plugins: import("@ferry/core").Plugin[] = [
  core.local(),
  s3({ endpoint: s3Server.endpoint, region: s3Server.region, credentials: { ...s3Server.credentials } }),
];
if (sshd) {
  const { sftp } = await import("@ferry/storage-sftp");
  plugins.push(sftp({ privateKeyPath: sshd.privateKeyPath, knownHosts: sshd.knownHostsPath, agent: false }));
}
if (azureModule && azurite) plugins.push(azureModule.azure({ connectionString: azurite.connectionString }));
const registry = new core.PluginRegistry({ cwd: work, lazy: false }).use(...plugins);

const rcloneEnv: NodeJS.ProcessEnv = {
  ...harness.s3ClientEnv(s3Server),
  RCLONE_CONFIG: "/dev/null",
  RCLONE_CONFIG_S3_TYPE: "s3",
  RCLONE_CONFIG_S3_PROVIDER: "Other",
  RCLONE_CONFIG_S3_ENDPOINT: s3Server.endpoint,
  RCLONE_CONFIG_S3_REGION: s3Server.region,
  RCLONE_CONFIG_S3_ACCESS_KEY_ID: s3Server.credentials.accessKeyId,
  RCLONE_CONFIG_S3_SECRET_ACCESS_KEY: s3Server.credentials.secretAccessKey,
  RCLONE_CONFIG_S3_FORCE_PATH_STYLE: "true",
  ...(sshd
    ? {
        RCLONE_CONFIG_SFTP_TYPE: "sftp",
        RCLONE_CONFIG_SFTP_HOST: sshd.host,
        RCLONE_CONFIG_SFTP_PORT: String(sshd.port),
        RCLONE_CONFIG_SFTP_USER: sshd.user,
        RCLONE_CONFIG_SFTP_KEY_FILE: sshd.privateKeyPath,
        RCLONE_CONFIG_SFTP_KNOWN_HOSTS_FILE: sshd.knownHostsPath,
      }
    : {}),
  ...(azurite
    ? {
        RCLONE_CONFIG_AZ_TYPE: "azureblob",
        RCLONE_CONFIG_AZ_ACCOUNT: azurite.accountName,
        RCLONE_CONFIG_AZ_KEY: azurite.accountKey,
        RCLONE_CONFIG_AZ_ENDPOINT: azurite.blobEndpoint,
        RCLONE_CONFIG_AZ_USE_EMULATOR: "true",
      }
    : {}),
};
const rclone = (args: string[]) => timeCommand("rclone", [...args, "--low-level-retries", "1"], rcloneEnv);
const haveRclone = commandExists("rclone");
let tag = 0;
const fresh = (name: string) => {
  tag += 1;
  return `${name}-${tag}`;
};

/** One row: ferry and the other tool doing the same copy into fresh destinations. */
async function compare(
  name: string,
  otherName: string,
  ferry: () => Promise<number>,
  other: (() => Promise<number>) | undefined,
): Promise<void> {
  if (!wanted(name)) return;
  process.stderr.write(`bench: ${name} ...\n`);
  type Result = { seconds: number | undefined; note: string | undefined };
  const attempt = async (
    run: () => Promise<number>,
    who: string,
    best: Result | undefined,
  ): Promise<Result> => {
    if (best && best.seconds === undefined) return best; // it failed once: do not retry
    // Dirty pages of the run before (its output, a server's files) are written back now, not while
    // this one is timed: without it, whichever tool runs second pays for the first one's writes.
    spawnSync("sync");
    try {
      const seconds = await run();
      return { seconds: Math.min(seconds, best?.seconds ?? Infinity), note: undefined };
    } catch (error) {
      return { seconds: undefined, note: `${who}: ${(error as Error).message.split("\n")[0]}` };
    }
  };
  const runOther = other && (otherName !== "rclone" || haveRclone) ? other : undefined;
  let ferryResult: Result | undefined;
  let otherResult: Result = { seconds: undefined, note: `${otherName} not installed` };
  for (let round = 0; round < rounds; round += 1) {
    ferryResult = await attempt(ferry, "ferry", ferryResult);
    if (runOther) otherResult = await attempt(runOther, otherName, round === 0 ? undefined : otherResult);
  }
  if (!ferryResult) return;
  const note = [ferryResult.note, otherResult.note].filter(Boolean).join("; ");
  rows.push({
    name,
    ferry: ferryResult.seconds,
    other: otherResult.seconds,
    otherName,
    ...(note ? { note } : {}),
  });
}

try {
  for (const [label, source, prefix] of [
    [smallLabel, small, "small"],
    [bigLabel, big, "big"],
  ] as const) {
    const up = `${prefix}-up`;
    await compare(
      `local → S3, ${label}`,
      "rclone",
      () => timeFerry(() => core.copy(source, `s3://${bucket}/${fresh(up)}`, { registry })),
      () => rclone(["copy", source, `s3:${bucket}/${fresh(`${up}-rclone`)}`]),
    );
    // One upload both tools read from.
    const seeded = fresh(`${prefix}-seed`);
    if (["S3 → local", "S3 → S3", "S3 → Azure"].some((row) => wanted(`${row}, ${label}`)))
      await core.copy(source, `s3://${bucket}/${seeded}`, { registry });
    await compare(
      `S3 → local, ${label}`,
      "rclone",
      () => timeFerry(() => core.copy(`s3://${bucket}/${seeded}`, join(work, fresh("down")), { registry })),
      () => rclone(["copy", `s3:${bucket}/${seeded}`, join(work, fresh("down-rclone"))]),
    );
    await compare(
      `S3 → S3, ${label}`,
      "rclone",
      () =>
        timeFerry(() =>
          core.copy(`s3://${bucket}/${seeded}`, `s3://${bucket}/${fresh("s3s3")}`, { registry }),
        ),
      () => rclone(["copy", `s3:${bucket}/${seeded}`, `s3:${bucket}/${fresh("s3s3-rclone")}`]),
    );
    if (azurite && container) {
      await compare(
        `S3 → Azure, ${label}`,
        "rclone",
        () =>
          timeFerry(() =>
            core.copy(`s3://${bucket}/${seeded}`, `az://${container}/${fresh("fromS3")}`, { registry }),
          ),
        () => rclone(["copy", `s3:${bucket}/${seeded}`, `az:${container}/${fresh("fromS3-rclone")}`]),
      );
    } else {
      rows.push({
        name: `S3 → Azure, ${label}`,
        ferry: undefined,
        other: undefined,
        otherName: "rclone",
        note: "@ferry/storage-azure not available",
      });
    }
    if (sshd) {
      const root = sshd.makeRoot();
      await compare(
        `local → SFTP, ${label}`,
        "rclone",
        () =>
          timeFerry(() =>
            core.copy(source, `sftp://${sshd.user}@${sshd.host}:${sshd.port}${root}/${fresh("ferry")}`, {
              registry,
            }),
          ),
        // rclone's post-copy md5sum sessions drop against the harness's sshd; ferry does not hash remotely here either.
        () => rclone(["copy", source, `sftp:${root}/${fresh("rclone")}`, "--sftp-disable-hashcheck"]),
      );
    } else {
      rows.push({
        name: `local → SFTP, ${label}`,
        ferry: undefined,
        other: undefined,
        otherName: "rclone",
        note: `sshd: ${sshSkip}`,
      });
    }
    await compare(
      `local → local, ${label}`,
      "cp -r",
      () => timeFerry(() => core.copy(source, join(work, fresh("local")), { registry })),
      () => timeCommand("cp", ["-r", source, join(work, fresh("local-cp"))]),
    );
  }

  // Sync with nothing changed: each tool first brings its own copy up to date (untimed), then the timed run finds nothing to do.
  const many = join(work, "many");
  const syncRow = `sync, nothing changed, ${SIZES.syncCount.toLocaleString("en")} files (local → S3)`;
  const syncWanted = wanted(syncRow) || wanted(`${syncRow}, rclone --size-only`);
  if (syncWanted) makeTree(many, SIZES.syncCount, 16);
  const ferryTarget = `s3://${bucket}/sync-ferry`;
  const rcloneTarget = `s3:${bucket}/sync-rclone`;
  if (syncWanted) {
    process.stderr.write(`bench: seeding ${SIZES.syncCount} files for the sync row ...\n`);
    await core.sync(many, ferryTarget, { registry, transfers: 16 });
    if (haveRclone) await rclone(["sync", many, rcloneTarget, "--transfers", "16"]);
  }
  await compare(
    syncRow,
    "rclone",
    () => timeFerry(() => core.sync(many, ferryTarget, { registry, delete: true })),
    () => rclone(["sync", many, rcloneTarget]),
  );
  // S3 keeps no settable modified time, so ferry compares size and the local time with the listed upload
  // time (MD5 where both listings have one), no request per file; rclone reads its own mtime metadata
  // per object unless told to compare sizes alone: the row without per-object requests on either side.
  await compare(
    `${syncRow}, rclone --size-only`,
    "rclone",
    () => timeFerry(() => core.sync(many, ferryTarget, { registry, delete: true })),
    () => rclone(["sync", "--size-only", many, rcloneTarget]),
  );

  // Peak memory of a large cross-system copy, through the CLI as a user runs it.
  const huge = join(work, "huge", "huge.bin");
  if (wanted("rss") && commandExists("/usr/bin/time")) {
    makeBigFile(huge, SIZES.rssBytes);
    const measured = spawnSync(
      "/usr/bin/time",
      ["-f", "%M", process.execPath, ferryBin, "cp", huge, `s3://${bucket}/rss/`],
      {
        env: harness.s3ClientEnv(s3Server),
        encoding: "utf8",
      },
    );
    const kib = Number(measured.stderr.trim().split("\n").at(-1));
    extras.push(
      measured.status === 0 && Number.isFinite(kib)
        ? `Peak RSS of \`ferry cp\` of ${mib(SIZES.rssBytes)} local → S3: **${mib(kib * 1024)}** (goal ≤ 256 MiB)`
        : `Peak RSS: measurement failed (${measured.stderr.trim().split("\n")[0]})`,
    );
  }

  // A cluster as the source: the copy runs there; how much passed through this machine?
  if (sshd && haveRclone && wanted("cluster")) {
    const root = sshd.makeRoot();
    makeTree(join(root, "results"), SIZES.smallCount, SIZES.smallBytes);
    const summary = await core.copy(
      `sftp://${sshd.user}@${sshd.host}:${sshd.port}${root}/results`,
      `s3://${bucket}/from-cluster`,
      {
        registry,
        remoteEnv: {
          RCLONE_CONFIG: "/dev/null",
          RCLONE_S3_PROVIDER: "Other",
          RCLONE_S3_ENDPOINT: s3Server.endpoint,
          RCLONE_S3_REGION: s3Server.region,
          RCLONE_S3_FORCE_PATH_STYLE: "true",
          AWS_ACCESS_KEY_ID: s3Server.credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: s3Server.credentials.secretAccessKey,
        },
      },
    );
    extras.push(
      `Cluster → S3 (${smallLabel}): ${summary.bytesThroughClient.toLocaleString("en")} of ${summary.bytes.toLocaleString("en")} bytes through this machine ` +
        `(**${((100 * summary.bytesThroughClient) / Math.max(1, summary.bytes)).toFixed(3)} %**, goal ≤ 1 %); ${summary.notes.join("; ")}`,
    );
  }

  const startup = await timeCommand(process.execPath, [ferryBin, "--version"]);
  extras.push(
    `ferry CLI start-up from source (\`ferry --version\`): ${startup.toFixed(2)} s — not included in the times above.`,
  );
} finally {
  await registry.close();
  await Promise.allSettled([s3Server.stop(), sshd?.stop(), azurite?.stop()]);
  rmSync(work, { recursive: true, force: true });
}

const fmt = (seconds: number | undefined) => (seconds === undefined ? "–" : `${seconds.toFixed(2)} s`);
const lines = [
  `# Transfers: ferry vs rclone / cp${quick ? " (quick sizes)" : ""}`,
  "",
  `Same machine, same servers (s3rver, azurite, OpenSSH sshd on 127.0.0.1), one run${rounds > 1 ? `, best of ${rounds} alternating rounds` : ""}, each timed run after a \`sync\`. Ratio = ferry ÷ other (≤ 1.0: ferry as fast or faster).`,
  "",
  "| transfer | ferry | other | ratio | note |",
  "|---|---:|---:|---:|---|",
  ...rows
    .filter((row) => wanted(row.name))
    .map(
      (row) =>
        `| ${row.name} | ${fmt(row.ferry)} | ${row.other === undefined ? "–" : `${fmt(row.other)} (${row.otherName})`} | ${
          row.ferry !== undefined && row.other !== undefined ? (row.ferry / row.other).toFixed(2) : "–"
        } | ${row.note ?? ""} |`,
    ),
  "",
  ...extras.map((line) => `- ${line}`),
  "",
];
const report = lines.join("\n");
process.stdout.write(report);
mkdirSync(join(here, "results"), { recursive: true });
writeFileSync(join(here, "results", "transfer.md"), report);
