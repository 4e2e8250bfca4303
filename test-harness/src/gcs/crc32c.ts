/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum GCS keeps for every object.
 * node:zlib only offers plain CRC32, and the one npm package that is well kept (fast-crc32c) needs a
 * native build, so this is the standard table-driven form: 256 entries, one lookup per byte.
 */
const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** Incremental CRC32C: `update` as bytes arrive, `base64()` gives GCS's big-endian 4-byte form. */
export class Crc32c {
  #crc = 0xffffffff;

  update(bytes: Uint8Array): this {
    let crc = this.#crc;
    for (let i = 0; i < bytes.length; i++) crc = TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
    this.#crc = crc;
    return this;
  }

  value(): number {
    return (this.#crc ^ 0xffffffff) >>> 0;
  }

  base64(): string {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(this.value());
    return out.toString("base64");
  }
}
