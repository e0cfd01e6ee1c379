import { describe, expect, it } from "vitest";
import { base64ToBytes as base64Bytes, packedStateAt as stateCode } from "../seatmap/availability";
import { countStates } from "./availability";

/** Packs codes the way the server does, for the tests. */
function pack(codes: number[]): string {
  const bytes = new Uint8Array(Math.ceil(codes.length / 4));
  codes.forEach((code, i) => {
    bytes[i >> 2]! |= code << (6 - 2 * (i & 3));
  });
  return btoa(String.fromCharCode(...bytes));
}

describe("availability decoding", () => {
  it("reads the most significant pair of a byte as the first seat", () => {
    // 0b00_01_10_11: seat 0 AVAILABLE, 1 HELD, 2 RESERVED, 3 SOLD.
    const bytes = base64Bytes(btoa(String.fromCharCode(0b00011011)));
    expect([0, 1, 2, 3].map((i) => stateCode(bytes, i))).toEqual([0, 1, 2, 3]);
  });

  it("counts every state and ignores the padding bits after the last seat", () => {
    const codes = [3, 3, 0, 1, 2, 3, 0];
    expect(countStates(pack(codes), codes.length)).toEqual({
      AVAILABLE: 2,
      HELD: 1,
      RESERVED: 1,
      SOLD: 3,
    });
  });

  it("counts an empty concert as nothing", () => {
    expect(countStates("", 0)).toEqual({ AVAILABLE: 0, HELD: 0, RESERVED: 0, SOLD: 0 });
  });

  it("refuses states shorter than the seat count", () => {
    expect(() => countStates(pack([1]), 9)).toThrow();
  });

  it("decodes 50,000 seats", () => {
    const codes = Array.from({ length: 50_000 }, (_, i) => (i % 10 === 0 ? 3 : 0));
    const packed = pack(codes.slice(0, 4)); // sanity of the helper on a short prefix
    expect(countStates(packed, 4).SOLD).toBe(1);
    const bytes = new Uint8Array(12_500);
    codes.forEach((code, i) => {
      bytes[i >> 2]! |= code << (6 - 2 * (i & 3));
    });
    let binary = "";
    for (const b of bytes) binary += String.fromCharCode(b);
    expect(countStates(btoa(binary), 50_000)).toEqual({
      AVAILABLE: 45_000,
      HELD: 0,
      RESERVED: 0,
      SOLD: 5_000,
    });
  });
});
