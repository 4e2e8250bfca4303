/** Malformed plugin options are refused up front with InvalidInput naming the option, never silently replaced. */
import { freePort } from "@ferry/test-harness";
import { describe, expect, it } from "vitest";
import { type HostKeyCheck, type SftpOptions, sftp, sftpStorage } from "../src/index.ts";

const bad: [Partial<SftpOptions>, string][] = [
  [{ concurrency: 0 }, "sftp(): concurrency must be a positive integer, got 0"],
  [{ chunkSize: -65536 }, "sftp(): chunkSize must be a positive integer, got -65536"],
  [{ chunkSize: "1MB" as unknown as number }, 'sftp(): chunkSize must be a positive integer, got "1MB"'],
  [{ maxSessionsPerHost: 2.5 }, "sftp(): maxSessionsPerHost must be a positive integer, got 2.5"],
  [{ readyTimeout: 0 }, "sftp(): readyTimeout must be a positive integer, got 0"],
  [{ port: 70000 }, "sftp(): port must be an integer from 1 to 65535, got 70000"],
  [
    { hostKeyCheck: "no" as HostKeyCheck },
    'sftp(): hostKeyCheck must be "strict", "accept-new" or "off", got "no"',
  ],
  [{ timeout: "soon" }, "sftp(): timeout"],
];

describe("sftp options", () => {
  it.each(bad)("sftp(%j) is InvalidInput naming the option", (options, message) => {
    expect(() => sftp(options)).toThrowError(
      expect.objectContaining({ code: "InvalidInput", message: expect.stringContaining(message) }),
    );
    expect(() => sftp(options)).toThrowError(
      expect.objectContaining({ message: expect.not.stringContaining("\n") }),
    );
  });

  it("sftpStorage refuses a malformed option before it connects anywhere", async () => {
    // Nothing listens on the port: a storage that tried to connect first would fail as Transient.
    const port = await freePort();
    const opening = sftpStorage({ host: "127.0.0.1", port, agent: false, concurrency: -1 });
    await expect(opening).rejects.toMatchObject({
      code: "InvalidInput",
      message: expect.stringContaining("sftp(): concurrency must be a positive integer, got -1"),
    });
  });

  it("absent options keep their defaults", () => {
    expect(() => sftp({})).not.toThrow();
    expect(() => sftp({ concurrency: 4, chunkSize: 65536, maxSessionsPerHost: 1, port: 2222 })).not.toThrow();
  });
});
