import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PluginRegistry } from "@ferry/core";
import type { Storage } from "@ferry/plugin-kit";
import { freePort, spawnBackend, uniqueName, waitUntil } from "@ferry/test-harness";
import { afterEach, describe, expect, it } from "vitest";
import { hostPattern, sftp, sftpStorage } from "../../src/index.ts";
import { resolveTarget } from "../../src/ssh/target.ts";
import { baseOptions, skipReason, useSshd } from "../helpers.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const pluginDir = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

describe.skipIf(skipReason !== undefined)("sftp connections: ssh config, keys, agent, host keys", () => {
  const sshd = useSshd();
  const open: Storage[] = [];
  const connect = async (options: Parameters<typeof sftpStorage>[0]) => {
    const storage = await sftpStorage(options);
    open.push(storage);
    return storage;
  };
  const savedConfig = process.env.FERRY_SSH_CONFIG;
  afterEach(async () => {
    await Promise.all(open.splice(0).map((storage) => storage.close()));
    if (savedConfig === undefined) delete process.env.FERRY_SSH_CONFIG;
    else process.env.FERRY_SSH_CONFIG = savedConfig;
  });

  /** A known_hosts file in the scratch dir with the given content. */
  const knownHostsWith = (content: string) => {
    const path = join(sshd().dir, uniqueName("known_hosts"));
    writeFileSync(path, content);
    return path;
  };

  it("resolves a ~/.ssh/config alias (HostName, Port, User, IdentityFile, UserKnownHostsFile) in every location form", async () => {
    process.env.FERRY_SSH_CONFIG = sshd().sshConfigPath;
    const root = sshd().makeRoot();
    writeFileSync(join(root, "hello.txt"), "hi from the cluster");
    const registry = new PluginRegistry({ lazy: false }).use(sftp({ agent: false }));
    try {
      for (const location of [
        `ferry-cluster:${root}/hello.txt`,
        `sftp://ferry-cluster${root}/hello.txt`,
        `ssh://ferry-cluster${root}/hello.txt`,
        { system: "ferry-cluster", path: `${root}/hello.txt` },
      ]) {
        const { storage, path } = await registry.resolve(location);
        expect(text(await storage.readBytes(path)), JSON.stringify(location)).toBe("hi from the cluster");
        expect(storage.root).toBe(`sftp://${sshd().user}@127.0.0.1:${sshd().port}/`);
      }
    } finally {
      await registry.close();
    }
  });

  it("is loaded by scheme from its package and configured from the environment alone", async () => {
    process.env.FERRY_SSH_CONFIG = sshd().sshConfigPath;
    const root = sshd().makeRoot();
    writeFileSync(join(root, "lazy.txt"), "found by scheme");
    const registry = new PluginRegistry({ cwd: pluginDir });
    const { storage, path } = await registry.resolve(`ferry-cluster:${root}/lazy.txt`);
    try {
      expect(storage.system).toBe("sftp");
      expect(text(await storage.readBytes(path))).toBe("found by scheme");
    } finally {
      await registry.close();
      // Closing is idempotent; the storage is closed here too in case the registry no longer holds it.
      await storage.close();
    }
  });

  it("home-relative roots resolve against the login's home directory", async () => {
    const storage = await connect({ ...baseOptions(sshd()), root: "~" });
    const home = execFileSync("sh", ["-c", "echo ~"]).toString().trim();
    expect((await storage.exec("pwd")).stdout.trim()).toBe(home);
    expect(storage.root).toBe(`sftp://${sshd().user}@127.0.0.1:${sshd().port}/~`);
  });

  it("reaches a host through a ProxyJump hop", async () => {
    const config = join(sshd().dir, "jump_config");
    writeFileSync(
      config,
      `${readFileSync(sshd().sshConfigPath, "utf8")}\nHost jumped\n  HostName 127.0.0.1\n  Port ${sshd().port}\n  User ${sshd().user}\n  IdentityFile ${sshd().privateKeyPath}\n  UserKnownHostsFile ${sshd().knownHostsPath}\n  ProxyJump ferry-cluster\n`,
    );
    const root = sshd().makeRoot();
    // Connections of earlier tests may still be winding down on the server.
    await waitUntil(async () => sshd().openConnections() === 0, { what: "earlier connections to end" });
    const storage = await connect({ host: "jumped", sshConfigPath: config, agent: false, root });
    await storage.write("via-jump.txt", "through the hop");
    expect(readFileSync(join(root, "via-jump.txt"), "utf8")).toBe("through the hop");
    // One connection to the jump host, one forwarded through it to the target.
    expect(sshd().openConnections()).toBe(2);
  });

  it("applies a `Host *` block to a plain user@address:port URL, as OpenSSH does (IdentityFile, UserKnownHostsFile)", async () => {
    const config = join(sshd().dir, uniqueName("wildcard_config"));
    writeFileSync(
      config,
      `Host *\n  IdentityFile ${sshd().privateKeyPath}\n  UserKnownHostsFile ${sshd().knownHostsPath}\n  IdentitiesOnly yes\n`,
    );
    const root = sshd().makeRoot();
    writeFileSync(join(root, "wild.txt"), "matched by Host *");
    const registry = new PluginRegistry({ lazy: false }).use(sftp({ agent: false, sshConfigPath: config }));
    try {
      const { storage, path } = await registry.resolve(
        `sftp://${sshd().user}@127.0.0.1:${sshd().port}${root}/wild.txt`,
      );
      expect(text(await storage.readBytes(path))).toBe("matched by Host *");
    } finally {
      await registry.close();
    }
  });

  it("expands %-tokens in IdentityFile and honours IdentitiesOnly", async () => {
    // A key file named after the alias (%n) and the port (%p), as ssh_config(5) allows.
    const keyPath = join(sshd().dir, `tokens-host-${sshd().port}_ed25519`);
    writeFileSync(keyPath, sshd().privateKey, { mode: 0o600 });
    const config = join(sshd().dir, uniqueName("tokens_config"));
    writeFileSync(
      config,
      `Host tokens-host\n  HostName 127.0.0.1\n  Port ${sshd().port}\n  User ${sshd().user}\n  IdentityFile ${sshd().dir}/%n-%p_ed25519\n  IdentitiesOnly yes\n  IdentityAgent /nonexistent/agent.sock\n  UserKnownHostsFile ${sshd().knownHostsPath}\n`,
    );
    const storage = await connect({ host: "tokens-host", sshConfigPath: config, root: sshd().makeRoot() });
    await storage.write("tokens.txt", "x");
  });

  it("uses a passphrase-protected key with its passphrase, and says what is wrong without it", async () => {
    const { passphraseKey } = sshd();
    const options = {
      ...baseOptions(sshd()),
      privateKeyPath: passphraseKey.privateKeyPath,
      root: sshd().makeRoot(),
    };
    const storage = await connect({ ...options, passphrase: passphraseKey.passphrase });
    await storage.write("x.txt", "ok");
    await expect(sftpStorage(options)).rejects.toMatchObject({
      code: "InvalidInput",
      message: expect.stringContaining("passphrase"),
    });
    await expect(sftpStorage({ ...options, passphrase: "wrong" })).rejects.toMatchObject({
      code: "InvalidInput",
    });
  });

  it("authenticates through ssh-agent", async () => {
    const socket = join(sshd().dir, uniqueName("agent"));
    const agent = spawnBackend("ssh-agent", "ssh-agent", ["-D", "-a", socket]);
    try {
      await waitUntil(
        async () => {
          try {
            execFileSync("ssh-add", ["-l"], {
              env: { ...process.env, SSH_AUTH_SOCK: socket },
              stdio: "pipe",
            });
            return true;
          } catch (error) {
            // Exit 1: the agent answers and holds no keys yet; 2: not reachable yet.
            return (error as { status?: number }).status === 1;
          }
        },
        { what: "ssh-agent" },
      );
      execFileSync("ssh-add", [sshd().privateKeyPath], {
        env: { ...process.env, SSH_AUTH_SOCK: socket },
        stdio: "pipe",
      });
      const { privateKeyPath: _unused, ...withoutKey } = baseOptions(sshd());
      const storage = await connect({ ...withoutKey, agent: socket, root: sshd().makeRoot() });
      await storage.write("agent.txt", "signed by the agent");
      expect(text(await storage.readBytes("agent.txt"))).toBe("signed by the agent");
      // The same agent named by the ssh config's IdentityAgent instead of an option.
      const config = join(sshd().dir, uniqueName("agent_config"));
      writeFileSync(
        config,
        `Host via-agent\n  HostName 127.0.0.1\n  Port ${sshd().port}\n  User ${sshd().user}\n  IdentityAgent ${socket}\n  UserKnownHostsFile ${sshd().knownHostsPath}\n`,
      );
      const viaConfig = await connect({ host: "via-agent", sshConfigPath: config, root: sshd().makeRoot() });
      await viaConfig.write("config-agent.txt", "x");
    } finally {
      await agent.stop();
    }
  });

  it("refuses a key the server does not accept, naming user@host", async () => {
    const stranger = await sshd().makeKey();
    const attempt = sftpStorage({ ...baseOptions(sshd()), privateKeyPath: stranger.privateKeyPath });
    await expect(attempt).rejects.toMatchObject({
      code: "PermissionDenied",
      message: expect.stringContaining(`authentication failed for ${sshd().user}@127.0.0.1`),
    });
  });

  it("checks host keys strictly by default: an unknown host is refused, naming known_hosts", async () => {
    const empty = knownHostsWith("");
    await expect(sftpStorage({ ...baseOptions(sshd()), knownHosts: empty })).rejects.toMatchObject({
      code: "PermissionDenied",
      message: expect.stringMatching(new RegExp(`\\[127\\.0\\.0\\.1\\]:${sshd().port} is not in ${empty}`)),
    });
  });

  it("refuses a changed host key as a mismatch, also under accept-new", async () => {
    const impostor = await sshd().makeKey();
    const impostorKey = impostor.publicKey.split(" ").slice(0, 2).join(" ");
    const wrong = knownHostsWith(`[127.0.0.1]:${sshd().port} ${impostorKey}\n`);
    for (const hostKeyCheck of ["strict", "accept-new"] as const) {
      await expect(
        sftpStorage({ ...baseOptions(sshd()), knownHosts: wrong, hostKeyCheck }),
      ).rejects.toMatchObject({
        code: "PermissionDenied",
        message: expect.stringContaining(`HOST KEY MISMATCH for [127.0.0.1]:${sshd().port}`),
      });
    }
    expect(readFileSync(wrong, "utf8")).toBe(`[127.0.0.1]:${sshd().port} ${impostorKey}\n`);
  });

  it("hostKeyCheck off connects whatever the host key; accept-new records an unknown one", async () => {
    const impostor = await sshd().makeKey();
    const wrong = knownHostsWith(`[127.0.0.1]:${sshd().port} ${impostor.publicKey}\n`);
    const off = await connect({
      ...baseOptions(sshd()),
      knownHosts: wrong,
      hostKeyCheck: "off",
      root: sshd().makeRoot(),
    });
    await off.write("x.txt", "x");
    const fresh = knownHostsWith("");
    await connect({
      ...baseOptions(sshd()),
      knownHosts: fresh,
      hostKeyCheck: "accept-new",
      root: sshd().makeRoot(),
    });
    expect(readFileSync(fresh, "utf8")).toBe(`[127.0.0.1]:${sshd().port} ${sshd().hostPublicKey}\n`);
    // Recorded, so a strict connection now succeeds.
    await connect({
      ...baseOptions(sshd()),
      knownHosts: fresh,
      hostKeyCheck: "strict",
      root: sshd().makeRoot(),
    });
  });

  it("matches hashed known_hosts entries (ssh-keygen -H)", async () => {
    const hashed = knownHostsWith(readFileSync(sshd().knownHostsPath, "utf8"));
    execFileSync("ssh-keygen", ["-H", "-f", hashed], { stdio: "pipe" });
    expect(readFileSync(hashed, "utf8")).toMatch(/^\|1\|/);
    const storage = await connect({ ...baseOptions(sshd()), knownHosts: hashed, root: sshd().makeRoot() });
    await storage.write("x.txt", "x");
  });

  it("an unknown host name is NotFound and a closed port is Transient, each naming host and port", async () => {
    await expect(
      sftpStorage({ ...baseOptions(sshd()), host: "no-such-host.invalid", port: 2222 }),
    ).rejects.toMatchObject({
      code: "NotFound",
      message: expect.stringContaining("unknown host no-such-host.invalid"),
    });
    const closed = await freePort();
    await expect(sftpStorage({ ...baseOptions(sshd()), port: closed })).rejects.toMatchObject({
      code: "Transient",
      message: expect.stringContaining(`connection refused by 127.0.0.1:${closed}`),
    });
  });
});

describe("resolving a target without a server", () => {
  it("dials a bracketed IPv6 address without brackets and records it as OpenSSH does", () => {
    const target = resolveTarget(
      { host: "[::1]", port: 2222, user: "me" },
      { sshConfigPath: "/nonexistent" },
    );
    expect(target).toMatchObject({ host: "::1", port: 2222, username: "me", hostKeyCheck: "strict" });
    expect(hostPattern(target.host, target.port)).toBe("[::1]:2222");
    expect(hostPattern("example.org", 22)).toBe("example.org");
  });
});
