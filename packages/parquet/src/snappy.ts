/**
 * Snappy decompression in WebAssembly, written below in the text format and assembled by wasm.ts (no
 * binary is shipped). hysnappy, which ferry used before, copies with a byte loop (its wasm has no bulk
 * memory) and returned a fresh copy of every page; this decoder copies with `memory.copy`, moves short
 * literals and matches 8 bytes at a time, and writes into a buffer the caller may reuse.
 *
 * The format (github.com/google/snappy, format_description.txt): a varint of the uncompressed length,
 * then elements. A literal's tag holds its length minus one (or, at 60–63, that 1–4 bytes hold it); a
 * copy's tag holds its length and a 1-, 2- or 4-byte offset back into what was already written.
 * Every read and write is checked against the input's and the output's bounds: a corrupt page ends in
 * one of the errors below, never in bytes outside either.
 */

import { assemble, heapOf, move16, type WasmMemory } from "./wasm.ts";

/** What the decoder returns: 0 when the output holds exactly the length the header and caller agree on. */
const FAILURES: Record<number, string> = {
  1: "its length header is not the page's uncompressed size",
  2: "it ends inside an element",
  3: "it decompresses to more than its uncompressed size",
  4: "a copy reaches before the start of the output",
  5: "it decompresses to less than its uncompressed size",
};

/** Returns `code` when the condition on the stack holds. */
const failIf = (code: number) => `if i32.const ${code} return end`;

/** Fewer than `count` bytes lie between `$from` and `$end`: pushes that condition. */
const fewerThan = (end: string, from: string, count: string) =>
  `local.get ${end} local.get ${from} i32.sub ${count} i32.lt_u`;

/** A literal: its length from the tag, or from the 1–4 bytes after it (tags 60–63), then its bytes. */
const LITERAL = `
  local.get $tag i32.const 2 i32.shr_u local.set $length
  local.get $length i32.const 60 i32.ge_u
  if
    local.get $length i32.const 59 i32.sub local.set $scratch ;; how many length bytes follow
    ${fewerThan("$ip_end", "$ip", "local.get $scratch")} ${failIf(2)}
    i32.const 0 local.set $length
    i32.const 0 local.set $byte
    loop
      local.get $length
      local.get $ip local.get $byte i32.add i32.load8_u
      local.get $byte i32.const 3 i32.shl i32.shl i32.or local.set $length
      local.get $byte i32.const 1 i32.add local.set $byte
      local.get $byte local.get $scratch i32.lt_u br_if 0
    end
    local.get $ip local.get $scratch i32.add local.set $ip
  end
  local.get $length i32.const 1 i32.add local.set $length
  ${fewerThan("$ip_end", "$ip", "local.get $length")} ${failIf(2)}
  ${fewerThan("$op_end", "$op", "local.get $length")} ${failIf(3)}
  ;; Up to 16 bytes with room on both sides: two 8-byte moves (what follows overwrites the excess).
  local.get $length i32.const 16 i32.gt_u
  ${fewerThan("$ip_end", "$ip", "i32.const 16")} i32.or
  ${fewerThan("$op_end", "$op", "i32.const 16")} i32.or
  if
    local.get $op local.get $ip local.get $length memory.copy
  else
    ${move16("$op", "$ip")}
  end
  local.get $op local.get $length i32.add local.set $op
  local.get $ip local.get $length i32.add local.set $ip`;

