import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { chunkBytes, collectBytes, forEachConcurrent, PartRecycler } from "../src/index.ts";

async function* pieces(bytes: Uint8Array, size: number): AsyncIterable<Uint8Array> {
  for (let offset = 0; offset < bytes.byteLength; offset += size) yield bytes.slice(offset, offset + size);
}

describe("chunkBytes", () => {
  it("re-chunks into parts of exactly the size asked, the last one shorter", async () => {
    const body = randomBytes(10_000);
    const parts: Uint8Array[] = [];
    for await (const part of chunkBytes(pieces(body, 777), 4096)) parts.push(part.slice());
    expect(parts.map((part) => part.byteLength)).toEqual([4096, 4096, 1808]);
    expect(Buffer.concat(parts)).toEqual(body);
  });

  it("fills handed-back buffers again instead of allocating, and keeps the bytes right", async () => {
    const body = randomBytes(64 * 1024 + 5);
    const recycler = new PartRecycler(2);
    const seen = new Set<ArrayBufferLike>();
    const copies: Buffer[] = [];
    await forEachConcurrent(chunkBytes(pieces(body, 1000), 4096, recycler), 2, async (part) => {
      seen.add(part.buffer);
      copies.push(Buffer.from(part)); // what was sent, before the buffer is handed back
      await new Promise((resolve) => setTimeout(resolve, 1));
      recycler.give(part);
    });
    expect(Buffer.concat(copies)).toEqual(body);
    // 17 parts went through at most (in flight + filling + spare) distinct buffers.
    expect(copies).toHaveLength(17);
    expect(seen.size).toBeLessThanOrEqual(4);
  });

  it("allocates fresh buffers when nothing is handed back, and never keeps a shortened part", async () => {
    const recycler = new PartRecycler(4);
    const parts: Uint8Array[] = [];
    for await (const part of chunkBytes(pieces(randomBytes(9000), 1000), 4096, recycler)) parts.push(part);
    expect(new Set(parts.map((part) => part.buffer)).size).toBe(3);
    const last = parts.at(-1)!;
    recycler.give(last);
    expect(recycler.take(4096)).toBeUndefined();
    recycler.give(parts[0]!);
    expect(recycler.take(4096)).toBe(parts[0]);
    expect(recycler.take(4096)).toBeUndefined();
  });

  it("keeps no more spare buffers than it was told to", () => {
    const recycler = new PartRecycler(1);
    const a = new Uint8Array(16);
    recycler.give(a);
    recycler.give(new Uint8Array(16));
    expect(recycler.take(16)).toBe(a);
    expect(recycler.take(16)).toBeUndefined();
    expect(recycler.take(8)).toBeUndefined();
  });

  it("collectBytes joins a stream back into one buffer", async () => {
    const body = randomBytes(3000);
    expect(Buffer.from(await collectBytes(pieces(body, 512)))).toEqual(body);
  });
});
