/**
 * Row filters: what `fetch/stream/count({ filter })` and the CLI's `--where` take. A filter is checked
 * against the table's schema once (every column named must exist, every value must fit its column)
 * and compiled into negation normal form, so the same tree answers two questions: which rows of
 * decoded columns match (`matchingRows`), and whether a part or row group whose value ranges are known
 * could hold any matching row at all (`mayMatch`: partition directories, row-group statistics).
 *
 * Semantics are SQL's: a comparison with a null is unknown, and only rows where the filter is true are
 * kept (`x != 3` does not keep nulls; `x is null` does). Strings compare by code point (the byte order
 * of UTF-8, as parquet statistics do), NaN compares as IEEE 754 says (never equal, never less or more).
 */

import type { ColumnBatch, Field, Schema } from "@ferry/plugin-kit";
import { errors } from "@ferry/plugin-kit";
import { describeType } from "./parquet-schema.ts";
import { takeValues } from "./take.ts";

export type FilterValue = string | number | bigint | boolean | Date | null;
export type FilterComparison = "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=";

/**
 * `["year", ">=", 2020]`, `["split", "in", ["train", "test"]]`, `["label", "is not null"]`,
 * `{ and: [...] }`, `{ or: [...] }`, `{ not: ... }`, a list of filters (all must hold), or the same
 * as text: `"year >= 2020 and split in ('train', 'test')"`.
 */
export type Filter =
  | string
  | readonly [column: string, op: FilterComparison, value: FilterValue]
  | readonly [column: string, op: "in" | "not in", values: readonly FilterValue[]]
  | readonly [column: string, op: "is null" | "is not null"]
  | { readonly and: readonly Filter[] }
  | { readonly or: readonly Filter[] }
  | { readonly not: Filter }
  | readonly Filter[];

/** A value in the order its column sorts by: numbers, bigints, strings or booleans. */
export type Key = number | bigint | string | boolean;

type Op = "=" | "!=" | "<" | "<=" | ">" | ">=";

/** A comparison after negations were pushed down; `nan` is its result for a NaN value. */
export type Leaf =
  | { kind: "cmp"; column: string; op: Op; value: Key; nan: boolean }
  | { kind: "in"; column: string; values: Key[]; negated: boolean; nan: boolean }
  | { kind: "null"; column: string; negated: boolean };

export type FilterNode = Leaf | { kind: "and"; items: FilterNode[] } | { kind: "or"; items: FilterNode[] };

export interface CompiledFilter {
  root: FilterNode;
  /** The columns the filter reads, in the table's order. */
  columns: string[];
  /** A column's value → its key (null for null); the decoded JS values of ferry's types. */
  keyOf: ReadonlyMap<string, (value: unknown) => Key | null>;
  /** Columns whose values may be NaN. */
  floats: ReadonlySet<string>;
}

/** What is known about a column's values in a part or row group. */
export interface Range {
  min?: Key | undefined;
  max?: Key | undefined;
  nulls: "none" | "some" | "all" | "unknown";
}

