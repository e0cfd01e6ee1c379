import { describe, expect, it } from "vitest";
import {
  applyDelta,
  AVAILABLE,
  base64ToBytes,
  buildIdIndex,
  countStates,
  decodeStates,
  encodeStates,
  HELD,
  packedStateAt,
  RESERVED,
  SEAT_STATES,
  SOLD,
  stateCode,
  stateName,
} from "./availability";

const b64 = (bytes: number[]) => Buffer.from(bytes).toString("base64");

describe("state names and codes", () => {
  it("maps names to codes and back", () => {
    expect(SEAT_STATES).toEqual(["AVAILABLE", "HELD", "RESERVED", "SOLD"]);
    expect([AVAILABLE, HELD, RESERVED, SOLD]).toEqual([0, 1, 2, 3]);
    for (const [code, name] of SEAT_STATES.entries()) {
      expect(stateCode(name)).toBe(code);
      expect(stateName(code)).toBe(name);
    }
    expect(stateCode("GONE")).toBeUndefined();
    expect(stateCode(1)).toBeUndefined();
  });
});

describe("decodeStates", () => {
  it("reads the most significant pair first", () => {
    const states = decodeStates(b64([0b01001110, 0b11000000]), 5);
    expect([...states].map(stateName)).toEqual(["HELD", "AVAILABLE", "SOLD", "RESERVED", "SOLD"]);
  });

  it("decodes every padding length", () => {
    for (let n = 0; n < 40; n++) {
      const codes = Array.from({ length: n }, (_, i) => (i * 7 + (i >> 2)) & 3);
      const text = encodeStates(codes);
      expect(text).toBe(b64([...Buffer.from(text, "base64")])); // our encoder is standard base64
      expect([...decodeStates(text, n)]).toEqual(codes);
      expect([...base64ToBytes(text)]).toEqual([...Buffer.from(text, "base64")]);
    }
  });

  it("ignores bits past the count and marks seats past the end of the data SOLD", () => {
    const text = b64([0b00011011]);
    expect([...decodeStates(text, 2)]).toEqual([AVAILABLE, HELD]);
    expect([...decodeStates(text, 6)]).toEqual([AVAILABLE, HELD, RESERVED, SOLD, SOLD, SOLD]);
    expect([...decodeStates("", 3)]).toEqual([SOLD, SOLD, SOLD]);
    const packed = base64ToBytes(text);
    expect(packedStateAt(packed, 3)).toBe(SOLD);
    expect(packedStateAt(packed, 4)).toBeUndefined();
    expect(packedStateAt(packed, -1)).toBeUndefined();
  });

  it("refuses what is not base64", () => {
    expect(() => decodeStates("AA*A", 4)).toThrow(/base64/);
  });

  it("decodes 50,000 seats", () => {
    const codes = Array.from({ length: 50_000 }, (_, i) => (i % 5) & 3);
    const states = decodeStates(encodeStates(codes), codes.length);
    expect(states.length).toBe(50_000);
    expect(states[49_999]).toBe(codes[49_999]);
    expect(countStates(states)).toEqual([20_000, 10_000, 10_000, 10_000]);
  });
});

describe("applyDelta", () => {
  const ids = [101, 102, 103, 104];
  const idIndex = buildIdIndex(ids);

  it("applies changes by seat id when the delta follows our version", () => {
    const states = new Uint8Array(4);
    const result = applyDelta(
      states,
      10,
      {
        fromVersion: 10,
        toVersion: 13,
        changes: [
          [103, "HELD"],
          [101, "SOLD"],
          [103, "AVAILABLE"],
          [104, "RESERVED"],
        ],
      },
      idIndex,
    );
    expect(result).toEqual({ kind: "applied", version: 13, changed: [2, 0, 2, 3], unknownSeats: 0 });
    expect([...states]).toEqual([SOLD, AVAILABLE, AVAILABLE, RESERVED]);
  });

  it("reports only real changes", () => {
    const states = new Uint8Array([HELD, 0, 0, 0]);
    const result = applyDelta(states, 1, { fromVersion: 1, toVersion: 2, changes: [[101, "HELD"]] }, idIndex);
    expect(result).toEqual({ kind: "applied", version: 2, changed: [], unknownSeats: 0 });
  });

  it("ignores a delta we already have and reports a gap otherwise", () => {
    const states = new Uint8Array(4);
    const change = [[101, "SOLD"]];
    expect(applyDelta(states, 10, { fromVersion: 9, toVersion: 10, changes: change }, idIndex)).toEqual({
      kind: "stale",
    });
    expect(applyDelta(states, 10, { fromVersion: 8, toVersion: 9, changes: change }, idIndex)).toEqual({
      kind: "stale",
    });
    expect(applyDelta(states, 10, { fromVersion: 11, toVersion: 12, changes: change }, idIndex)).toEqual({
      kind: "gap",
    });
    expect(applyDelta(states, 10, { fromVersion: 9, toVersion: 12, changes: change }, idIndex)).toEqual({
      kind: "gap",
    });
    expect([...states]).toEqual([0, 0, 0, 0]);
  });

  it("skips seats and states it does not know", () => {
    const states = new Uint8Array(4);
    const result = applyDelta(
      states,
      1,
      {
        fromVersion: 1,
        toVersion: 2,
        changes: [[999, "SOLD"], [102, "LOST"], ["103", "SOLD"], [104, "SOLD"], []],
      },
      idIndex,
    );
    expect(result).toEqual({ kind: "applied", version: 2, changed: [3], unknownSeats: 4 });
  });
});
