import { describe, expect, it } from "vitest";
import { BATCH_LIMIT, batches, parseSections, planCount, planSeats, type SeatPlan } from "./seatPlan";

const plan = (over: Partial<SeatPlan> = {}): SeatPlan => ({
  sections: [
    { section: "A", grade: "VIP", price: 150000 },
    { section: "B", grade: "R", price: 120000 },
    { section: "C", grade: "S", price: 90000 },
  ],
  rowFrom: 1,
  rowTo: 20,
  numberFrom: 1,
  numberTo: 30,
  ...over,
});

describe("seat plan", () => {
  it("reads section names, dropping blanks and repeats", () => {
    expect(parseSections(" A, B,,C ,A")).toEqual(["A", "B", "C"]);
    expect(parseSections("  ")).toEqual([]);
  });

  it("counts sections × rows × numbers", () => {
    expect(planCount(plan())).toBe(3 * 20 * 30);
  });

  it("counts nothing for an empty or reversed range", () => {
    expect(planCount(plan({ rowFrom: 5, rowTo: 4 }))).toBe(0);
    expect(planCount(plan({ numberTo: Number.NaN }))).toBe(0);
    expect(planSeats(plan({ rowTo: 0 }), 1)).toEqual([]);
  });

  it("makes each seat with its section's grade and price, in natural order", () => {
    const seats = planSeats(plan(), 7);
    expect(seats).toHaveLength(1800);
    expect(seats[0]).toEqual({ concertId: 7, section: "A", row: "1", number: "1", grade: "VIP", price: 150000 });
    expect(seats[30]).toMatchObject({ section: "A", row: "2", number: "1" });
    expect(seats[1799]).toEqual({ concertId: 7, section: "C", row: "20", number: "30", grade: "S", price: 90000 });
  });

  it("sends at most 5,000 seats a batch", () => {
    const items = Array.from({ length: 12_001 }, (_, i) => i);
    const parts = batches(items);
    expect(parts.map((p) => p.length)).toEqual([BATCH_LIMIT, BATCH_LIMIT, 2_001]);
    expect(parts.flat()).toEqual(items);
    expect(batches([])).toEqual([]);
  });
});
