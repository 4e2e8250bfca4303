import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { md5Of, md5OfHandover, md5Stream } from "../src/index.ts";

const md5 = (bytes: Uint8Array, encoding: "hex" | "base64" = "hex") =>
  createHash("md5").update(bytes).digest(encoding);

describe("md5Of", () => {
  it("hashes small and large inputs, in hex or base64, leaving the caller's bytes as they were", async () => {
    for (const size of [0, 1000, 300 * 1024, 9 * 1024 * 1024]) {
      const bytes = randomBytes(size);
      const copy = Buffer.from(bytes);
      expect(await md5Of(bytes)).toBe(md5(bytes));
      expect(await md5Of(bytes, "base64")).toBe(md5(bytes, "base64"));
      expect(bytes.byteLength).toBe(size);
      expect(bytes.equals(copy)).toBe(true);
    }
  });

  it("hashes a view of a larger buffer by its own bytes only", async () => {
    const whole = randomBytes(4 * 1024 * 1024);
    const view = whole.subarray(1000, 1000 + 3 * 1024 * 1024);
    expect(await md5Of(view)).toBe(md5(view));
  });
});

describe("md5OfHandover", () => {
  it("hashes a part without copying it: the same memory comes back with its MD5", async () => {
    const part = new Uint8Array(8 * 1024 * 1024).map((_, index) => index % 253);
    const expected = md5(part, "base64");
    const copy = Buffer.from(part);
    const { digest, bytes } = await md5OfHandover(part, "base64");
    expect(digest).toBe(expected);
    expect(Buffer.from(bytes).equals(copy)).toBe(true);
    expect(bytes.byteLength).toBe(copy.byteLength);
  });

  it("keeps small inputs and views of shared buffers on this thread, leaving them usable", async () => {
    const shared = randomBytes(4 * 1024 * 1024);
    const view = shared.subarray(0, 1024 * 1024);
    const small = randomBytes(1000);
    for (const bytes of [view, small]) {
      const result = await md5OfHandover(bytes);
      expect(result.digest).toBe(md5(bytes));
      expect(result.bytes).toBe(bytes);
    }
    expect(shared.byteLength).toBe(4 * 1024 * 1024);
  });
});

describe("md5Stream", () => {
  it("gives the MD5 of everything fed to it, whatever the chunk sizes, on either thread", async () => {
    const body = randomBytes(7 * 1024 * 1024 + 123);
    for (const expected of [undefined, 1000, body.byteLength]) {
      for (const sizes of [[64 * 1024], [3 * 1024 * 1024, 17], [999_999, 1024 * 1024, 5]]) {
        const stream = md5Stream(expected);
        let offset = 0;
        for (let index = 0; offset < body.byteLength; index += 1) {
          const size = sizes[index % sizes.length]!;
          const chunk = body.subarray(offset, offset + size);
          const before = Buffer.from(chunk);
          stream.update(chunk);
          expect(chunk.equals(before)).toBe(true); // the caller's bytes stay usable
          offset += size;
        }
        expect(await stream.digest()).toBe(md5(body));
      }
    }
  });

  it("keeps streams apart, digests an empty one, and forgets a dropped one", async () => {
    const a = randomBytes(5 * 1024 * 1024);
    const b = randomBytes(6 * 1024 * 1024);
    const first = md5Stream(a.byteLength);
    const second = md5Stream(b.byteLength);
    const dropped = md5Stream(a.byteLength);
    for (let offset = 0; offset < b.byteLength; offset += 512 * 1024) {
      first.update(a.subarray(offset, offset + 512 * 1024));
      dropped.update(a.subarray(offset, offset + 512 * 1024));
      second.update(b.subarray(offset, offset + 512 * 1024));
    }
    dropped.drop();
    const [one, two] = await Promise.all([first.digest("base64"), second.digest()]);
    expect(one).toBe(md5(a, "base64"));
    expect(two).toBe(md5(b));
    expect(await md5Stream(10 * 1024 * 1024).digest()).toBe(md5(new Uint8Array(0)));
  });

  it("does not keep a process alive once its hashes are done", () => {
    const source = fileURLToPath(new URL("../src/md5.ts", import.meta.url));
    const script = `const { md5Of } = await import(${JSON.stringify(source)});
process.stdout.write(await md5Of(new Uint8Array(8 * 1024 * 1024)));`;
    const output = execFileSync(
      process.execPath,
      ["--conditions=@ferry/source", "--input-type=module", "-e", script],
      {
        encoding: "utf8",
        timeout: 20_000,
      },
    );
    expect(output).toBe(md5(new Uint8Array(8 * 1024 * 1024)));
  });
});