const NEGATED: Record<Op, Op> = { "=": "!=", "!=": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<" };

class FilterError extends Error {}

function fail(message: string): never {
  throw new FilterError(message);
}

/** `label` names the option the filter came in (`filter`, `--where`), for the error message. */
export function compileFilter(filter: Filter, schema: Schema, label = "filter"): CompiledFilter {
  const keyOf = new Map<string, (value: unknown) => Key | null>();
  const floats = new Set<string>();
  try {
    const tree = typeof filter === "string" ? parseFilter(filter, exactColumns(schema)) : filter;
    const root = compileNode(tree, false, { schema, keyOf, floats });
    const columns = schema.fields.map((f) => f.name).filter((name) => keyOf.has(name));
    return { root, columns, keyOf, floats };
  } catch (error) {
    if (error instanceof FilterError) throw errors.invalidInput(`${label}: ${error.message}`);
    throw error;
  }
}

interface Context {
  schema: Schema;
  keyOf: Map<string, (value: unknown) => Key | null>;
  floats: Set<string>;
}

function compileNode(filter: Filter, negate: boolean, context: Context): FilterNode {
  if (typeof filter === "string")
    return compileNode(parseFilter(filter, exactColumns(context.schema)), negate, context);
  if (Array.isArray(filter)) {
    if (typeof filter[0] === "string") return compileLeaf(filter as readonly unknown[], negate, context);
    const items = (filter as readonly Filter[]).map((item) => compileNode(item, negate, context));
    return negate ? { kind: "or", items } : { kind: "and", items };
  }
  if (filter === null || typeof filter !== "object")
    fail(`expected a condition such as ["column", ">", 1], got ${JSON.stringify(filter)}`);
  const keys = Object.keys(filter);
  if (keys.length !== 1 || !["and", "or", "not"].includes(keys[0]!))
    fail(`an object condition has exactly one of the keys and, or, not (got ${keys.join(", ") || "none"})`);
  if ("not" in filter) return compileNode(filter.not, !negate, context);
  const list = "and" in filter ? filter.and : (filter as { or: readonly Filter[] }).or;
  if (!Array.isArray(list)) fail(`${keys[0]} takes a list of conditions`);
  const isAnd = "and" in filter;
  const items = list.map((item) => compileNode(item, negate, context));
  // De Morgan: not (a and b) = not a or not b, exactly, in three-valued logic too.
  return isAnd !== negate ? { kind: "and", items } : { kind: "or", items };
}

function compileLeaf(tuple: readonly unknown[], negate: boolean, context: Context): Leaf {
  const [column, rawOp, value] = tuple as [string, string, unknown];
  const field = context.schema.fields.find((f) => f.name === column);
  if (!field)
    fail(
      `column ${JSON.stringify(column)} is not in the table (columns: ${context.schema.fields.map((f) => f.name).join(", ")})`,
    );
  const op = typeof rawOp === "string" ? rawOp.toLowerCase().replace(/\s+/g, " ") : rawOp;
  if (op === "is null" || op === "is not null") {
    if (tuple.length !== 2) fail(`${JSON.stringify(op)} takes no value (${JSON.stringify(tuple)})`);
    // Only null or not matters here: any non-null value has a key.
    context.keyOf.set(column, context.keyOf.get(column) ?? (() => true));
    return { kind: "null", column, negated: (op === "is not null") !== negate };
  }
  if (tuple.length !== 3) fail(`a condition is [column, operator, value] (${JSON.stringify(tuple)})`);
  const keyer = keyerOf(field);
  context.keyOf.set(column, keyer.row);
  if (field.type.type === "float") context.floats.add(column);
  if (op === "in" || op === "not in") {
    if (!Array.isArray(value)) fail(`${op} takes a list of values for column ${JSON.stringify(column)}`);
    const values = value.map((v) => literal(field, v, keyer.literal));
    const negated = (op === "not in") !== negate;
    return { kind: "in", column, values, negated, nan: negated };
  }
  const comparison = normalOp(op);
  if (!comparison)
    fail(
      `unknown operator ${JSON.stringify(rawOp)} (use =, !=, <, <=, >, >=, in, not in, is null, is not null)`,
    );
  const key = literal(field, value, keyer.literal);
  const final = negate ? NEGATED[comparison] : comparison;
  // IEEE 754: only != holds for NaN; negating a comparison flips what NaN gives.
  return { kind: "cmp", column, op: final, value: key, nan: (comparison === "!=") !== negate };
}

function normalOp(op: unknown): Op | undefined {
  if (op === "==" || op === "=") return "=";
  if (op === "<>" || op === "!=") return "!=";
  if (op === "<" || op === "<=" || op === ">" || op === ">=") return op;
  return undefined;
}

function literal(field: Field, value: unknown, convert: (value: unknown) => Key | undefined): Key {
  if (value === null || value === undefined)
    fail(
      `a comparison with null is never true: use ["${field.name}", "is null"] (or "${field.name} is null")`,
    );
  if (typeof value === "number" && Number.isNaN(value))
    fail(`column ${JSON.stringify(field.name)}: NaN equals nothing, not even NaN`);
  const key = convert(value);
  if (key === undefined)
    fail(
      `column ${JSON.stringify(field.name)} is ${describeType(field.type)}; ${preview(value)} is not a value of that type`,
    );
  return key;
}

function preview(value: unknown): string {
  if (typeof value === "bigint") return `${value}n`;
  if (value instanceof Date) return `Date(${value.toISOString?.() ?? "invalid"})`;
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return "a list";
  return String(value);
}

interface Keyer {
  /** A decoded value → key. */
  row: (value: unknown) => Key | null;
  /** A filter literal → key, undefined when it is not of the column's type. */
  literal: (value: unknown) => Key | undefined;
}

const timeOf = (v: unknown): Key | null => (v instanceof Date ? v.getTime() : (v as Key | null));
const same = (v: unknown): Key | null => (v === undefined ? null : (v as Key | null));

function keyerOf(field: Field): Keyer {
  const type = field.type;
  switch (type.type) {
    case "int":
      return type.bits === 64
        ? { row: same, literal: integerLiteral }
        : { row: same, literal: numberLiteral };
    case "float":
      return { row: same, literal: numberLiteral };
    case "string":
      return { row: same, literal: (v) => (typeof v === "string" ? v : undefined) };
    case "bool":
      return { row: same, literal: (v) => (typeof v === "boolean" ? v : undefined) };
    case "date":
      return { row: timeOf, literal: msOf };
    case "timestamp":
      if (type.unit === "s" || type.unit === "ms") return { row: timeOf, literal: msOf };
      return { row: same, literal: (v) => countOf(v, type.unit === "us" ? 1000n : 1_000_000n) };
    case "time":
      return type.unit === "ms"
        ? { row: same, literal: numberLiteral }
        : { row: same, literal: integerLiteral };
    case "duration":
      return { row: same, literal: integerLiteral };
    case "decimal":
      return decimalKeyer(type.scale);
    default:
      return fail(
        `column ${JSON.stringify(field.name)} is ${describeType(type)}: it can only be tested with is null / is not null`,
      );
  }
}

function numberLiteral(value: unknown): Key | undefined {
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  return undefined;
}

/** A 64-bit column: bigints, and numbers (a fraction compares exactly against bigints in JS). */
function integerLiteral(value: unknown): Key | undefined {
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && Number.isFinite(value))
    return Number.isInteger(value) ? BigInt(value) : value;
  return undefined;
}

