import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { waitUntil } from "@ferry/test-harness";
import { describe, expect, it } from "vitest";
import type { SftpDriver } from "../../src/index.ts";
import { baseOptions, skipReason, useSshd, useStorages } from "../helpers.ts";

const pluginDir = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

describe.skipIf(skipReason !== undefined)("sftp connection pool", () => {
  const sshd = useSshd();
  const storageOn = useStorages(sshd, () =>
    waitUntil(async () => sshd().openConnections() === 0, { what: "connections to close" }),
  );

  it("never opens more than maxSessionsPerHost connections, however many operations run at once", async () => {
    const { storage } = await storageOn({ maxSessionsPerHost: 2 });
    let most = 0;
    const sample = setInterval(() => {
      most = Math.max(most, sshd().openConnections());
    }, 5);
    try {
      const data = randomBytes(64 * 1024);
      await Promise.all(
        Array.from({ length: 24 }, async (_, index) => {
          await storage.write(`f${index}.bin`, data);
          expect(Buffer.from(await storage.readBytes(`f${index}.bin`)).equals(data)).toBe(true);
        }),
      );
    } finally {
      clearInterval(sample);
    }
    most = Math.max(most, sshd().openConnections());
    expect(most).toBe(2);
    expect((storage.driver as SftpDriver).pool.stats().connections).toBe(2);
  });

  it("shares connections between storages on the same host and closes them with the last one", async () => {
    const first = await storageOn();
    const second = await storageOn();
    await first.storage.write("a.txt", "a");
    await second.storage.write("b.txt", "b");
    expect((first.storage.driver as SftpDriver).pool).toBe((second.storage.driver as SftpDriver).pool);
    expect(sshd().openConnections()).toBe(1);
    await first.storage.close();
    expect(await second.storage.exists("b.txt")).toBe(true);
    await second.storage.close();
    await waitUntil(async () => sshd().openConnections() === 0, { what: "connections to close" });
  });

  it("probes the host's features once: a storage opened after the last one closed reuses what was learned", async () => {
    const commandsRun = () => sshd().logs().split("Starting session: command").length - 1;
    // Tool settings no other test uses: facts learned by earlier tests in this process do not apply.
    const first = await storageOn({ execCommands: { md5sum: "md5sum --tag" } });
    await first.storage.close();
    await waitUntil(async () => sshd().openConnections() === 0, { what: "connections to close" });
    const probes = commandsRun();
    expect(probes).toBeGreaterThan(0);
    const again = await storageOn({ execCommands: { md5sum: "md5sum --tag" } });
    expect(again.storage.capabilities).toEqual(first.storage.capabilities);
    await again.storage.write("x.txt", "x");
    expect(commandsRun()).toBe(probes);
  });

  it("reconnects after the connection drops", async () => {
    const { storage } = await storageOn();
    await storage.write("before.txt", "before");
    await sshd().dropConnections();
    expect(await storage.exists("before.txt")).toBe(true);
    await storage.write("after.txt", "after");
    const names: string[] = [];
    for await (const entry of storage.list("")) names.push(entry.path);
    expect(names).toEqual(["after.txt", "before.txt"]);
  });

  it("writes and runs commands on a fresh connection when the pooled one died while idle", async () => {
    const { storage } = await storageOn();
    await storage.write("warm.txt", "the pool has a connection now");
    await sshd().dropConnections();
    await storage.write("first-after-drop.txt", "written");
    await sshd().dropConnections();
    expect(await storage.exec("cat first-after-drop.txt")).toMatchObject({ exitCode: 0, stdout: "written" });
  });

  it("a command cut off by a dropped connection fails as Transient, not as an exit code", async () => {
    const { storage, root } = await storageOn();
    const running = storage.exec("touch started && sleep 30");
    const outcome = running.then(
      () => undefined,
      (error: unknown) => error,
    );
    await waitUntil(async () => existsSync(join(root, "started")), { what: "the command to start" });
    await sshd().dropConnections();
    expect(await outcome).toMatchObject({ code: "Transient" });
  });

  it("a write cut off by a dropped connection resumes on a fresh one and completes the file", async () => {
    const { storage, root } = await storageOn({ chunkSize: 8 * 1024 });
    const parts = [randomBytes(64 * 1024), randomBytes(64 * 1024)];
    async function* source() {
      yield parts[0]!;
      await sshd().dropConnections();
      yield parts[1]!;
    }
    const entry = await storage.write("dir/resumed.bin", source());
    expect(entry.size).toBe(128 * 1024);
    expect(readFileSync(join(root, "dir", "resumed.bin")).equals(Buffer.concat(parts))).toBe(true);
    expect(readdirSync(join(root, "dir"))).toEqual(["resumed.bin"]);
  });

  it("a write that loses its connection twice fails as Transient and leaves no partial file", async () => {
    const { storage, root } = await storageOn({ chunkSize: 8 * 1024 });
    async function* source() {
      yield randomBytes(64 * 1024);
      await sshd().dropConnections();
      yield randomBytes(64 * 1024);
      await sshd().dropConnections();
      yield randomBytes(64 * 1024);
    }
    await expect(storage.write("dir/cut.bin", source())).rejects.toMatchObject({ code: "Transient" });
    await waitUntil(async () => readdirSync(join(root, "dir")).length === 0, {
      what: "temporary file removal",
    });
    expect(await storage.exists("dir/cut.bin")).toBe(false);
  });

  it("a read cut off by a dropped connection resumes on a fresh connection with identical bytes", async () => {
    const { storage } = await storageOn({ chunkSize: 16 * 1024 });
    const data = randomBytes(4 * 1024 * 1024);
    await storage.write("big.bin", data);
    const chunks: Buffer[] = [];
    let dropped = false;
    for await (const chunk of await storage.read("big.bin")) {
      chunks.push(chunk);
      if (!dropped) {
        dropped = true;
        await sshd().dropConnections();
      }
    }
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
  });

  it("a read that loses its connection again, or whose file changed meanwhile, fails with Transient", async () => {
    const { storage, root } = await storageOn({ chunkSize: 16 * 1024 });
    await storage.write("big.bin", randomBytes(4 * 1024 * 1024));
    const dropEveryChunk = (async () => {
      for await (const _chunk of await storage.read("big.bin")) await sshd().dropConnections();
    })();
    await expect(dropEveryChunk).rejects.toMatchObject({ code: "Transient" });

    const changed = (async () => {
      let first = true;
      for await (const _chunk of await storage.read("big.bin")) {
        if (!first) continue;
        first = false;
        // Same bytes, new mtime: enough for the resumed read to refuse mixing two versions.
        utimesSync(join(root, "big.bin"), new Date("2001-01-01"), new Date("2001-01-01"));
        await sshd().dropConnections();
      }
    })();
    await expect(changed).rejects.toMatchObject({
      code: "Transient",
      message: expect.stringContaining("changed"),
    });
  });

  const exitCases = [
    { name: "after close()", closes: true, jump: false },
    { name: "even without close()", closes: false, jump: false },
    { name: "without close(), through a ProxyJump hop", closes: false, jump: true },
  ];
  for (const { name, closes, jump } of exitCases) {
    it(`a program that uses the plugin exits by itself ${name}`, async () => {
      const root = sshd().makeRoot();
      let options: Record<string, unknown> = { ...baseOptions(sshd()), root };
      if (jump) {
        const config = join(sshd().dir, "exit_jump_config");
        writeFileSync(
          config,
          `${readFileSync(sshd().sshConfigPath, "utf8")}\nHost exit-jumped\n  HostName 127.0.0.1\n  Port ${sshd().port}\n  IdentityFile ${sshd().privateKeyPath}\n  UserKnownHostsFile ${sshd().knownHostsPath}\n  ProxyJump ferry-cluster\n`,
        );
        options = { host: "exit-jumped", user: sshd().user, sshConfigPath: config, agent: false, root };
      }
      const script = join(sshd().dir, `child-${name.replace(/\W+/g, "-")}.mjs`);
      writeFileSync(
        script,
        [
          `const { sftpStorage } = await import(${JSON.stringify(pathToFileURL(join(pluginDir, "src/index.ts")).href)});`,
          `const storage = await sftpStorage(${JSON.stringify(options)});`,
          `await storage.write("from-child.txt", "written by a child process");`,
          `process.stdout.write(new TextDecoder().decode(await storage.readBytes("from-child.txt")));`,
          closes ? "await storage.close();" : "",
        ].join("\n"),
      );
      const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
        // A handle left open would keep the child alive until this timeout kills it.
        const child = execFile(
          process.execPath,
          ["--conditions=@ferry/source", script],
          { cwd: pluginDir, timeout: 30_000 },
          (error, stdout, stderr) =>
            done({ code: error ? ((error as { code?: number }).code ?? -1) : 0, stdout, stderr }),
        );
        child.stdin?.end();
      });
      expect(result).toMatchObject({ code: 0, stdout: "written by a child process" });
      expect(existsSync(join(root, "from-child.txt"))).toBe(true);
    });
  }
});
