// Seat states as the server sends them: 2 bits a seat, base64, in layout order (seat `i` in byte
// `i / 4`, most significant pair first), and deltas `[[seatId, "HELD"], …]` between versions.
// Pure functions; the live store (`store.ts`) and the map use them.
import type { Schemas } from "../lib/api/client";

/** State names by code: 0 AVAILABLE, 1 HELD, 2 RESERVED, 3 SOLD. */
export const SEAT_STATES = ["AVAILABLE", "HELD", "RESERVED", "SOLD"] as const;
export type SeatStateName = (typeof SEAT_STATES)[number];

export const AVAILABLE = 0;
export const HELD = 1;
export const RESERVED = 2;
export const SOLD = 3;
export type SeatStateCode = 0 | 1 | 2 | 3;

export type AvailabilityDelta = Schemas["AvailabilityDelta"];
export type SeatAvailability = Schemas["SeatAvailability"];

/** The code of a state name, or `undefined` for a name the server does not send. */
export function stateCode(name: unknown): SeatStateCode | undefined {
  const i = SEAT_STATES.indexOf(name as SeatStateName);
  return i < 0 ? undefined : (i as SeatStateCode);
}

/** The name of a state code (codes are 2 bits; anything else is masked). */
export function stateName(code: number): SeatStateName {
  return SEAT_STATES[code & 3] as SeatStateName;
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_VALUE = (() => {
  const table = new Int16Array(128).fill(-1);
  for (let i = 0; i < B64.length; i++) table[B64.charCodeAt(i)] = i;
  return table;
})();

/** The bytes of standard, padded base64 (blanks ignored). Throws on any other character. */
export function base64ToBytes(text: string): Uint8Array {
  let end = text.length;
  while (end > 0 && (text[end - 1] === "=" || text[end - 1] === "\n" || text[end - 1] === " ")) end--;
  const out = new Uint8Array(Math.floor((end * 6) / 8));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13 || c === 32) continue;
    const v = c < 128 ? (B64_VALUE[c] ?? -1) : -1;
    if (v < 0) throw new Error(`not base64 at ${i}`);
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return o === out.length ? out : out.subarray(0, o);
}

/** The state code of seat `i` in packed 2-bit bytes; `undefined` past the end of the bytes. */
export function packedStateAt(packed: Uint8Array, i: number): SeatStateCode | undefined {
  const byte = packed[i >> 2];
  if (byte === undefined || i < 0) return undefined;
  return ((byte >> (6 - 2 * (i & 3))) & 3) as SeatStateCode;
}

/**
 * One state code per seat (`count` seats) from the base64 of 2 bits a seat. Bits past `count` in
 * the last byte are ignored; seats past the end of the data (an answer shorter than `count`)
 * come out SOLD, so they can never be picked.
 */
export function decodeStates(states: string, count: number): Uint8Array {
  const packed = base64ToBytes(states);
  const out = new Uint8Array(count);
  const whole = Math.min(count >> 2, packed.length);
  let i = 0;
  for (let b = 0; b < whole; b++) {
    const byte = packed[b] as number;
    out[i] = byte >> 6;
    out[i + 1] = (byte >> 4) & 3;
    out[i + 2] = (byte >> 2) & 3;
    out[i + 3] = byte & 3;
    i += 4;
  }
  for (; i < count; i++) out[i] = packedStateAt(packed, i) ?? SOLD;
  return out;
}

/** Packs state codes back into 2 bits a seat and base64 (the server's encoding; used by tests). */
export function encodeStates(codes: ArrayLike<number>): string {
  const packed = new Uint8Array(Math.ceil(codes.length / 4));
  for (let i = 0; i < codes.length; i++) {
    packed[i >> 2]! |= ((codes[i] ?? 0) & 3) << (6 - 2 * (i & 3));
  }
  let out = "";
  for (let i = 0; i < packed.length; i += 3) {
    const a = packed[i] as number;
    const b = packed[i + 1];
    const c = packed[i + 2];
    const n = (a << 16) | ((b ?? 0) << 8) | (c ?? 0);
    out += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]!;
    out += b === undefined ? "=" : B64[(n >> 6) & 63]!;
    out += c === undefined ? "=" : B64[n & 63]!;
  }
  return out;
}

/** Seat id → index in layout order. */
export function buildIdIndex(ids: readonly number[]): Map<number, number> {
  const map = new Map<number, number>();
  for (let i = 0; i < ids.length; i++) map.set(ids[i] as number, i);
  return map;
}

export type DeltaResult =
  /** Applied: the new version and the indices whose state changed (in order, maybe repeated). */
  | { kind: "applied"; version: number; changed: number[]; unknownSeats: number }
  /** Already contained in the states we have (`toVersion` ≤ our version): nothing to do. */
  | { kind: "stale" }
  /** Does not follow our version (`fromVersion` ≠ ours): fetch the availability again. */
  | { kind: "gap" };

/**
 * Applies a delta to `states` (in place) when it follows `version` exactly. Changes name seats
 * by id (`idIndex` maps them to layout indices); a seat the layout does not know, or a state the
 * client does not know, is counted in `unknownSeats` and skipped (the layout is probably stale).
 */
export function applyDelta(
  states: Uint8Array,
  version: number,
  delta: AvailabilityDelta,
  idIndex: ReadonlyMap<number, number>,
): DeltaResult {
  if (delta.toVersion <= version) return { kind: "stale" };
  if (delta.fromVersion !== version) return { kind: "gap" };
  const changed: number[] = [];
  let unknownSeats = 0;
  for (const change of delta.changes) {
    const id = change[0];
    const code = stateCode(change[1]);
    const index = typeof id === "number" ? idIndex.get(id) : undefined;
    if (index === undefined || code === undefined || index >= states.length) {
      unknownSeats++;
      continue;
    }
    if (states[index] !== code) {
      states[index] = code;
      changed.push(index);
    }
  }
  return { kind: "applied", version: delta.toVersion, changed, unknownSeats };
}

/** Seats per state code: `[available, held, reserved, sold]`. */
export function countStates(states: Uint8Array): [number, number, number, number] {
  const counts = new Uint32Array(4);
  for (let i = 0; i < states.length; i++) counts[(states[i] as number) & 3]! += 1;
  return [counts[0]!, counts[1]!, counts[2]!, counts[3]!];
}