/**
 * A Date, or ISO 8601 text ('2024-05-01', '2024-05-01T12:00:00Z'; without a zone it is UTC, as ferry
 * reads timestamps), as milliseconds since the epoch.
 */
function msOf(value: unknown): Key | undefined {
  let ms: number | undefined;
  if (value instanceof Date) ms = value.getTime();
  else if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}/.test(value)) {
    const zoned = /^\d{4}-\d{2}-\d{2}$/.test(value) || /([zZ]|[+-]\d{2}:?\d{2})$/.test(value);
    ms = Date.parse(zoned ? value : `${value}Z`);
  }
  return ms === undefined || Number.isNaN(ms) ? undefined : ms;
}

/** A timestamp in µs or ns: a bigint count, a Date, or ISO text with up to nine fraction digits. */
function countOf(value: unknown, perMs: bigint): Key | undefined {
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
  const ms = msOf(value);
  if (ms === undefined) return undefined;
  let count = BigInt(Math.floor(ms as number)) * perMs;
  if (typeof value === "string") {
    const fraction = /\.(\d{4,9})/.exec(value)?.[1];
    if (fraction) {
      const digits = perMs === 1000n ? 6 : 9;
      const extra = fraction.padEnd(9, "0").slice(3, digits);
      count += BigInt(extra || "0");
    }
  }
  return count;
}

