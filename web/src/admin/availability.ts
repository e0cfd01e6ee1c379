// Decoding of the seat availability answer (`encoding: 2bit-base64`): seat `i` sits in byte
// `i / 4`, most significant pair first; 0 AVAILABLE, 1 HELD, 2 RESERVED, 3 SOLD.
import type { Schemas } from "../lib/api/client";

export type SeatState = Schemas["SeatStatus"];

/** The states in code order: the index is the 2-bit value. */
export const SEAT_STATES: readonly SeatState[] = ["AVAILABLE", "HELD", "RESERVED", "SOLD"];

export type StateCounts = Record<SeatState, number>;

export function emptyCounts(): StateCounts {
  return { AVAILABLE: 0, HELD: 0, RESERVED: 0, SOLD: 0 };
}

/** The raw bytes of standard, padded base64 (`atob` exists in browsers and Node ≥ 16). */
export function base64Bytes(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** The 2-bit code of seat `index`. */
export function stateCode(bytes: Uint8Array, index: number): number {
  const byte = bytes[index >> 2] ?? 0;
  return (byte >> (6 - 2 * (index & 3))) & 3;
}

/** How many of the first `count` seats are in each state. */
export function countStates(states: string, count: number): StateCounts {
  const bytes = base64Bytes(states);
  if (bytes.length * 4 < count) {
    throw new Error(`availability holds ${bytes.length * 4} seats, expected ${count}`);
  }
  const tally = [0, 0, 0, 0];
  for (let i = 0; i < count; i++) tally[stateCode(bytes, i)]! += 1;
  return { AVAILABLE: tally[0]!, HELD: tally[1]!, RESERVED: tally[2]!, SOLD: tally[3]! };
}
