/**
 * Text and binary from dictionary pages, gathered into a column in WebAssembly: each row's entry
 * copied after the previous row's, and the end of each written to the column's offsets. Entries up
 * to 16 bytes (most text: labels, names, codes) move as two 8-byte words, longer ones by
 * `memory.copy`; in JavaScript the same loop cost ~50 ns a row, a byte at a time.
 */
import { assemble, heapOf, move16, type WasmMemory } from "./wasm.ts";

/** `gather(...)`: the number of bytes written. Every index is -1 or a valid entry (checked before). */
const GATHER = {
  name: "gather",
  params: [
    "$entry_offsets", // the dictionary's count + 1 offsets (int32)
    "$entry_data", // its bytes, followed by 16 bytes of room
    "$indexes", // each row's entry (int32), -1 for a null
    "$count",
    "$out_offsets", // where each row's bytes end (int32), counted from $base
    "$out", // the rows' bytes, followed by 16 bytes of room
    "$base",
  ],
  locals: ["$at", "$end", "$entry", "$from", "$length", "$position"],
  body: `
    local.get $indexes local.get $count i32.const 2 i32.shl i32.add local.set $end
    local.get $out local.set $position
    local.get $indexes local.set $at
    block loop
      local.get $at local.get $end i32.ge_u br_if 1
      local.get $at i32.load local.set $entry
      local.get $entry i32.const 0 i32.lt_s
      if ;; a null: no bytes
      else
        local.get $entry_offsets local.get $entry i32.const 2 i32.shl i32.add local.set $from
        local.get $from i32.load offset=4 local.get $from i32.load i32.sub local.set $length
        local.get $from i32.load local.get $entry_data i32.add local.set $from
        local.get $length i32.const 16 i32.gt_u
        if
          local.get $position local.get $from local.get $length memory.copy
        else
          ${move16("$position", "$from")}
        end
        local.get $position local.get $length i32.add local.set $position
      end
      local.get $out_offsets local.get $at local.get $indexes i32.sub i32.add
      local.get $base local.get $position local.get $out i32.sub i32.add
      i32.store
      local.get $at i32.const 4 i32.add local.set $at
      br 0
    end end
    local.get $position local.get $out i32.sub`,
};

interface Gatherer {
  memory: WasmMemory;
  gather: (...args: number[]) => number;
}

let gatherer: Gatherer | undefined;
/** The dictionary whose offsets and bytes are at the start of the memory now. */
let loaded: WeakRef<object> | undefined;

const align = (n: number) => Math.ceil(n / 8) * 8;

/** A dictionary of text or binary: `offsets` has one more element than there are entries. */
export interface BytesEntries {
  offsets: Int32Array;
  data: Uint8Array;
}

/**
 * Each index's entry (-1: a null, no bytes) copied into `out` from `at`, and where each ends into
 * `offsets` from `first`; the end of the bytes. `bytes` is the total the rows take (`out` holds it).
 */
export function gatherEntries(
  dictionary: BytesEntries,
  indexes: Int32Array,
  bytes: number,
  out: Uint8Array,
  at: number,
  offsets: Int32Array,
  first: number,
): number {
  gatherer ??= assemble([GATHER]) as unknown as Gatherer;
  const { offsets: entryOffsets, data: entryData } = dictionary;
  const dataAt = align(entryOffsets.byteLength);
  const indexesAt = align(dataAt + entryData.byteLength + 16);
  const outOffsetsAt = indexesAt + indexes.byteLength;
  const outAt = align(outOffsetsAt + indexes.byteLength);
  const heap = heapOf(gatherer.memory, outAt + bytes + 16);
  if (loaded?.deref() !== dictionary) {
    new Int32Array(heap.buffer, 0, entryOffsets.length).set(entryOffsets);
    heap.set(entryData, dataAt);
    loaded = new WeakRef(dictionary);
  }
  new Int32Array(heap.buffer, indexesAt, indexes.length).set(indexes);
  const written = gatherer.gather(0, dataAt, indexesAt, indexes.length, outOffsetsAt, outAt, at);
  out.set(heap.subarray(outAt, outAt + written), at);
  offsets.set(new Int32Array(heap.buffer, outOffsetsAt, indexes.length), first);
  return at + written;
}
