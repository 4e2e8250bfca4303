/** What the danfo flavour's two write paths (ferry's columnar writer, polars) read danfo values by. */

/** Whether danfo holds a missing value here: null, undefined, or NaN outside a float column. */
export function isMissing(v: unknown, float: boolean): boolean {
  return v === null || v === undefined || (!float && typeof v === "number" && Number.isNaN(v));
}

export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const TWO_32 = 2 ** 32;

/**
 * A safe integer (or a Date's milliseconds) stored as row `i` of a little-endian 64-bit column viewed
 * as 32-bit words: no BigInt per value.
 */
export function storeWide(words: Uint32Array, i: number, n: number): void {
  const high = Math.floor(n / TWO_32);
  words[2 * i] = n - high * TWO_32;
  words[2 * i + 1] = high;
}