/** Fraction digits a decimal literal may have beyond its column's scale and still compare exactly. */
const DECIMAL_EXTRA_DIGITS = 9;

/**
 * The key of a decimal whose unscaled value (value × 10^scale, as parquet stores it) is `unscaled`:
 * the same key `decimalKeyer` gives its text, whatever the scale.
 */
export function decimalKey(unscaled: bigint): bigint {
  return unscaled * 10n ** BigInt(DECIMAL_EXTRA_DIGITS);
}

/**
 * Decimals arrive as text with exactly `scale` digits after the point; they compare as bigints of
 * their value × 10^(scale + 9), so a literal with up to nine more fraction digits compares exactly.
 */
function decimalKeyer(scale: number): Keyer {
  const digits = scale + DECIMAL_EXTRA_DIGITS;
  const scaled = (text: string): bigint | undefined => {
    const match = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(text.trim());
    if (!match || (match[2] === "" && !match[3])) return undefined;
    const fraction = match[3] ?? "";
    if (fraction.length > digits) return undefined;
    const magnitude = BigInt((match[2] || "0") + fraction.padEnd(digits, "0"));
    return match[1] === "-" ? -magnitude : magnitude;
  };
  return {
    row: (v) => (v === null || v === undefined ? null : (scaled(String(v)) ?? null)),
    literal: (v) => {
      if (typeof v === "bigint") return scaled(v.toString());
      if (typeof v === "number" && Number.isFinite(v))
        return scaled(String(v).includes("e") ? v.toFixed(digits) : String(v));
      if (typeof v === "string") return scaled(v);
      return undefined;
    },
  };
}

/** Code point order (UTF-8 byte order), not UTF-16's: surrogate pairs sort above U+E000–U+FFFF. */
export function compareKeys(a: Key, b: Key): number {
  if (typeof a === "string" && typeof b === "string") {
    if (a === b) return 0;
    const length = Math.min(a.length, b.length);
    let i = 0;
    while (i < length && a.charCodeAt(i) === b.charCodeAt(i)) i++;
    if (i === length) return a.length - b.length;
    return codeUnitRank(a.charCodeAt(i)) - codeUnitRank(b.charCodeAt(i));
  }
  if (typeof a === "boolean" || typeof b === "boolean") return Number(a) - Number(b);
  return a < b ? -1 : a > b ? 1 : 0;
}

function codeUnitRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

function compares(op: Op, order: number): boolean {
  switch (op) {
    case "=":
      return order === 0;
    case "!=":
      return order !== 0;
    case "<":
      return order < 0;
    case "<=":
      return order <= 0;
    case ">":
      return order > 0;
    default:
      return order >= 0;
  }
}

const isNaNKey = (key: Key): boolean => typeof key === "number" && Number.isNaN(key);

/** 1 true, 0 false, -1 unknown (a null) for each of `rows` rows. */
type Truth = Int8Array;

function evaluate(node: FilterNode, keysOf: (column: string) => (Key | null)[], rows: number): Truth {
  if (node.kind === "and" || node.kind === "or") {
    const out = new Int8Array(rows).fill(node.kind === "and" ? 1 : 0);
    for (const item of node.items) {
      const truth = evaluate(item, keysOf, rows);
      for (let i = 0; i < rows; i++) {
        const a = out[i]!;
        const b = truth[i]!;
        // Kleene logic: and takes the least (false < unknown < true), or the most.
        out[i] =
          node.kind === "and"
            ? a === 0 || b === 0
              ? 0
              : a === -1 || b === -1
                ? -1
                : 1
            : a === 1 || b === 1
              ? 1
              : a === -1 || b === -1
                ? -1
                : 0;
      }
    }
    return out;
  }
  const keys = keysOf(node.column);
  const out = new Int8Array(rows);
  for (let i = 0; i < rows; i++) out[i] = leafTruth(node, keys[i] ?? null);
  return out;
}

