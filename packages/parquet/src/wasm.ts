/**
 * WebAssembly functions written in the WebAssembly text format's flat form (`local.get $ip`,
 * `i32.add`, `if … else … end`) and assembled here when first used: the byte-level loops of a read
 * (snappy.ts, dictionary-gather.ts) run at native speed with no binary in the repository to trust.
 * Only what those functions use is understood: i32 locals, i32 and i64 loads and stores, blocks,
 * loops, branches and `memory.copy` (WebAssembly 2.0's bulk memory, in every Node ferry supports).
 * Opcodes are the core specification's binary format; `;;` starts a comment.
 */

/** The parts of the WebAssembly JS API used here (TypeScript declares it with the DOM library, which ferry does not load). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}

const { WebAssembly: wasm } = globalThis as unknown as { WebAssembly: WasmApi };

/** Instructions without immediates. */
const PLAIN: Record<string, number[]> = {
  block: [0x02, 0x40], // a block type of none: these blocks leave nothing on the stack
  loop: [0x03, 0x40],
  if: [0x04, 0x40],
  else: [0x05],
  end: [0x0b],
  return: [0x0f],
  select: [0x1b],
  "i32.eqz": [0x45],
  "i32.eq": [0x46],
  "i32.ne": [0x47],
  "i32.lt_s": [0x48],
  "i32.lt_u": [0x49],
  "i32.gt_u": [0x4b],
  "i32.ge_u": [0x4f],
  "i32.add": [0x6a],
  "i32.sub": [0x6b],
  "i32.and": [0x71],
  "i32.or": [0x72],
  "i32.shl": [0x74],
  "i32.shr_u": [0x76],
  "memory.copy": [0xfc, 0x0a, 0x00, 0x00],
};

/** Loads and stores: an optional `offset=N` follows (alignment is always 1 byte: a hint only). */
const MEMORY: Record<string, number> = {
  "i32.load": 0x28,
  "i64.load": 0x29,
  "i32.load8_u": 0x2d,
  "i32.load16_u": 0x2f,
  "i32.store": 0x36,
  "i64.store": 0x37,
};

/** Instructions taking a local's name. */
const LOCAL: Record<string, number> = { "local.get": 0x20, "local.set": 0x21, "local.tee": 0x22 };

const I32 = 0x7f;

/** Unsigned LEB128, as the binary format writes counts, sizes and indexes. */
function uleb(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

/** Signed LEB128, as `i32.const` takes its value. */
function sleb(value: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    const done = (value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

/** One exported function of i32 parameters returning an i32, with i32 locals after them. */
export interface WasmFunction {
  name: string;
  /** Parameter names, `$`-prefixed as the body writes them. */
  params: readonly string[];
  locals: readonly string[];
  /** Its instructions, leaving the result on the stack (the closing `end` is added). */
  body: string;
}

/** A function's body in the binary format. */
function encodeBody({ name, params, locals, body }: WasmFunction): number[] {
  const index = new Map([...params, ...locals].map((local, i) => [local, i]));
  const tokens = body
    .replace(/;;[^\n]*/g, "")
    .split(/\s+/)
    .filter(Boolean);
  const out: number[] = [];
  const immediate = (at: number): string => {
    const token = tokens[at];
    if (token === undefined) throw new Error(`${name}: ${tokens[at - 1]} without its operand`);
    return token;
  };
  for (let at = 0; at < tokens.length; at++) {
    const token = tokens[at]!;
    if (token in PLAIN) out.push(...PLAIN[token]!);
    else if (token in LOCAL) {
      const local = index.get(immediate(++at));
      if (local === undefined) throw new Error(`${name}: unknown local ${tokens[at]}`);
      out.push(LOCAL[token]!, ...uleb(local));
    } else if (token in MEMORY) {
      const offset = /^offset=(\d+)$/.exec(tokens[at + 1] ?? "");
      if (offset) at++;
      out.push(MEMORY[token]!, 0, ...uleb(Number(offset?.[1] ?? 0)));
    } else if (token === "i32.const") out.push(0x41, ...sleb(Number(immediate(++at))));
    else if (token === "br" || token === "br_if")
      out.push(token === "br" ? 0x0c : 0x0d, ...uleb(Number(immediate(++at))));
    else throw new Error(`${name}: unknown instruction ${token}`);
  }
  const code = [...uleb(1), ...uleb(locals.length), I32, ...out, ...PLAIN.end!];
  return [...uleb(code.length), ...code];
}

function section(id: number, contents: number[]): number[] {
  return [id, ...uleb(contents.length), ...contents];
}

function utf8Name(text: string): number[] {
  return [...uleb(text.length), ...[...text].map((c) => c.charCodeAt(0))];
}

/** A module exporting `memory` (one page to start; callers grow it) and the functions, instantiated. */
export function assemble(functions: readonly WasmFunction[]): Record<string, unknown> {
  const types = functions.flatMap((f) => [
    0x60,
    ...uleb(f.params.length),
    ...f.params.map(() => I32),
    1,
    I32,
  ]);
  const exports = functions.flatMap((f, i) => [...utf8Name(f.name), 0x00, ...uleb(i)]);
  const bytes = new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [...uleb(functions.length), ...types]),
    ...section(3, [...uleb(functions.length), ...functions.map((_, i) => i)]),
    ...section(5, [1, 0x00, 1]),
    ...section(7, [...uleb(functions.length + 1), ...utf8Name("memory"), 0x02, 0, ...exports]),
    ...section(10, [...uleb(functions.length), ...functions.flatMap(encodeBody)]),
  ]);
  return new wasm.Instance(new wasm.Module(bytes)).exports;
}

/** 16 bytes from `$from` to `$to` as two 8-byte moves in order: exact for a copy whose offset is ≥ 8. */
export const move16 = (to: string, from: string) => `
  local.get ${to} local.get ${from} i64.load i64.store
  local.get ${to} local.get ${from} i64.load offset=8 i64.store offset=8`;

const PAGE = 64 * 1024;

/** `memory` grown to hold at least `bytes`; a view of all of it. */
export function heapOf(memory: WasmMemory, bytes: number): Uint8Array {
  if (memory.buffer.byteLength < bytes) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / PAGE));
  return new Uint8Array(memory.buffer);
}