/** A copy: length and offset from the tag and the 1, 2 or 4 bytes after it, then the bytes it repeats. */
const COPY = `
  local.get $tag i32.const 3 i32.and local.set $scratch
  local.get $scratch i32.const 1 i32.eq
  if
    local.get $ip local.get $ip_end i32.ge_u ${failIf(2)}
    local.get $tag i32.const 2 i32.shr_u i32.const 7 i32.and i32.const 4 i32.add local.set $length
    local.get $tag i32.const 5 i32.shr_u i32.const 8 i32.shl
    local.get $ip i32.load8_u i32.or local.set $offset
    local.get $ip i32.const 1 i32.add local.set $ip
  else
    local.get $tag i32.const 2 i32.shr_u i32.const 1 i32.add local.set $length
    local.get $scratch i32.const 2 i32.eq
    if
      ${fewerThan("$ip_end", "$ip", "i32.const 2")} ${failIf(2)}
      local.get $ip i32.load16_u local.set $offset
      local.get $ip i32.const 2 i32.add local.set $ip
    else
      ${fewerThan("$ip_end", "$ip", "i32.const 4")} ${failIf(2)}
      local.get $ip i32.load local.set $offset
      local.get $ip i32.const 4 i32.add local.set $ip
    end
  end
  local.get $offset i32.eqz
  local.get $offset local.get $op local.get $output i32.sub i32.gt_u i32.or ${failIf(4)}
  ${fewerThan("$op_end", "$op", "local.get $length")} ${failIf(3)}
  local.get $op local.get $offset i32.sub local.set $byte ;; where the repeated bytes start
  ;; Offset ≥ 8, length ≤ 16, room for 16: two 8-byte moves. Else offset ≥ length: one bulk copy.
  ;; Else the bytes overlap: copied in runs of the offset, doubled each time (the output repeats).
  local.get $offset i32.const 8 i32.lt_u
  local.get $length i32.const 16 i32.gt_u i32.or
  ${fewerThan("$op_end", "$op", "i32.const 16")} i32.or
  if
    local.get $offset local.get $length i32.ge_u
    if
      local.get $op local.get $byte local.get $length memory.copy
      local.get $op local.get $length i32.add local.set $op
    else
      loop
        local.get $offset local.get $length local.get $offset local.get $length i32.lt_u select
        local.set $scratch ;; the shorter of the two
        local.get $op local.get $op local.get $offset i32.sub local.get $scratch memory.copy
        local.get $op local.get $scratch i32.add local.set $op
        local.get $length local.get $scratch i32.sub local.set $length
        local.get $offset i32.const 1 i32.shl local.set $offset
        local.get $length br_if 0
      end
    end
  else
    ${move16("$op", "$byte")}
    local.get $op local.get $length i32.add local.set $op
  end`;

const DECOMPRESS = {
  name: "decompress",
  params: ["$input", "$input_length", "$output", "$output_length"],
  locals: ["$ip", "$ip_end", "$op", "$op_end", "$tag", "$length", "$offset", "$scratch", "$byte"],
  body: `
    local.get $input local.set $ip
    local.get $input local.get $input_length i32.add local.set $ip_end
    local.get $output local.set $op
    local.get $output local.get $output_length i32.add local.set $op_end

    ;; The uncompressed length: a varint of at most 32 bits, equal to the caller's.
    block loop
      local.get $ip local.get $ip_end i32.ge_u ${failIf(1)}
      local.get $ip i32.load8_u local.set $byte
      local.get $ip i32.const 1 i32.add local.set $ip
      local.get $scratch i32.const 28 i32.gt_u ${failIf(1)}
      ;; the fifth byte may add only 4 bits
      local.get $scratch i32.const 28 i32.eq
      local.get $byte i32.const 0x70 i32.and i32.const 0 i32.ne i32.and ${failIf(1)}
      local.get $length local.get $byte i32.const 0x7f i32.and local.get $scratch i32.shl i32.or local.set $length
      local.get $scratch i32.const 7 i32.add local.set $scratch
      local.get $byte i32.const 0x80 i32.and br_if 0
    end end
    local.get $length local.get $output_length i32.ne ${failIf(1)}

    block loop
      local.get $ip local.get $ip_end i32.ge_u br_if 1
      local.get $ip i32.load8_u local.set $tag
      local.get $ip i32.const 1 i32.add local.set $ip
      local.get $tag i32.const 3 i32.and i32.eqz
      if
        ${LITERAL}
      else
        ${COPY}
      end
      br 0
    end end
    local.get $op local.get $op_end i32.ne ${failIf(5)}
    i32.const 0`,
};

interface Decoder {
  memory: WasmMemory;
  decompress: (input: number, inputLength: number, output: number, outputLength: number) => number;
}

let decoder: Decoder | undefined;

/** The error a page that is not valid snappy ends in. */
export class SnappyError extends Error {}

/**
 * `input` decompressed to exactly `outputLength` bytes: into `target` when it is large enough (the
 * result is then its first `outputLength` bytes), else into a new array.
 */
export function snappyDecompress(input: Uint8Array, outputLength: number, target?: Uint8Array): Uint8Array {
  decoder ??= assemble([DECOMPRESS]) as unknown as Decoder;
  const { memory, decompress } = decoder;
  const outputAt = Math.ceil(input.byteLength / 8) * 8;
  const heap = heapOf(memory, outputAt + outputLength);
  heap.set(input, 0);
  const result = decompress(0, input.byteLength, outputAt, outputLength);
  if (result !== 0) throw new SnappyError(`not a valid snappy page: ${FAILURES[result] ?? `code ${result}`}`);
  const out =
    target && target.byteLength >= outputLength
      ? target.subarray(0, outputLength)
      : new Uint8Array(outputLength);
  out.set(heap.subarray(outputAt, outputAt + outputLength));
  return out;
}
