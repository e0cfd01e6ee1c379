// The live seat map (another module): draws availability from the stream and reports clicks.
export { SeatMap } from "../seatmap";
