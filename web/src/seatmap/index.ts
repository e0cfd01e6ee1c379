// The live seat map of a concert.
export { SeatMap, type SeatMapProps } from "./SeatMap";
export { useSeatAvailability, useSeatData, useSeatStore } from "./useSeatAvailability";
export {
  applyDelta,
  buildIdIndex,
  countStates,
  decodeStates,
  SEAT_STATES,
  stateCode,
  stateName,
  AVAILABLE,
  HELD,
  RESERVED,
  SOLD,
  type SeatStateName,
} from "./availability";
export { describeSeat, formatPrice } from "./labels";
export { SeatStore, type SeatData } from "./store";
export type { SeatLayout } from "./geometry";
