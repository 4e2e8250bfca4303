/** `bytes` in chunks of `size`, throwing once `failAfter` bytes have been yielded (a source that dies mid-upload). */
export async function* chunks(
  bytes: Uint8Array,
  size: number,
  failAfter?: number,
): AsyncIterable<Uint8Array> {
  for (let offset = 0; offset < bytes.byteLength; offset += size) {
    if (failAfter !== undefined && offset >= failAfter) throw new Error("source broke mid-stream");
    yield bytes.subarray(offset, offset + size);
  }
}
