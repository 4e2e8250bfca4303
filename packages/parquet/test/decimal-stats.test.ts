/**
 * Decimal statistics' bytes as filter keys: each physical type's encoding, widths that cannot be a
 * value, and agreement with the key a filter's literal gets for the same number.
 */
import { t } from "@ferry/plugin-kit";
import type { SchemaElement } from "hyparquet";
import { describe, expect, it } from "vitest";
import { decimalBound } from "../src/decimal-stats.ts";
import { compileFilter, type Leaf } from "../src/filter.ts";

const element = (type: SchemaElement["type"], type_length?: number): SchemaElement => ({
  name: "d",
  type,
  ...(type_length ? { type_length } : {}),
  converted_type: "DECIMAL",
  scale: 4,
  precision: 38,
});

/** The key the filter gives the literal `text` on a decimal(38, 4) column. */
function literalKey(text: string): unknown {
  const schema = { fields: [t.field("d", t.decimal(38, 4))] };
  return (compileFilter(["d", "=", text], schema).root as Leaf & { value: unknown }).value;
}

function littleEndian(width: 4 | 8, value: bigint): Uint8Array {
  const bytes = new Uint8Array(width);
  const view = new DataView(bytes.buffer);
  if (width === 4) view.setInt32(0, Number(value), true);
  else view.setBigInt64(0, value, true);
  return bytes;
}

function bigEndian(width: number, value: bigint): Uint8Array {
  const bytes = new Uint8Array(width);
  let rest = BigInt.asUintN(width * 8, value);
  for (let i = width - 1; i >= 0; i--) {
    bytes[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return bytes;
}

describe("decimalBound", () => {
  it("keys each physical type's bytes as the filter keys the same number's text", () => {
    expect(decimalBound(littleEndian(4, -1234567n), element("INT32"))).toBe(literalKey("-123.4567"));
    expect(decimalBound(littleEndian(8, 9_007_199_254_740_993n), element("INT64"))).toBe(
      literalKey("900719925474.0993"),
    );
    const big = -123_456_789_012_345_678_901_234_567_890_123n;
    expect(decimalBound(bigEndian(16, big), element("FIXED_LEN_BYTE_ARRAY", 16))).toBe(
      literalKey("-12345678901234567890123456789.0123"),
    );
    // BYTE_ARRAY holds as few bytes as the value needs: 0xff is -1, 0x00ff is 255.
    expect(decimalBound(Uint8Array.of(0xff), element("BYTE_ARRAY"))).toBe(literalKey("-0.0001"));
    expect(decimalBound(Uint8Array.of(0x00, 0xff), element("BYTE_ARRAY"))).toBe(literalKey("0.0255"));
    expect(decimalBound(bigEndian(14, big), element("BYTE_ARRAY"))).toBe(
      literalKey("-12345678901234567890123456789.0123"),
    );
  });

  it("gives no bound for bytes that cannot be such a value, or for INT96", () => {
    expect(decimalBound(new Uint8Array(3), element("INT32"))).toBeUndefined();
    expect(decimalBound(new Uint8Array(4), element("INT64"))).toBeUndefined();
    expect(decimalBound(new Uint8Array(15), element("FIXED_LEN_BYTE_ARRAY", 16))).toBeUndefined();
    expect(decimalBound(new Uint8Array(0), element("BYTE_ARRAY"))).toBeUndefined();
    expect(decimalBound(new Uint8Array(12), element("INT96"))).toBeUndefined();
    expect(decimalBound(1.5, element("INT32"))).toBeUndefined();
  });
});
