// The organiser's counts per state, from the availability answer (`encoding: 2bit-base64`),
// decoded with the seat map's own functions.
import type { Schemas } from "../lib/api/client";
import { base64ToBytes, countStates as tally, decodeStates, SEAT_STATES } from "../seatmap/availability";

export type SeatState = Schemas["SeatStatus"];

export { SEAT_STATES };

export type StateCounts = Record<SeatState, number>;

/** How many of the first `count` seats are in each state; refuses an answer too short for them. */
export function countStates(states: string, count: number): StateCounts {
  const bytes = base64ToBytes(states).length;
  if (bytes * 4 < count) {
    throw new Error(`availability holds ${bytes * 4} seats, expected ${count}`);
  }
  const [AVAILABLE, HELD, RESERVED, SOLD] = tally(decodeStates(states, count));
  return { AVAILABLE, HELD, RESERVED, SOLD };
}
