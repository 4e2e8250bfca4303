import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { sshdSkipReason, startSshd, waitUntil } from "../../src/index.ts";

const run = promisify(execFile);
const skip = sshdSkipReason();

/** OpenSSH's own client, configured only by the files the harness wrote. */
function sshArgs(configPath: string, ...command: string[]): string[] {
  return [
    "-F",
    configPath,
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=yes",
    "ferry-cluster",
    ...command,
  ];
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** An interactive-looking session that stays open until the server side goes away. */
async function openSession(configPath: string): Promise<{ client: ChildProcess; exited: Promise<unknown> }> {
  const client = spawn("ssh", sshArgs(configPath, "echo ready; sleep 60"), {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise((resolve) => client.once("exit", resolve));
  let output = "";
  client.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  await waitUntil(async () => output.includes("ready"), { what: "ssh session" });
  return { client, exited };
}

/** Every process below `pid`, read from /proc. */
function childrenOf(pid: number): number[] {
  const all = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  const parentOf = (child: string) => {
    try {
      const stat = readFileSync(`/proc/${child}/stat`, "utf8");
      return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    } catch {
      return -1;
    }
  };
  const direct = all.filter((child) => parentOf(child) === pid).map(Number);
  return direct.flatMap((child) => [child, ...childrenOf(child)]);
}

function processExists(pid: number): boolean {
  if (!existsSync(`/proc/${pid}/stat`)) return false;
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
}

describe.skipIf(skip !== undefined)(`sshd backend${skip ? ` (skipped: ${skip})` : ""}`, () => {
  it("accepts the generated key through the generated ssh config and known_hosts, with strict host key checking", async () => {
    const sshd = await startSshd();
    try {
      const root = sshd.makeRoot();
      const { stdout } = await run("ssh", sshArgs(sshd.sshConfigPath, `cd '${root}' && pwd && whoami`));
      expect(stdout.trim().split("\n")).toEqual([root, sshd.user]);
      expect(readFileSync(sshd.knownHostsPath, "utf8")).toContain(
        `[127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}`,
      );
    } finally {
      await sshd.stop();
    }
  });

  it("refuses a key it does not know", async () => {
    const sshd = await startSshd();
    try {
      const stranger = await sshd.makeKey();
      const attempt = run(
        "ssh",
        [
          "-F",
          "none",
          "-i",
          stranger.privateKeyPath,
          "-o",
          "IdentitiesOnly=yes",
          "-o",
          "BatchMode=yes",
          "-o",
          `UserKnownHostsFile=${sshd.knownHostsPath}`,
          "-p",
          String(sshd.port),
          `${sshd.user}@127.0.0.1`,
          "true",
        ],
        { env: { ...process.env, SSH_AUTH_SOCK: "" } },
      );
      await expect(attempt).rejects.toMatchObject({ stderr: expect.stringContaining("Permission denied") });
    } finally {
      await sshd.stop();
    }
  });

  it("stop() ends the listener and every open connection, leaving no process", async () => {
    const sshd = await startSshd();
    const session = await openSession(sshd.sshConfigPath);
    try {
      expect(sshd.openConnections()).toBe(1);
      const serverPid = Number(readFileSync(`${sshd.dir}/sshd.pid`, "utf8").trim());
      const connectionPids = childrenOf(serverPid);
      expect(connectionPids.length).toBeGreaterThan(0);
      await sshd.stop();
      for (const pid of [serverPid, ...connectionPids]) expect(processExists(pid), `pid ${pid}`).toBe(false);
      expect(await listening(sshd.port)).toBe(false);
      // The session's server side is gone, so the client sees its connection close.
      await session.exited;
      expect(existsSync(sshd.dir)).toBe(false);
    } finally {
      session.client.kill("SIGKILL");
      await sshd.stop();
    }
  });

  it("dropConnections() kills live sessions while the server keeps listening", async () => {
    const sshd = await startSshd();
    try {
      const session = await openSession(sshd.sshConfigPath);
      await sshd.dropConnections();
      await session.exited;
      expect(sshd.openConnections()).toBe(0);
      const { stdout } = await run("ssh", sshArgs(sshd.sshConfigPath, "echo again"));
      expect(stdout.trim()).toBe("again");
    } finally {
      await sshd.stop();
    }
  });

  it("a watchdog stops sshd when the process that started it is killed", async () => {
    const harness = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), "../../src/index.ts")).href;
    const script = [
      `const { startSshd } = await import(${JSON.stringify(harness)});`,
      "const sshd = await startSshd();",
      "process.stdout.write(`${sshd.dir} ${sshd.port}\\n`);",
      "setInterval(() => {}, 1000);",
    ].join("\n");
    const parent = spawn(
      process.execPath,
      ["--conditions=@ferry/source", "--input-type=module", "-e", script],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let output = "";
    parent.stdout.on("data", (chunk) => {
      output += chunk;
    });
    try {
      await waitUntil(async () => output.includes("\n"), { what: "the parent to start sshd" });
      const [dir, port] = output.trim().split(" ");
      const serverPid = Number(readFileSync(`${dir}/sshd.pid`, "utf8").trim());
      expect(processExists(serverPid)).toBe(true);
      parent.kill("SIGKILL");
      await waitUntil(async () => !processExists(serverPid), {
        what: "the orphaned sshd to stop",
        timeoutMs: 10_000,
      });
      expect(await listening(Number(port))).toBe(false);
      await waitUntil(async () => !existsSync(dir!), { what: "its directory to go", timeoutMs: 5000 });
    } finally {
      parent.kill("SIGKILL");
    }
  });
});