function leafTruth(leaf: Leaf, key: Key | null): 1 | 0 | -1 {
  if (leaf.kind === "null") return (key === null) !== leaf.negated ? 1 : 0;
  if (key === null) return -1;
  if (isNaNKey(key)) return leaf.nan ? 1 : 0;
  if (leaf.kind === "cmp") return compares(leaf.op, compareKeys(key, leaf.value)) ? 1 : 0;
  const found = leaf.values.some((value) => compareKeys(key, value) === 0);
  return found !== leaf.negated ? 1 : 0;
}

/**
 * Indexes of the rows where the filter is true. `valuesOf(column)` gives a column's decoded values
 * (ferry's JS values); each column is read once.
 */
export function matchingRows(
  filter: CompiledFilter,
  valuesOf: (column: string) => readonly unknown[],
  rows: number,
): Uint32Array {
  const cache = new Map<string, (Key | null)[]>();
  const keysOf = (column: string): (Key | null)[] => {
    let keys = cache.get(column);
    if (!keys) {
      const toKey = filter.keyOf.get(column)!;
      const values = valuesOf(column);
      keys = new Array<Key | null>(rows);
      for (let i = 0; i < rows; i++) {
        const value = values[i];
        keys[i] = value === null || value === undefined ? null : toKey(value);
      }
      cache.set(column, keys);
    }
    return keys;
  };
  const truth = evaluate(filter.root, keysOf, rows);
  let count = 0;
  for (let i = 0; i < rows; i++) if (truth[i] === 1) count++;
  const out = new Uint32Array(count);
  for (let i = 0, j = 0; i < rows; i++) if (truth[i] === 1) out[j++] = i;
  return out;
}

/** The rows of a batch the filter keeps (text sources: CSV, JSON lines). */
export function filterBatch(batch: ColumnBatch, filter: CompiledFilter): ColumnBatch {
  const kept = matchingRows(filter, (name) => batch.columns[name]!, batch.numRows);
  if (kept.length === batch.numRows) return batch;
  const columns = Object.fromEntries(
    Object.entries(batch.columns).map(([name, values]) => [name, takeValues(values, kept)]),
  );
  return { schema: batch.schema, columns, numRows: kept.length };
}

/**
 * False only when no row with values in these ranges can make the filter true. `rangeOf` returns
 * undefined for a column nothing is known about; `excluded` may rule out a leaf outright (a bloom
 * filter that holds none of its values).
 */
export function mayMatch(
  filter: CompiledFilter,
  rangeOf: (column: string) => Range | undefined,
  excluded?: (leaf: Leaf) => boolean,
): boolean {
  const visit = (node: FilterNode): boolean => {
    if (node.kind === "and") return node.items.every(visit);
    if (node.kind === "or") return node.items.some(visit);
    if (excluded?.(node)) return false;
    const range = rangeOf(node.column);
    return range === undefined || leafMayMatch(node, range, filter.floats.has(node.column));
  };
  return visit(filter.root);
}

function leafMayMatch(leaf: Leaf, range: Range, float: boolean): boolean {
  if (leaf.kind === "null") {
    if (leaf.negated) return range.nulls !== "all";
    return range.nulls !== "none";
  }
  if (range.nulls === "all") return false;
  // Statistics leave NaN out: a leaf that NaN makes true could match in any float chunk.
  if (float && leaf.nan) return true;
  const { min, max } = range;
  if (min === undefined || max === undefined || isNaNKey(min) || isNaNKey(max)) return true;
  const within = (value: Key) => compareKeys(min, value) <= 0 && compareKeys(value, max) <= 0;
  const single = compareKeys(min, max) === 0;
  if (leaf.kind === "in") {
    if (!leaf.negated) return leaf.values.some(within);
    return !(single && leaf.values.some((value) => compareKeys(value, min) === 0));
  }
  switch (leaf.op) {
    case "=":
      return within(leaf.value);
    case "!=":
      return !(single && compareKeys(min, leaf.value) === 0);
    case "<":
      return compareKeys(min, leaf.value) < 0;
    case "<=":
      return compareKeys(min, leaf.value) <= 0;
    case ">":
      return compareKeys(max, leaf.value) > 0;
    default:
      return compareKeys(max, leaf.value) >= 0;
  }
}

