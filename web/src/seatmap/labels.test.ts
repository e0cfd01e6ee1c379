import { describe, expect, it } from "vitest";
import { AVAILABLE, HELD, SOLD } from "./availability";
import { makeLayout } from "./fixtures";
import { describeSeat, formatPrice, gradeEntries, formatPriceRange } from "./labels";

const layout = makeLayout([
  { name: "A", rows: [12, 12, 12], grade: "VIP", price: 150_000 },
  { name: "B", rows: [2], grade: "R", price: 120_000 },
]);
const seat = 2 * 12 + 11; // A, row 3, seat 12

describe("labels", () => {
  it("formats won per language", () => {
    expect(formatPrice(150_000, "ko")).toBe("150,000원");
    expect(formatPrice(150_000, "en")).toBe("₩150,000");
  });

  it("reads a seat out", () => {
    expect(describeSeat(layout, seat, AVAILABLE, false, "ko")).toBe("A구역 3열 12번, VIP, 150,000원, 선택 가능");
    expect(describeSeat(layout, seat, AVAILABLE, false, "en")).toBe(
      "Section A, row 3, seat 12, VIP, ₩150,000, available",
    );
    expect(describeSeat(layout, seat, HELD, false, "en")).toMatch(/held by someone else$/);
    expect(describeSeat(layout, seat, HELD, true, "ko")).toMatch(/내가 선택한 좌석$/);
    expect(describeSeat(layout, seat, SOLD, false, "ko")).toMatch(/판매 완료$/);
  });

  it("lists grades dearest first with their prices", () => {
    const entries = gradeEntries(layout);
    expect(entries.map((e) => [e.grade, formatPriceRange(e, "ko")])).toEqual([
      ["VIP", "150,000원"],
      ["R", "120,000원"],
    ]);
  });
});
