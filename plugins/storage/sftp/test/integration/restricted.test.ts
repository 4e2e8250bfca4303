import { createHash, randomBytes } from "node:crypto";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createStorage } from "@ferry/core";
import { type SshdBackend, startSshd } from "@ferry/test-harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SftpDriver } from "../../src/index.ts";
import { freshStorage, skipReason } from "../helpers.ts";

const md5 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("hex");

function useServer(options: Parameters<typeof startSshd>[0]): () => SshdBackend {
  let sshd: SshdBackend | undefined;
  beforeAll(async () => {
    sshd = await startSshd(options);
  });
  afterAll(async () => {
    await sshd?.stop();
  });
  return () => sshd!;
}

describe.skipIf(skipReason !== undefined)("an sftp-only account (no shell)", () => {
  const sshd = useServer({ sftpOnly: true });

  it("declares no exec, checksum or md5, and says Unsupported when asked", async () => {
    const { storage } = await freshStorage(sshd());
    try {
      expect(storage.capabilities).toMatchObject({ exec: false, checksum: false, hashes: [] });
      await storage.write("a.txt", "a");
      await expect(storage.exec("true")).rejects.toMatchObject({ code: "Unsupported" });
      await expect(storage.checksum("a.txt", "md5")).rejects.toMatchObject({ code: "Unsupported" });
    } finally {
      await storage.close();
    }
  });

  it("still copies on the server through the copy-data extension, moving no file bytes through the client", async () => {
    const { storage } = await freshStorage(sshd());
    try {
      expect((storage.driver as SftpDriver).features).toMatchObject({ exec: false, copyData: true });
      expect(storage.capabilities.copy).toBe("native");
      const data = randomBytes(1024 * 1024);
      await storage.write("src.bin", data);
      const pool = (storage.driver as SftpDriver).pool;
      const before = pool.stats();
      await storage.copy("src.bin", "copy/dst.bin");
      const after = pool.stats();
      expect(after.bytesRead - before.bytesRead).toBeLessThan(32 * 1024);
      expect(md5(await storage.readBytes("copy/dst.bin"))).toBe(md5(data));
    } finally {
      await storage.close();
    }
  });

  it("declares copy emulated, and streams it through the client, when there is neither a shell nor copy-data", async () => {
    const { storage } = await freshStorage(sshd());
    // The same host as a server without the extension (older OpenSSH, other servers) would present it.
    const driver = storage.driver as SftpDriver;
    driver.pool.retain();
    const plain = createStorage(
      new SftpDriver({
        pool: driver.pool,
        base: driver.base,
        root: driver.root,
        features: { ...driver.features, copyData: false },
        options: {},
      }),
    );
    try {
      expect(plain.capabilities.copy).toBe("emulated");
      const data = randomBytes(200 * 1024);
      await plain.write("src.bin", data);
      const before = driver.pool.stats();
      await plain.copy("src.bin", "dst.bin");
      expect(driver.pool.stats().bytesRead - before.bytesRead).toBeGreaterThan(data.byteLength);
      expect(md5(await plain.readBytes("dst.bin"))).toBe(md5(data));
    } finally {
      await plain.close();
      await storage.close();
    }
  });

  it("removes directory trees over SFTP alone", async () => {
    const { storage, root } = await freshStorage(sshd());
    try {
      await storage.write("tree/a/b/c.txt", "c");
      await storage.write("tree/a/d.txt", "d");
      await storage.write("other.txt", "o");
      await storage.deleteDirectory("tree");
      expect(readdirSync(root)).toEqual(["other.txt"]);
      await storage.deleteDirectory("");
      expect(readdirSync(root)).toEqual([]);
    } finally {
      await storage.close();
    }
  });
});

describe.skipIf(skipReason !== undefined)("a read-only SFTP server", () => {
  const sshd = useServer({ readOnly: true });

  it("refuses changes with PermissionDenied naming the path, leaving nothing behind, and still reads", async () => {
    const { storage, root } = await freshStorage(sshd());
    try {
      writeFileSync(join(root, "existing.txt"), "already here");
      for (const attempt of [
        () => storage.write("new.txt", "x"),
        () => storage.mkdir("dir"),
        () => storage.delete("existing.txt"),
        () => storage.move("existing.txt", "moved.txt"),
      ]) {
        await expect(attempt()).rejects.toMatchObject({
          code: "PermissionDenied",
          message: expect.stringContaining(root),
        });
      }
      expect(readdirSync(root)).toEqual(["existing.txt"]);
      expect(new TextDecoder().decode(await storage.readBytes("existing.txt"))).toBe("already here");
    } finally {
      await storage.close();
    }
  });
});
