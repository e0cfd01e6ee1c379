import { describe, expect, it } from "vitest";
import { earliestExpiry, totalPrice, type Hold } from "./holds";

const hold = (id: number, price: number, expiresAt: string) => ({ id, price, expiresAt }) as Hold;

describe("held seats", () => {
  it("add up prices without float drift", () => {
    expect(totalPrice([hold(1, 0.1, ""), hold(2, 0.2, "")])).toBe(0.3);
    expect(totalPrice([hold(1, 99000, ""), hold(2, 154000, "")])).toBe(253000);
    expect(totalPrice([])).toBe(0);
  });

  it("end when the earliest hold ends", () => {
    const early = "2026-12-01T10:00:00+09:00";
    expect(earliestExpiry([hold(1, 1, "2026-12-01T10:05:00+09:00"), hold(2, 1, early)])).toBe(Date.parse(early));
    expect(earliestExpiry([])).toBeNull();
  });
});
