/**
 * Values on their way into a run log: whatever a job returns or is given must become JSON without
 * throwing and without silently turning into `{}`. What JSON has no form for is encoded (BigInt as
 * its decimal string, Map as an object or a list of [key, value] pairs, Set as a list, Date as ISO
 * text, typed arrays as lists); what cannot be encoded (a reference back to an enclosing value, a
 * function, a symbol, a getter that throws) is replaced by a marker such as "[Circular]" and named in
 * a note. Encoding never fails, so a value can never change a job's status or stop its run log from
 * being written.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface Encoded<T> {
  value: T;
  /** One line per value that could not be kept as it was. */
  notes: string[];
}

/** Deeper than this, a value is recorded as "[Too deep]" rather than risking the stack. */
const MAX_DEPTH = 200;

function childPath(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function mapKey(key: unknown): string | undefined {
  if (typeof key === "string") return key;
  if (typeof key === "number" || typeof key === "bigint" || typeof key === "boolean") return String(key);
  return undefined;
}

class Encoder {
  readonly notes: string[] = [];
  readonly #what: string;
  /** The values enclosing the one being encoded, with their paths: a cycle is a reference to one of them. */
  readonly #ancestors = new Map<object, string>();

  constructor(what: string) {
    this.#what = what;
  }

  /** Treat `value` as enclosing everything encoded from now on (the object whose members are encoded). */
  enclose(value: object, label: string): void {
    this.#ancestors.set(value, label);
  }

  #note(path: string, text: string): void {
    this.notes.push(`${this.#what} ${path} ${text}`);
  }

  encode(value: unknown, path: string, depth: number): JsonValue | undefined {
    switch (typeof value) {
      case "string":
      case "boolean":
        return value;
      case "number":
        if (Number.isFinite(value)) return value;
        this.#note(path, `is ${value}, which JSON cannot hold: recorded as "${value}"`);
        return String(value);
      case "bigint":
        return value.toString();
      case "undefined":
        return undefined;
      case "function":
        this.#note(path, `is a function: recorded as "[Function]"`);
        return "[Function]";
      case "symbol":
        this.#note(path, `is a symbol: recorded as "${String(value)}"`);
        return String(value);
    }
    if (value === null) return null;
    const object = value as object;
    const enclosing = this.#ancestors.get(object);
    if (enclosing !== undefined) {
      this.#note(path, `refers back to ${enclosing}: recorded as "[Circular]"`);
      return "[Circular]";
    }
    if (depth >= MAX_DEPTH) {
      this.#note(path, `is nested more than ${MAX_DEPTH} levels deep: recorded as "[Too deep]"`);
      return "[Too deep]";
    }
    this.#ancestors.set(object, path);
    try {
      return this.#object(object, path, depth + 1);
    } catch (error) {
      this.#note(
        path,
        `could not be read (${error instanceof Error ? error.message : String(error)}): recorded as "[Unreadable]"`,
      );
      return "[Unreadable]";
    } finally {
      this.#ancestors.delete(object);
    }
  }

  #list(items: Iterable<unknown>, path: string, depth: number): JsonValue[] {
    const out: JsonValue[] = [];
    for (const item of items) out.push(this.encode(item, childPath(path, out.length), depth) ?? null);
    return out;
  }

  #object(object: object, path: string, depth: number): JsonValue {
    if (object instanceof Date) {
      if (Number.isNaN(object.getTime())) {
        this.#note(path, `is an invalid Date: recorded as null`);
        return null;
      }
      return object.toISOString();
    }
    if (Array.isArray(object)) return this.#list(object, path, depth);
    if (ArrayBuffer.isView(object)) {
      if (object instanceof DataView)
        return this.#list(new Uint8Array(object.buffer, object.byteOffset, object.byteLength), path, depth);
      return this.#list(object as unknown as Iterable<unknown>, path, depth);
    }
    if (object instanceof ArrayBuffer) return this.#list(new Uint8Array(object), path, depth);
    if (object instanceof Set) return this.#list(object, path, depth);
    if (object instanceof Map) {
      const keys = [...object.keys()].map(mapKey);
      if (keys.every((key) => key !== undefined) && new Set(keys).size === keys.length) {
        const out: { [key: string]: JsonValue } = {};
        let index = 0;
        for (const item of object.values()) {
          const key = keys[index++]!;
          const encoded = this.encode(item, childPath(path, key), depth);
          if (encoded !== undefined) out[key] = encoded;
        }
        return out;
      }
      return this.#list(object.entries(), path, depth);
    }
    const toJSON = (object as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") {
      const replaced: unknown = toJSON.call(object, "");
      if (replaced !== object) {
        // The replacement is a value of its own; only a cycle through `object` itself would loop.
        return this.encode(replaced, path, depth) ?? null;
      }
    }
    const out: { [key: string]: JsonValue } = {};
    for (const key of Object.keys(object)) {
      const encoded = this.encode((object as Record<string, unknown>)[key], childPath(path, key), depth);
      if (encoded !== undefined) out[key] = encoded;
    }
    return out;
  }
}

/** Encode one value; `path` names it in notes (`result`, `big`), `what` says what it is (`output parameter`). */
export function encodeJson(value: unknown, path: string, what: string): Encoded<JsonValue | undefined> {
  const encoder = new Encoder(what);
  return { value: encoder.encode(value, path, 0), notes: encoder.notes };
}

/**
 * Encode each member of a record (parameters, output parameters); members that encode to nothing
 * are left out. A member referring back to the record itself is noted as referring to `label`.
 */
export function encodeRecord(
  record: Record<string, unknown>,
  what: string,
  label = "the object holding it",
): Encoded<Record<string, JsonValue>> {
  const encoder = new Encoder(what);
  encoder.enclose(record, label);
  const value: Record<string, JsonValue> = {};
  for (const [key, member] of Object.entries(record)) {
    const encoded = encoder.encode(member, key, 0);
    if (encoded !== undefined) value[key] = encoded;
  }
  return { value, notes: encoder.notes };
}
