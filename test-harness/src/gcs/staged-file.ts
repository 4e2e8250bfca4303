/** Bytes on their way to becoming an object: written to disk as they arrive, hashed on the way. */
import { createHash, type Hash, randomBytes } from "node:crypto";
import { type FileHandle, open, unlink } from "node:fs/promises";
import { join } from "node:path";
import { Crc32c } from "./crc32c.ts";
import { gcsErrors } from "./errors.ts";

/** What a finished write produced: a file and the hashes of its bytes. */
export interface WrittenData {
  file: string;
  size: number;
  md5Hash?: string | undefined;
  crc32c: string;
  componentCount?: number | undefined;
}

/** Hashes a client asked the server to verify (x-goog-hash or md5Hash/crc32c in the resource). */
export interface ExpectedHashes {
  md5Hash?: string | undefined;
  crc32c?: string | undefined;
}

/** A file being written: bytes go to disk as they arrive while MD5 and CRC32C are computed. */
export class StagedFile {
  readonly path: string;
  readonly #handle: FileHandle;
  readonly #md5: Hash = createHash("md5");
  readonly #crc = new Crc32c();
  #size = 0;

  private constructor(path: string, handle: FileHandle) {
    this.path = path;
    this.#handle = handle;
  }

  static async create(dir: string): Promise<StagedFile> {
    const path = join(dir, randomBytes(12).toString("hex"));
    return new StagedFile(path, await open(path, "wx"));
  }

  get size(): number {
    return this.#size;
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (bytes.length === 0) return;
    await this.#handle.write(bytes);
    this.#md5.update(bytes);
    this.#crc.update(bytes);
    this.#size += bytes.length;
  }

  /** Close the file and report its hashes, checking any the client supplied. */
  async finish(expected: ExpectedHashes = {}, options: { md5?: boolean } = {}): Promise<WrittenData> {
    await this.#handle.close();
    const md5Hash = this.#md5.digest("base64");
    const crc32c = this.#crc.base64();
    try {
      if (expected.md5Hash !== undefined && expected.md5Hash !== md5Hash)
        throw gcsErrors.hashMismatch("MD5", expected.md5Hash, md5Hash);
      if (expected.crc32c !== undefined && expected.crc32c !== crc32c)
        throw gcsErrors.hashMismatch("CRC32C", expected.crc32c, crc32c);
    } catch (error) {
      await unlink(this.path).catch(() => {});
      throw error;
    }
    return { file: this.path, size: this.#size, crc32c, ...(options.md5 === false ? {} : { md5Hash }) };
  }

  async discard(): Promise<void> {
    await this.#handle.close().catch(() => {});
    await unlink(this.path).catch(() => {});
  }
}

/** Parse `x-goog-hash: crc32c=…,md5=…` (one header or several joined with ", "). */
export function parseGoogHash(header: string | string[] | undefined): ExpectedHashes {
  const expected: ExpectedHashes = {};
  const values = Array.isArray(header) ? header : header === undefined ? [] : [header];
  for (const part of values.flatMap((value) => value.split(","))) {
    const at = part.indexOf("=");
    if (at < 0) continue;
    const key = part.slice(0, at).trim().toLowerCase();
    const value = part.slice(at + 1).trim();
    if (key === "md5") expected.md5Hash = value;
    else if (key === "crc32c") expected.crc32c = value;
  }
  return expected;
}

/** Hashes given in a client-supplied resource (`md5Hash`, `crc32c`), merged over the header's. */
export function expectedFromResource(
  resource: Record<string, unknown>,
  header: ExpectedHashes = {},
): ExpectedHashes {
  const expected = { ...header };
  if (typeof resource.md5Hash === "string") expected.md5Hash = resource.md5Hash;
  if (typeof resource.crc32c === "string") expected.crc32c = resource.crc32c;
  return expected;
}