/** The key of one value of a column (a partition directory's value), null for null. */
export function keyOfValue(filter: CompiledFilter, column: string, value: unknown): Key | null {
  if (value === null || value === undefined) return null;
  return filter.keyOf.get(column)?.(value) ?? null;
}

/** The range of a column known to hold one value everywhere (a partition column). */
export function exactRange(key: Key | null): Range {
  return key === null ? { nulls: "all" } : { min: key, max: key, nulls: "none" };
}

// ─── the text form ─────────────────────────────────────────────────────────────────────────────────

type Token =
  | { kind: "word"; text: string; at: number }
  | { kind: "name"; text: string; at: number }
  | { kind: "string"; text: string; at: number }
  | { kind: "number"; value: number | bigint; text: string; at: number }
  | { kind: "op"; text: string; at: number }
  | { kind: "end"; at: number };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const at = i;
    if (c === "'" || c === '"' || c === "`") {
      // 'text' is a value; "name" and `name` are column names. A quote is doubled inside: 'it''s'.
      let out = "";
      i++;
      for (;;) {
        if (i >= text.length) fail(`unterminated ${c} starting at position ${at + 1}`);
        if (text[i] === c) {
          if (text[i + 1] === c) {
            out += c;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        out += text[i++];
      }
      tokens.push(c === "'" ? { kind: "string", text: out, at } : { kind: "name", text: out, at });
      continue;
    }
    const number = /^[+-]?(\d+\.?\d*(e[+-]?\d+)?|\.\d+(e[+-]?\d+)?)/i.exec(text.slice(i));
    const previous = tokens.at(-1);
    const signAllowed = !previous || previous.kind === "op" || previous.kind === "word";
    if (number && (/\d|\./.test(c) || signAllowed)) {
      const raw = number[0];
      const whole = /^[+-]?\d+$/.test(raw);
      const value = whole && !Number.isSafeInteger(Number(raw)) ? BigInt(raw) : Number(raw);
      tokens.push({ kind: "number", value, text: raw, at });
      i += raw.length;
      continue;
    }
    const op = /^(<=|>=|<>|!=|==|=|<|>|\(|\)|,)/.exec(text.slice(i));
    if (op) {
      tokens.push({ kind: "op", text: op[0], at });
      i += op[0].length;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_.$]*/.exec(text.slice(i));
    if (!word) fail(`unexpected ${JSON.stringify(c)} at position ${at + 1}`);
    tokens.push({ kind: "word", text: word[0], at });
    i += word[0].length;
  }
  tokens.push({ kind: "end", at: text.length });
  return tokens;
}

/**
 * `a >= 1 and (b = 'x' or c in (1, 2)) and not d is null`: SQL's WHERE, for one table. A number
 * compared with a column of `exact` stays the text it was written as (a decimal keeps every digit;
 * as a JS number it would keep 15 to 17).
 */
export function parseFilter(text: string, exact: ReadonlySet<string> = new Set()): Filter {
  if (text.trim() === "") fail("empty condition");
  return new Parser(tokenize(text), exact).parse();
}

/** The columns whose number literals are read exactly from their text: decimals. */
function exactColumns(schema: Schema): Set<string> {
  return new Set(schema.fields.filter((f) => f.type.type === "decimal").map((f) => f.name));
}

/** Recursive descent over the tokens: or → and → condition. */
class Parser {
  readonly #tokens: Token[];
  readonly #exact: ReadonlySet<string>;
  #position = 0;

  constructor(tokens: Token[], exact: ReadonlySet<string>) {
    this.#tokens = tokens;
    this.#exact = exact;
  }

  parse(): Filter {
    const result = this.#or();
    if (this.#peek().kind !== "end") this.#expected("and, or or the end");
    return result;
  }

  #peek(): Token {
    return this.#tokens[this.#position]!;
  }

