/** The row-group buffer pool: buffers come back for reuse, bounded in number and size. */
import { describe, expect, it } from "vitest";
import { BufferPool } from "../src/buffer-pool.ts";

describe("BufferPool", () => {
  it("hands a buffer given back to the next take that fits, as a view of the asked size", () => {
    const pool = new BufferPool(2, 64 * 1024 * 1024);
    const first = pool.take(3_000_000);
    expect(first.byteLength).toBe(3_000_000);
    pool.give(first);
    const second = pool.take(2_500_000);
    expect(second.buffer).toBe(first.buffer);
    expect(second.byteLength).toBe(2_500_000);
    // Taken: no longer in the pool, so the next take allocates.
    expect(pool.take(2_500_000).buffer).not.toBe(first.buffer);
  });

  it("takes the smallest buffer that fits, and allocates when none does", () => {
    const pool = new BufferPool(4, 64 * 1024 * 1024);
    const small = pool.take(1_000_000);
    const big = pool.take(5_000_000);
    pool.give(big);
    pool.give(small);
    expect(pool.take(900_000).buffer).toBe(small.buffer);
    expect(pool.take(6_000_000).buffer).not.toBe(big.buffer);
  });

  it("keeps at most maxBuffers (the biggest) and none above maxBytes", () => {
    const pool = new BufferPool(2, 8 * 1024 * 1024);
    const sizes = [1, 2, 3].map((mib) => pool.take(mib * 1024 * 1024));
    for (const buffer of sizes) pool.give(buffer);
    expect(pool.heldBytes).toBe(5 * 1024 * 1024);
    pool.give(pool.take(9 * 1024 * 1024));
    expect(pool.heldBytes).toBe(5 * 1024 * 1024);
    // A buffer given twice is kept once.
    const again = pool.take(3 * 1024 * 1024);
    pool.give(again);
    pool.give(again);
    expect(pool.heldBytes).toBe(5 * 1024 * 1024);
    pool.clear();
    expect(pool.heldBytes).toBe(0);
  });
});