  #next(): Token {
    return this.#tokens[this.#position++]!;
  }

  #isWord(word: string, token = this.#peek()): boolean {
    return token.kind === "word" && token.text.toLowerCase() === word;
  }

  #isOp(op: string, token = this.#peek()): boolean {
    return token.kind === "op" && token.text === op;
  }

  #expected(what: string): never {
    const token = this.#peek();
    const found =
      token.kind === "end" ? "the end" : `${JSON.stringify(token.text)} at position ${token.at + 1}`;
    return fail(`expected ${what}, found ${found}`);
  }

  /** Consumes `op` or fails naming what was expected. */
  #take(op: string, what: string): void {
    if (!this.#isOp(op)) this.#expected(what);
    this.#position++;
  }

  #or(): Filter {
    const items = [this.#and()];
    while (this.#isWord("or")) {
      this.#position++;
      items.push(this.#and());
    }
    return items.length === 1 ? items[0]! : { or: items };
  }

  #and(): Filter {
    const items = [this.#condition()];
    while (this.#isWord("and")) {
      this.#position++;
      items.push(this.#condition());
    }
    return items.length === 1 ? items[0]! : { and: items };
  }

  #condition(): Filter {
    if (this.#isWord("not")) {
      this.#position++;
      return { not: this.#condition() };
    }
    if (this.#isOp("(")) {
      this.#position++;
      const inner = this.#or();
      this.#take(")", '")"');
      return inner;
    }
    const token = this.#peek();
    if (token.kind !== "word" && token.kind !== "name") this.#expected("a column name");
    this.#position++;
    const column = (token as { text: string }).text;
    if (this.#isWord("is")) return this.#isNull(column);
    const negated = this.#isWord("not");
    if (negated) {
      this.#position++;
      if (!this.#isWord("in")) this.#expected("in after not");
    }
    if (this.#isWord("in")) return this.#in(column, negated);
    const op = this.#peek();
    if (op.kind !== "op" || !normalOp(op.text))
      this.#expected(`an operator after ${JSON.stringify(column)} (=, !=, <, <=, >, >=, in, is null)`);
    this.#position++;
    return [column, (op as { text: string }).text as FilterComparison, this.#value(column)];
  }

  #isNull(column: string): Filter {
    this.#position++;
    const negated = this.#isWord("not");
    if (negated) this.#position++;
    if (!this.#isWord("null")) this.#expected("null after is");
    this.#position++;
    return [column, negated ? "is not null" : "is null"];
  }

  #in(column: string, negated: boolean): Filter {
    this.#position++;
    this.#take("(", '"(" after in');
    const values: FilterValue[] = [this.#value(column)];
    while (this.#isOp(",")) {
      this.#position++;
      values.push(this.#value(column));
    }
    this.#take(")", '"," or ")"');
    return [column, negated ? "not in" : "in", values];
  }

  #value(column: string): FilterValue {
    const token = this.#next();
    if (token.kind === "string") return token.text;
    if (token.kind === "number")
      return this.#exact.has(column) && !/e/i.test(token.text) ? token.text : token.value;
    if (token.kind === "name")
      fail(
        `${JSON.stringify(token.text)} in double quotes is a column name; write text in single quotes: '${token.text}'`,
      );
    if (token.kind === "word") {
      const word = token.text.toLowerCase();
      if (word === "true") return true;
      if (word === "false") return false;
      if (word === "null") return null;
    }
    this.#position--;
    return this.#expected("a value ('text', a number, true or false)");
  }
}

/** The filter's columns that are not among `fields`: read for the filter, dropped from the result. */
export function extraColumns(
  filter: CompiledFilter | undefined,
  fields: readonly Field[],
  schema: Schema,
): Field[] {
  if (!filter) return [];
  return filter.columns
    .filter((name) => !fields.some((f) => f.name === name))
    .map((name) => schema.fields.find((f) => f.name === name)!);
}
